// Package driver is the NIC-agnostic core of uiodrv: the contract a NIC
// family implements (NIC), the registry families join (Register), the buffer
// pool, and the Port, which runs a NIC's queues with a top half and a bottom
// half each in the chosen deferral mode and hands received frames to a
// Handler, whose verdicts (Consume, Transmit, Forward, Keep) it carries out.
// Ready-made handlers are in package handler; the front door is package
// uiodrv at the module root.
//
// # The NIC contract
//
// A family implements NIC: four operations per queue (RxBurst, Refill,
// TxBurst, Reclaim) and, per device, its description, interrupt control,
// statistics and Close. Optional capabilities are interfaces of their own
// (Resetter for the watchdog, TxBatcher for doorbell batching); the core
// uses one only when the NIC implements it, and the conformance kit
// (driver/drivertest) checks every one a NIC claims. The descriptor-ring
// bookkeeping (free and report-status thresholds, the report-status slot
// queue, doorbell batching) is the core's, shared by every family over a
// per-family descriptor codec. A family registers its models, limits and
// Open with Register from an init function; Lookup finds it by PCI ID.
//
// # Queues
//
// A Port runs a NIC (the NIC interface) with Info().Queues queues. Each
// queue has its own halves, as in the kernel: its own deferral.CPU on its
// Config.IRQCPUs entry (the top-half thread "irq-uqN", which handles the
// queue's vector, and its ksoftirqd; so its own softirq, tasklet and NAPI
// instances), its own executor there (workqueue worker, IRQ thread
// "irq/K-uqN", busy poller "poll-uqN"), its own SPSC ring, bottom-half
// scratch space, TX lock and counters (Stats.Queues). Queues share the
// buffer pool, the handler (called concurrently from the queues' bottom
// halves) and the port's events workqueue. A vector that serves no queue
// (link, the e1000e's TX vector) belongs to queue 0. When a top half finds
// the shared pool empty it marks its queue starved; any bottom half that
// frees buffers then triggers that queue's vector, so a ring that ran dry
// is refilled whichever queue returns the buffers. The trigger is the NIC's
// software-raised interrupt when it is a Triggerer, else the core's own: an
// eventfd per vector served on the vector's top-half thread (trigger.go).
//
// Config.TopHalf chooses what runs in hard-IRQ context. TopHalfCopy reads
// the cause, harvests completed descriptors into the queue's ring, refills
// the NIC and unmasks, at the top half's priority. TopHalfLight does what
// the kernel's threaded IRQs do (irq_default_primary_handler with
// IRQF_ONESHOT): it reads the cause, leaves the line masked and wakes the
// bottom half, which harvests, refills and unmasks once a poll finds less
// than its budget. DefaultTopHalf picks light wherever the bottom half
// runs on the top half's core and copy where the ring hands frames to
// another core. NAPI mode masks RX and polls under a budget, as the
// kernel's NAPI does; busy-poll mode takes no interrupts.
//
// # Buffers: who owns what
//
// Packet buffers are 2 KiB slots of one DMA pool, named by index, never Go
// heap and never holding Go pointers. A buffer belongs to exactly one of:
// the pool; the NIC, from Refill until RxBurst returns it, or from TxBurst
// until Reclaim returns it; the core, from RxBurst until the handler's
// verdict is applied; or the handler, after a Keep verdict until it gives
// the buffer back. The core never reuses a buffer it does not own. A
// Packet's Data is a view of DMA memory valid during Handle only.
//
// A ring that ran dry is always refilled: when a top half finds the pool
// empty it marks its queue starved, and once any bottom half frees buffers
// the core makes that queue refill (raising its interrupt from software
// where the NIC can, polling it otherwise).
//
// # The packet path allocates nothing
//
// RxBurst, Refill, TxBurst, Reclaim, the top halves, the bottom halves and
// the verdicts allocate nothing, log nothing and return counts, never errors
// (TestPacketPathAllocatesNothing). A handler that allocates is the only
// exception the core cannot prevent.
//
// # Accounting
//
// Every frame that enters is accounted for: Stats.RxPackets counts frames
// taken off the NIC, and each ends in exactly one of Processed (the handler
// saw it) or a drop counter by reason (ring full, NIC-flagged error, a frame
// without end-of-packet, handler panic, shutdown). A Transmit or Forward
// verdict on an empty frame or one larger than a buffer is counted
// (Stats.TxInvalid) and its buffer freed: it never reaches the device. A
// handler panic is recovered, counted and its batch's buffers freed; the
// port goes on.
//
// # Watchdog
//
// A NIC that is a Resetter gets the kernel's TX-hang watchdog: every
// Config.Watchdog (2 s) a workqueue item asks it whether it hangs (frames
// queued, link up, the TX head not moving) or was reset under the driver;
// if so it is re-initialised in place, and the port, its buffers and its
// counters go on (Stats.Resets counts it). Frames queued for TX at that
// moment are dropped. Link-status changes run as a workqueue item too,
// which may sleep.
//
// # Teardown order
//
// Port.Close masks the device's interrupts, frees the interrupt handlers,
// stops the bottom halves (frames left in the rings are dropped and counted
// as shutdown), closes the handler if it is a Closer, and only then closes
// the NIC, whose Close must stop the device before anything it can write is
// freed:
// interrupts masked, vectors released, bus mastering off, reset, and only
// then the DMA memory released. If the reset fails the DMA memory is kept,
// never unmapped or reused, and the error says so. Close is idempotent.
//
// Measurements of the top halves and modes are in bench/ANALYSIS.md, not
// here.
package driver
