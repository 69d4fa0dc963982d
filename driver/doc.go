// Package driver is the NIC-agnostic core of uiodrv: the device interface a
// NIC driver implements, the top half that runs on a NIC's interrupt, the
// bottom half that runs the packet handler in the chosen deferral mode, the
// packet handlers themselves, and the statistics.
//
// # Data path
//
// The top half runs in hard-IRQ context (a deferral.CPU thread, SCHED_FIFO
// when asked) each time an interrupt vector's eventfd fires. There are two
// (Config.TopHalf, see "Top halves" below); the copying one does:
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
// # Top halves
//
// TopHalfCopy is the above: the harvest, the refill (RDT write) and the line
// unmask (a VFIO ioctl) all run at the top half's priority. TopHalfLight is
// what the kernel's threaded IRQs do (irq_default_primary_handler with
// IRQF_ONESHOT): read the cause, leave the line masked (INTx: no unmask;
// MSI-X: the RX cause masked in IMC), wake the bottom half; the bottom half
// harvests and refills the NIC itself, as NAPI's poll does, and unmasks once
// a poll finds less than its budget. With TopHalfLight every mode's bottom
// half polls the device; the SPSC ring is not used.
//
// Cost per interrupt in the top half, measured. BenchmarkTopHalf (fake
// device, this package): copy 230-260 ns with 1 frame, 340-415 ns with 32,
// 3 register accesses or unmasks (ICR read, RDT write, unmask); light 55-100
// ns, 1 access (ICR read). Each access traps to the hypervisor or crosses
// PCIe, so the accesses are the real cost. In the lab (e1000 INTx under
// VFIO, everything on vCPU 0, top half at SCHED_FIFO 90, a SCHED_FIFO 80 1 ms
// task beside it, count handler; IRQAction.HandlerTime per interrupt; medians
// of 2 runs of 5 s in one boot, TCG on a contended host, so preemptions are
// included), copy / light: at 20 kpps tasklet 119 / 33 µs, NAPI 82 / 27,
// threaded 178 / 66, workqueue 185 / 77; unpaced flood tasklet 185 / 40,
// NAPI 163 / 43, threaded 400 / 205, workqueue 412 / 286. The task's misses
// (of 4999 jobs; idle floor 325 in that boot) at 20 kpps, copy / light:
// threaded 1804 / 922, workqueue 1807 / 1242, tasklet 1986 / 2421, NAPI 984
// / 2160; under the unpaced flood every mode and both top halves starve the
// task (4874-4998). Two runs each on a noisy host: light's gain is clear
// where the harvest leaves the top half's priority (threaded, workqueue);
// for tasklet and NAPI, whose bottom half runs on the top half's thread at
// its priority either way, an earlier boot ranked them the other way round.
//
// Default (DefaultTopHalf): light wherever the bottom half runs on the top
// half's core (tasklet, softirq, NAPI; threaded and workqueue with BHCPU ==
// IRQCPU). Tasklet, softirq and NAPI bottom halves run on the top half's
// thread anyway, so the ring hop only adds work; a threaded or workqueue
// bottom half on the top half's core would otherwise see its harvest run at
// the top half's priority, ahead of a real-time task that the bottom half's
// own priority lets run. Copy for threaded and workqueue on another core: the ring
// hands the frames across, so the top half harvests and refills on its core
// while the bottom half processes on the other, and the line is not held
// masked for a whole bottom-half run on a core that may be busy. The lab
// reflect test (window 32, bottom half on vCPU 1, one sample each) measured
// copy/light: e1000 workqueue 20409/16624 frames/s, threaded 16491/21088;
// e1000e workqueue 19463/17010, threaded 19916/17648; the same-core modes
// were even or favoured light (e1000e tasklet 21933/30268, NAPI 26752/29004).
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
// Link-status changes run as a workqueue item, which may sleep: it reads the
// link state, records it and logs it.
//
// A NIC that is a Resetter gets the kernel's TX-hang watchdog: every
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
