// Package bench holds uiodrv's end-to-end benchmarks: the ring and executor
// micro-benchmarks collected from their packages, the real-time scenario
// (a periodic SCHED_FIFO task sharing a core with interrupt-driven packet
// work, per deferral mode), and the lab measurements — lossless RX rate,
// reflect round trip, reflect throughput and guest CPU — side by side with
// the guest kernel's own e1000 driver driven through AF_PACKET.
//
// The host side lives in cmd/uiodrv-bench (make bench). The guest side is
// this package's TestGuestBench, built as a static test binary and run in the
// lab: for each NIC and mode it opens the device, serves the bench protocol
// (proto.go) and reports through the protocol's query frames, so that the
// uiodrv driver and the kernel's AF_PACKET reflector are measured by the same
// host code in the same boot.
//
// Every figure in RESULTS.md is a ratio or a comparison measured in the same
// run; absolute times are labelled with the machine they were measured on.
package bench
