// Package deferral reproduces the Linux kernel's interrupt bottom halves in
// userspace — softirqs and tasklets, workqueues, threaded IRQs and NAPI, plus
// busy polling as the interrupt-free baseline — faithfully enough that their
// trade-offs show: who runs the work, on which CPU, at what priority, with
// what guarantees. It knows nothing about NICs: an interrupt is anything that
// makes an fd readable (a VFIO eventfd, a UIO fd, an eventfd in tests).
//
// # Execution contexts
//
// A CPU (NewCPU) is a kernel CPU's interrupt machinery: a top-half thread in
// "hard-IRQ context" that waits (epoll) on the fds of the IRQs requested on
// it, runs their primary handlers, then the pending softirqs (irq_exit); and
// a ksoftirqd thread at SCHED_OTHER. Both are goroutines locked to their OS
// threads for life (runtime.LockOSThread, never unlocked, so the thread dies
// with them), pinned with sched_setaffinity to CPUOptions.CPU. The top half
// gets SCHED_FIFO CPUOptions.RTPrio through sched_setattr; when that is not
// permitted NewCPU fails with an error wrapping ErrRTNotPermitted. IRQ
// threads are SCHED_FIFO 50; workqueue workers SCHED_OTHER (nice -20 with
// WQHighPri); all threads carry kernel-like names (irq/N-name, ksoftirqd/N,
// kworker/N:M).
//
// # Mechanisms and the kernel functions they mirror
//
//   - Softirq (kernel/softirq.c): a vector fixed at compile time in the
//     kernel's order (HI ... RCU). RaiseSoftirq sets a per-CPU pending bit
//     (raise_softirq); the top half runs pending softirqs after the handlers,
//     lowest number first (__do_softirq), restarting at most 10 passes or
//     2 ms (MAX_SOFTIRQ_RESTART, MAX_SOFTIRQ_TIME), then hands the rest to
//     ksoftirqd (wakeup_softirqd). Raised outside interrupt context, a
//     softirq wakes ksoftirqd (raise_softirq_irqoff). The softirqs of one CPU
//     never run concurrently (local_bh_disable).
//   - Tasklet (tasklet_schedule, tasklet_action_common, tasklet_kill,
//     tasklet_disable/enable): see Tasklet. Hi tasklets run from HI_SOFTIRQ,
//     before TIMER ... and before normal tasklets (TASKLET_SOFTIRQ).
//   - Workqueue (kernel/workqueue.c): NewWork/Init are DECLARE_WORK/INIT_WORK;
//     QueueWork/QueueWorkOn, bound and unbound queues, WQHighPri pools,
//     max_active, NewOrderedWorkqueue (alloc_ordered_workqueue), DelayedWork
//     (queue/mod/cancel/flush), FlushWork, FlushWorkqueue, CancelWorkSync.
//     See Work and Workqueue; the single-thread form below.
//   - Threaded IRQ (kernel/irq/manage.c): CPU.RequestThreadedIRQ is
//     request_threaded_irq: the primary returns IRQNone, IRQHandled or
//     IRQWakeThread; a nil primary is irq_default_primary_handler and needs
//     IRQFOneshot; ONESHOT masks the line from before the primary until the
//     thread function returns (irq_finalize_oneshot); wakes during a run merge
//     into one more run (IRQTF_RUNTHREAD); IRQAction.SetAffinity applies
//     between runs (irq_thread_check_affinity); Free waits for the thread
//     (free_irq, kthread_stop).
//   - NAPI (net/core/dev.c): NAPI.Schedule is napi_schedule (owned: mark
//     MISSED, one more poll); polls get the weight (64) as budget; a poll
//     below budget completes (napi_complete_done) and calls Reenable; a
//     NET_RX round stops at 300 units or 2 ms (netdev_budget[_usecs]) and
//     re-raises; DeferHardIRQs/FlushTimeout are napi_defer_hard_irqs and
//     gro_flush_timeout.
//   - Busy polling (BusyPoller): no interrupts; a pinned thread polls.
//
// A driver picks one by Mode (ParseMode for the command line) and builds an
// Executor around its poll(budget) function: its top half, an IRQ handler on
// the CPU, harvests the device and calls Executor.Schedule.
//
// # Rules for handlers
//
// Primary handlers, softirq actions, tasklets and NAPI polls run in atomic
// context: they must not sleep (block on a channel, a mutex held long, a
// system call that waits, time.Sleep). Workqueue items and IRQ thread
// functions may sleep.
//
// # What Go cannot guarantee
//
//   - Atomic context is not enforced. With CPUOptions.CheckAtomic, handlers
//     that slept are counted afterwards (CPU.AtomicSleeps), from the thread's
//     voluntary context switches (getrusage RUSAGE_THREAD).
//   - Nothing preempts a softirq: a hard IRQ arriving while the top half runs
//     softirqs waits until they finish (at most ~2 ms / 10 passes), where the
//     kernel would interrupt them. Interrupts cannot be disabled either:
//     per-CPU lists are guarded by mutexes, not local_irq_save.
//   - SCHED_FIFO applies to the OS thread, but Go code also needs one of
//     GOMAXPROCS Ps: if every P is busy with ordinary goroutines, a woken RT
//     thread waits for the Go scheduler, a priority inversion the kernel
//     cannot see. SizeGOMAXPROCS gives one P per locked thread beyond the
//     cores (LockedThreads), which makes a free P likely, not certain.
//     Garbage collection stops RT threads too, and may make a handler assist
//     it: GCOff turns the pacing off under a memory limit, and a packet path
//     that allocates nothing then never triggers it. Pages are locked only
//     after LockMemory (mlockall); before, a page fault can sleep in
//     "atomic" context.
//   - SCHED_DEADLINE threads (Sched) cannot be pinned: the kernel admits
//     them only with a CPU mask spanning their root domain. They can be
//     placed (Sched.Start, "@CPU"), which the kernel keeps only while no
//     other deadline task contends (below).
//   - need_resched() is invisible, so softirq restarts stop only on the pass
//     and time bounds.
//   - Concurrency-managed workqueues learn from the scheduler that a worker
//     slept; Go cannot. Here a worker starts when work is queued and none is
//     idle, up to MaxWorkersPerPool per pool, and each Workqueue owns its
//     workers instead of sharing per-CPU pools.
//   - Delayed work and NAPI deferral use Go timers, not hrtimers: they fire
//     late by the Go scheduler's latency.
//   - "The CPU that scheduled it" is a core only for pinned CPUs; for an
//     unpinned one (CPU -1) it is the CPU object (its two threads).
//
// # Real-time threads and the Go runtime's system calls
//
// The hang of the lab's real-time scenario (a run that never reported, seen in
// threaded, workqueue and tasklet mode) was a livelock between two SCHED_FIFO
// threads on one core, inside the Go runtime. Captured in the lab (bench's
// hang watchdog: thread states, then a SIGQUIT goroutine dump): the top half
// (FIFO 90) runnable and burning its core, its goroutine in state "syscall
// (scan)" at its epoll_wait; the periodic task (FIFO 80, same core) runnable
// but never running; every other thread asleep.
//
// Since Go 1.26 a thread that takes a P away from a goroutine in a system
// call (sysmon's retake, stop-the-world, forEachP, and a thread leaving its
// own system call that steals its old P back: exitsyscallTryGetP) first sets
// that goroutine's scan bit (setBlockOnExitSyscall), and the goroutine, if
// its system call returns meanwhile, spins in exitsyscall (casgstatus, with
// sched_yield) until the bit is cleared: "at worst stuck spinning in
// exitsyscall". Here the task, leaving clock_nanosleep, took the top half's
// scan bit to steal back its old P, which the top half held while in
// epoll_wait; an interrupt ended the epoll_wait, and the top half, higher in
// priority on the same core, preempted the task inside that window and spun.
// sched_yield does not let a lower SCHED_FIFO thread run, and RT throttling
// does not help: it stops both. The core was lost for good.
//
// The rule that follows: of the real-time Go threads sharing a core, at most
// one may make system calls the Go runtime knows of (syscall.Syscall, x/sys/
// unix's wrappers, os.File): with two, the higher can be inside one while the
// lower takes its scan bit on leaving its own. Here that one is the user's
// periodic task; the top half and the bottom-half threads make their
// recurring system calls raw (RawSyscall: no entersyscall/exitsyscall; the
// goroutine keeps its P and stays running): the top half's epoll_wait and its
// eventfd reads and writes, and vfio's VFIO_DEVICE_SET_IRQS (the INTx unmask
// after each interrupt, on the top half or, with the light top half, on the
// bottom half). The adaptive executor's gro_flush_timeout wait is a raw
// clock_nanosleep too (adaptive_linux.go), for its cost: measured in the lab,
// a 50 µs wait took 86 µs of guest CPU raw, 351 µs through x/sys/unix's
// wrapper and 362 µs as time.Sleep (which also came back after 1.24 ms). The host test TestTopHalfNoLivelockUnderFIFO reproduces the
// hang (3 of 8 runs of 4 s livelocked before the change, none of 8 after),
// and so did bench's host scenario (1 of 5 threaded runs of the old code
// never ended).
//
// Raw waiting has a price, measured: the goroutine never passes through the
// scheduler, so sysmon asks it to yield every 10 ms (a signal; the wait
// returns EINTR and the goroutine goes round the scheduler, which for a
// locked thread means another thread must hand it a P back). For the top
// half no consistent cost showed (bench's host scenario, 5 runs each, misses
// per 2 s median old/new: tasklet 70/22, threaded 69/125, workqueue 44/21,
// idle 20/7: the shared machine's noise dominates); for a periodic task
// sleeping raw in clock_nanosleep it cost misses even with no load (median 6
// with an ordinary sleep, 77 raw), so real-time tasks should sleep normally.
// Each CPU adds one P to GOMAXPROCS for its top half, which holds one for
// good (procs.go).
//
// What remains: UIO's unmask (a config-space write) is still an ordinary
// system call on a real-time thread; and any ordinary system call there can
// be taken by a CFS thread (sysmon, a pinned worker), which leaves the
// real-time thread spinning for as long as that thread waits for a CPU: a
// stall bounded by RT throttling, not a hang.
//
// # A top half at the bottom half's class
//
// In the kernel a threaded IRQ's hard part is a mask and a wake-up
// (irq_default_primary_handler with IRQF_ONESHOT); all else runs in the IRQ
// thread, below the real-time tasks it must not disturb. With VFIO the
// kernel's vfio-pci handler is that hard part already: it masks INTx (or the
// MSI vector is edge) and signals the eventfd. A CPU's top-half thread at
// SCHED_FIFO 90 only waits for that eventfd, yet runs above every task of its
// core while it reads the cause and wakes the bottom half. CPUOptions.Sched
// gives the top half the bottom half's own class instead (threaded: its
// SCHED_FIFO priority or its deadline reservation; workqueue: the worker's):
// then no thread of the driver runs above the bottom half, and a real-time
// task above the bottom half preempts all of it, as with the kernel's
// threaded IRQs. What it costs: the interrupt waits while a higher task runs
// (ONESHOT: the line stays masked and frames queue in the ring).
//
// # A single-thread workqueue
//
// ExecutorOptions.Inline in ModeWorkqueue (workqueue_inline.go) makes the
// CPU's top-half thread the queue's only worker: it waits on the interrupt
// fds, runs the primary handlers, then the work item they queued, on the same
// OS thread at the worker's class (CPUOptions.Sched: nice -20, or a deadline
// reservation). Under SCHED_DEADLINE that is one reservation, and one thread
// that Sched.Start can place, where the top half at the worker's class
// ("none") is two deadline threads that the kernel spreads over the CPUs.
// The kernel's threaded IRQ has this shape (irq_thread for a NULL primary
// with IRQF_ONESHOT); its workqueues do not, because a kernel worker never
// waits for the interrupt: the hard IRQ preempts whatever runs. So what of
// the workqueue's semantics still holds on one thread, and what does not:
//
// Kept:
//   - queue_work's PENDING bit: Schedule on a pending item is a no-op (calls
//     merge), and one during a run gives one more run;
//   - non-reentrance: the item never runs concurrently with itself;
//   - a run is one Poll of the weight, and an item that used it all re-queues
//     itself and runs again after what came meanwhile, as a re-queued item
//     goes to the tail of its pool's worklist: here the top half's loop goes
//     round once more (epoll_wait returns at once), so other interrupts of
//     the CPU are handled between runs. The threaded IRQ's thread, inline or
//     not, instead polls until a round falls short;
//   - process context: the item may sleep, and the deadline bottom half's
//     self-enforcement (dlBudget) yields as a worker's does;
//   - cancel_work_sync: Close returns after a running item has returned.
//
// Given up:
//   - the hard IRQ above the worker: while the item runs (or sleeps) no
//     interrupt of its CPU is taken. For the item's own device that is
//     ONESHOT (the light top half keeps the line masked until the item
//     re-enables it); for other devices on the same CPU it is latency;
//   - concurrency management and max_active: one worker, so an item that
//     sleeps holds up everything of its CPU, where a pool would start
//     another worker;
//   - a shared queue: the item belongs to its CPU, not to a Workqueue
//     (ExecutorOptions.Workqueue must be nil), so there are no other items,
//     no delayed work and no flush_workqueue on it;
//   - the workqueue's own class apart from the interrupt's: the whole
//     interrupt runs at the worker's class, which is the point.
//
// # Deadline bottom halves under emulation
//
// A deadline bottom half that cut each poll to the runtime it had left
// (dlbudget.go) collapsed in the lab (TCG): the guest charges a thread for
// the time the host did not run its vCPU, so a one-frame poll "cost"
// milliseconds, the estimate of a frame's cost followed, the polls shrank to
// a frame or two each paying a poll's fixed cost (register accesses, the
// unmask), and the bottom half carried 188 frames/s of 20 000 offered
// (1 105 polls in 8 s, 1 104 of them cut short; its thread's /proc sched showed
// 2 295 involuntary switches, the kernel throttling it). With the
// enforcement off it carried 16 600/s. The poll now keeps its full weight
// and the bottom half only yields its instance once its runtime is used:
// 17 000/s, no frame lost. A deadline thread is not pinned, but the kernel
// wakes it on its previous CPU unless a deadline task with an earlier
// deadline runs there: in the lab each one stayed on one vCPU for a whole run
// (/proc: no migrations), the IRQ thread on core 0 in all 7 runs looked at,
// preempting the FIFO-80 task there (deadline tasks run before every
// SCHED_FIFO one). Its effect on that task is bounded by its reservation, not
// removed.
//
// # Deadline bottom halves and a real-time task on the interrupt's CPU
//
// Four things stand between a deadline bottom half and a SCHED_FIFO task on
// the CPU of its interrupt; each was looked at in the lab (TCG, 2 vCPUs,
// cyclictest FIFO 80 every 1 ms on vCPU 0 with the e1000's interrupt,
// 20 000 frames/s; misses per 10 s in the exploratory boots,
// bench/rt/experiments; per 30 s in bench/rt/RESULTS.md):
//
//   - Enforcement at the tick. The kernel charges a deadline task's runtime
//     in update_curr_dl and throttles it once the runtime is used; that runs
//     at scheduler events and at the tick (task_tick_dl). Only with the
//     HRTICK_DL scheduler feature (kernel/sched/features.h, default false;
//     needs CONFIG_SCHED_HRTICK, which Debian's kernels have) does
//     set_next_task_dl arm an hrtimer for the runtime left (start_hrtick_dl).
//     At Debian's HZ=250 a bottom half that keeps polling may overrun by up
//     to 4 ms, which is what the runtime of -0.7 ms seen at the end of runs
//     fits. hrtick.go reads and sets the feature (debugfs); uiodrv run warns
//     when it is off. In the lab turning it on did not bound the overrun:
//     runtimes still ended at -0.65 to -0.93 ms, because under TCG one
//     register access (a trap into QEMU, waiting for its global lock while
//     its I/O thread delivers frames) outlasts the timer, and a guest thread
//     is charged for the time the host does not run its vCPU. The misses did
//     not move measurably (HRTICK_DL on, 200us/1ms: threaded+deadline 925-1458
//     beside an idle floor of 192-202 and the kernel's 1942; last session,
//     off: 678-1756). It is right on real hardware and kept on in the bench.
//   - Two reservations. With the top half at the bottom half's class
//     ("none") a deadline bottom half is two deadline threads, and the
//     kernel moves a woken deadline thread off its CPU when the deadline
//     task running there outranks it (select_task_rq_dl): the two ended on
//     different vCPUs, one of them the task's, in all 6 such exploratory
//     runs, placed or not, and in all 6 workqueue+deadline measurement runs
//     (its top half on the task's vCPU). Inline (inline.go) makes the CPU's
//     top-half thread the IRQ thread, as the kernel's irq_thread is for a
//     NULL primary with IRQF_ONESHOT, or the workqueue's single worker
//     (above): one thread, one reservation.
//   - Placement. A deadline thread cannot be pinned, but the kernel wakes it
//     on the CPU it last ran on unless a deadline task there outranks it, and
//     moves it otherwise only when a CPU is overloaded with deadline tasks
//     (push/pull). Sched.Start places the thread on a CPU before it becomes a
//     deadline thread, with its mask still spanning the root domain: a single
//     deadline thread placed off the task's CPU stayed there for whole runs
//     (/proc: last CPU 1, 0 migrations, in every run looked at, the 6
//     threaded+deadline measurement runs included). A cpuset
//     partition (cgroup v2 cpuset.cpus.partition=root), the guarantee, was
//     not needed for that and was not set up.
//   - The process's own threads. Everything of the process that no executor
//     pinned (the Go runtime's sysmon, collector workers, idle Ms and
//     template thread; the application's goroutines) runs on every CPU, the
//     task's included. Housekeep (housekeep.go; uiodrv run
//     --housekeeping-cpus) moves those threads elsewhere once the executors
//     are up, as the kernel keeps its housekeeping off isolated CPUs.
//
// Measured together (2026-12-01, bench/ANALYSIS.md "Session 6"; the host's
// vCPU 0 thread and QEMU's main loop, which fires the guest's timers, on a
// host core of their own; an e1000e interrupting through MSI-X, whose hard
// part is an eventfd signal where the e1000's INTx masks the line in config
// space): with the unpinned threads moved, one placed deadline thread
// (deadline:500us/1ms@1, Inline) missed 0.75-1.8x the idle floor, the
// single-thread workqueue 0.73-2.3x, 0.02-0.10x the kernel's own driver
// with threadirqs (20 s x 3); with them left on the task's vCPU, 1.8-2.8x
// and 1.9-2.0x. With nothing of the network on the task's vCPU (the
// interrupt too) the e1000's rows were 1.0-2.2x idle although QEMU's global
// lock was as contended as with the kernel's driver: under that placement
// the host's share is small, and what a driver adds is what it runs on the
// task's CPU. Not under an unpaced flood (session 7): the main loop that
// fires the timer also receives every frame, so with nothing of the network
// on the task's vCPU the task still missed about 3x idle, a floor of the
// TCG lab that no bottom half can go under; the deadline rows missed
// 0.19-0.25x what the kernel's driver did there.
//
// Placed off the task's CPU the reservation can be sized for the traffic.
// Before the placement and housekeeping above, 200 µs/1 ms carried 27-80%
// of 20 000 frames/s under TCG (the guest charges a thread for host
// stalls); with them, 200 µs/1 ms carried every frame, and 150 µs/1 ms up
// to 3% short (session 7). A reservation also bounds what the bottom half
// takes of a flood: in the lab 200 µs/1 ms cut a flood's cost to the task
// from 19-44x idle (500 µs/1 ms) to 1.7-3.6x, about the floor above. Size
// it for the traffic the application must carry, not for the flood.
//
// # Measuring
//
// Histogram is an allocation-free log-linear latency histogram. The package
// benchmarks (go test -run '^$' -bench . -benchtime 100000x) report, per mode,
// the eventfd-write to bottom-half-first-line latency (p50/p99/p99.9) and the
// cost of back-to-back empty bottom-half runs, beside a goroutine woken
// through a channel in the same run.
package deferral
