// Package deferral reproduces the Linux kernel's interrupt bottom halves in
// userspace: softirqs and tasklets, workqueues, threaded IRQs and NAPI, with
// busy polling as the interrupt-free baseline and an adaptive mode between
// the two. It knows nothing about NICs: an interrupt is anything that makes
// an fd readable (a VFIO eventfd, a UIO fd, an eventfd in tests). Scheduling
// classes, memory locking and the rest of the real-time toolbox are the rt
// package's; deferral applies them to its threads.
//
// # Execution contexts
//
// A CPU (NewCPU) is a kernel CPU's interrupt machinery: a top-half thread in
// "hard-IRQ context" that waits (epoll) on the fds of the IRQs requested on
// it, runs their primary handlers, then the pending softirqs (irq_exit); and
// a ksoftirqd thread at SCHED_OTHER. Every thread of the package is started
// with rt.StartThread: a goroutine locked to an OS thread of its own for
// life, never the process's main thread, pinned to CPUOptions.CPU (-1:
// unpinned) and named as the kernel names its own (irq-N, ksoftirqd/N,
// irq/N-name, kworker/N:M). The top half runs at SCHED_FIFO
// CPUOptions.RTPrio, or at CPUOptions.Sched (e.g. the bottom half's own
// class, BottomHalfSched, so that no thread of the driver runs above the
// bottom half); a class the process may not take fails NewCPU with
// rt.ErrRTNotPermitted, never a silent fallback. IRQ threads run at
// SCHED_FIFO 50 (DefaultIRQThreadPrio) and workqueue workers at SCHED_OTHER
// (nice -20 with WQHighPri), unless ExecutorOptions.Sched gives either a
// class (a SCHED_DEADLINE thread is placed, never pinned: rt.Sched).
//
// # What each bottom half promises, and its kernel counterpart
//
//   - Softirq (kernel/softirq.c): a vector fixed in the kernel's order
//     (HI ... RCU). RaiseSoftirq sets a per-CPU pending bit; the top half
//     runs pending softirqs after the handlers, lowest number first
//     (__do_softirq), for at most 10 passes or 2 ms, then hands the rest to
//     ksoftirqd. The softirqs of one CPU never run concurrently.
//   - Tasklet (tasklet_schedule, tasklet_kill, tasklet_disable/enable): runs
//     from HI_SOFTIRQ or TASKLET_SOFTIRQ on the CPU that scheduled it, never
//     concurrently with itself; scheduling a pending tasklet is a no-op.
//   - Workqueue (kernel/workqueue.c): Work items on bound or unbound queues,
//     WQHighPri pools, max_active, ordered queues, DelayedWork, FlushWork,
//     FlushWorkqueue, CancelWorkSync. Queueing a pending item is a no-op;
//     an item never runs concurrently with itself; items may sleep.
//   - Threaded IRQ (kernel/irq/manage.c): CPU.RequestThreadedIRQ is
//     request_threaded_irq. IRQFOneshot keeps the line masked from before
//     the primary until the thread function returns; wakes during a run
//     merge into one more run; Free waits for the thread.
//   - NAPI (net/core/dev.c): NAPI.Schedule is napi_schedule; a poll gets the
//     weight as budget, and one below budget completes and calls Reenable; a
//     NET_RX round stops at 300 units or 2 ms and re-raises.
//   - Busy polling (BusyPoller): no interrupts; a pinned thread polls.
//   - Adaptive (adaptive.go): interrupts when quiet, polling under load, with
//     napi_defer_hard_irqs/gro_flush_timeout hysteresis on the clock; at
//     light load (AdaptiveQuietIRQs interrupts in a row beyond the deferral
//     window) it re-arms at the first empty poll, and polls on the top
//     half's thread when that is its CPU's (adaptive_light.go).
//
// A driver picks one by Mode (ParseMode for the command line) and builds an
// Executor around its poll(budget) function: its top half harvests the
// device and calls Executor.Schedule. ExecutorOptions.Inline runs a threaded
// or workqueue bottom half on the top half's own thread: one thread and, for
// a deadline class, one reservation. Its workqueue keeps the PENDING bit,
// non-reentrance, re-queueing after a full run and cancel_work_sync, and
// gives up the hard IRQ above the worker, concurrency management and a
// shared queue (workqueue_inline.go).
//
// # Rules for handlers
//
// Primary handlers, softirq actions, tasklets and NAPI polls run in atomic
// context: they must not sleep (block on a channel, hold a mutex long, make a
// system call that waits, time.Sleep). Workqueue items and IRQ thread
// functions may sleep. Under a deadline class the threaded and workqueue
// bottom halves give up their instance once their runtime is used
// (rt.Budget).
//
// # Real-time threads and the Go runtime's system calls
//
// Of the real-time Go threads sharing a core, at most one may make system
// calls the Go runtime knows of (syscall.Syscall, x/sys/unix's wrappers,
// os.File): a higher one inside such a call can livelock against a lower one
// leaving its own (the runtime's scan bit). The top half and the bottom-half
// threads therefore make their recurring system calls raw (sys_unsafe.go:
// epoll_wait, eventfd reads and writes, the adaptive wait), and each CPU adds
// one P to GOMAXPROCS for its top half, which holds one for good (procs.go).
// A real-time task of the application should sleep normally.
//
// A top half that has had nothing to do for IdleParkAfter parks its
// goroutine in the runtime's network poller on its epoll fd instead
// (idlepark_linux.go): a raw wait keeps the P, and the runtime's sysmon,
// taking it for a goroutine that never yields, would signal the thread every
// 10 ms, a wake-up each time on its CPU. Parked, an idle port wakes nothing;
// the first interrupt after an idle stretch reaches the top half through
// the poller (one more thread hand-off), every later one directly.
//
// # What Go cannot guarantee
//
//   - Atomic context is not enforced; with CPUOptions.CheckAtomic handlers
//     that slept are counted afterwards (CPU.AtomicSleeps).
//   - Nothing preempts a softirq, and interrupts cannot be disabled: per-CPU
//     lists are guarded by mutexes, not local_irq_save.
//   - need_resched() is invisible: softirq restarts stop only on their bounds.
//   - Workqueues cannot learn that a worker slept: a worker starts when work
//     is queued and none is idle, up to MaxWorkersPerPool per pool.
//   - Delayed work and NAPI deferral use Go timers, not hrtimers.
//   - A woken real-time thread still needs a P and can be stopped by the
//     garbage collector: see the rt package (SizeGOMAXPROCS, GCOff).
//
// Histogram is an allocation-free log-linear latency histogram; the package
// benchmarks compare each mode's wake-up latency with a channel's.
package deferral
