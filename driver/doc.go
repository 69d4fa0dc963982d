// Package driver is the NIC-agnostic core of uiodrv: the device interface a
// NIC driver implements, the top half that runs on a NIC's interrupt, the
// bottom half that runs the packet handler in the chosen deferral mode, the
// packet handlers themselves, and the statistics.
//
// # Data path
//
// The top half runs in hard-IRQ context (a deferral.CPU thread, SCHED_FIFO
// when asked) each time an interrupt vector's eventfd fires:
//
//  1. AckIRQ reads the cause register (acknowledging the interrupt).
//  2. RX: the completed descriptors are copied into a lock-free SPSC ring
//     (ring.SPSC[RxDesc]); the NIC gets fresh buffers (the tail is written
//     once per batch); frames that do not fit in the ring are dropped and
//     counted (DropRingFull) and their buffers go straight back to the NIC.
//  3. The interrupt is unmasked (VFIO INTx is automasked) and the bottom half
//     scheduled through the mode's deferral.Executor.
//
// The bottom half drains the ring in batches of at most Budget frames and
// runs the Handler on each batch, then transmits what the handler marked
// and frees the rest; TX completions are reclaimed in batches there too.
//
// NAPI mode follows the kernel's own contract instead: the top half masks the
// RX interrupt and schedules a budgeted poll that harvests the NIC ring
// directly; when a poll finishes under budget the RX interrupt is re-enabled.
// Busy-poll mode takes no interrupts at all and polls the NIC ring from a
// pinned thread, like DPDK's poll mode.
//
// Link-status changes run as a workqueue item, which may sleep: it reads the
// link state, records it and logs it.
//
// A device that is a Resetter gets the kernel's TX-hang watchdog: every
// Config.Watchdog (2 s) a workqueue item asks it whether it hangs (frames
// queued, link up, the TX head not moving) or was reset under the driver;
// if so it is re-initialised in place and the port, its buffers and its
// counters go on (Stats.Resets counts it).
//
// A handler's Transmit or Forward verdict on an empty frame or one larger
// than a buffer is counted (Stats.TxInvalid) and its buffer freed: it never
// reaches the device.
//
// # Accounting
//
// Every frame that enters is accounted for: Stats.RxPackets counts frames
// taken off the NIC, and each ends in exactly one of Processed (the handler
// saw it) or a Drop counter by reason. Nothing on the packet path allocates
// or logs.
package driver
