// Package drivertest is uiodrv's conformance kit for NIC drivers: a fake
// multi-queue NIC (Fake) that implements driver.NIC in memory, the parts a
// family's fake register file is built from (RegFile, MemAllocator,
// ModelWire), and a
// conformance test (Run) that any driver.NIC runs through a Harness: the NIC,
// its buffers, and a Wire that puts frames on the NIC's receive side and
// collects what it transmits.
//
// A driver for a new NIC runs Run in its own tests against its fake register
// file (as driver/e1000 does on e1000test) and, with a Wire over the lab's
// host peer, against the emulated NIC. The checks say what the core relies
// on: every frame received once and intact, a flow's order kept on one
// queue, transmitted frames leave in order, every buffer comes back to the
// pool, the packet path allocates nothing, interrupts follow SetIRQ, and Close
// is idempotent. A NIC that claims an optional capability is held to it: a
// driver.Resetter's Reinit must really reset (a frame left in a ring is gone,
// the NIC works afterwards), a driver.TxBatcher's FlushTx must send what
// batching held back. Check lists them, each returning an error instead of failing
// a test, so the kit's own tests can show that each check catches the bug it
// is for (Fake's Bugs).
package drivertest
