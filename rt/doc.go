// Package rt is uiodrv's real-time toolbox: the scheduling classes a thread
// can run under, applying one (with its CPU and name) to a locked OS thread,
// deadline admission probing, memory locking, garbage-collector control,
// GOMAXPROCS sizing, housekeeping CPUs, and reading a thread's class back the
// way an outside observer does. It knows nothing about NICs or bottom halves:
// the deferral package builds its threads with it.
//
// # Classes and what each promises
//
// A Sched names one of the kernel's policies; ParseSched reads the
// command-line forms (SchedForms) and Validate checks them against the
// kernel's rules before any thread is touched (ErrSchedInvalid).
//
//   - PolicyOther is SCHED_OTHER (CFS) at a nice value: a fair share, no
//     bound on latency. A negative nice needs CAP_SYS_NICE
//     (ErrNiceNotPermitted).
//   - PolicyFIFO is SCHED_FIFO at a priority 1..99: the thread runs as soon
//     as it is runnable and no higher priority is, until it blocks. Nothing
//     bounds its share but the kernel's RT throttling, which stops every RT
//     task of a CPU at once when they used sched_rt_runtime_us of a
//     sched_rt_period_us. It needs CAP_SYS_NICE or RLIMIT_RTPRIO
//     (ErrRTNotPermitted); the package never falls back silently.
//   - PolicyDeadline is SCHED_DEADLINE: Runtime of CPU in every Period, used
//     before Deadline after each wake-up, and throttled once used until the
//     next period. Deadline threads run before every SCHED_FIFO thread. The
//     kernel charges the runtime at scheduler events and at its tick (or an
//     hrtimer with the HRTICK_DL feature, SchedFeature), so a thread that
//     keeps running can overrun it by up to a tick; Budget makes a polling
//     thread give way by itself once its runtime is used.
//   - PolicyDefault leaves the choice to the caller (the deferral package's
//     mode); on a thread it means SCHED_OTHER at nice 0.
//
// Every class is applied with SCHED_FLAG_RESET_ON_FORK: a thread cloned from
// a real-time one starts as SCHED_OTHER.
//
// # Admission control
//
// The kernel admits a deadline thread only if the reservations of all
// deadline tasks of its root domain stay within sched_rt_runtime_us /
// sched_rt_period_us of each CPU (EBUSY: ErrDeadlineBusy), and only with a
// CPU mask that spans the root domain (EPERM or EBUSY: ErrDeadlineAffinity):
// global EDF must be free to move it. So a deadline thread is never pinned:
// ConfigureThread widens its mask to the process's and can only place it
// (Sched.Start, "@CPU") on a CPU it starts from. To keep one on a CPU, give
// that CPU a root domain of its own (an exclusive cpuset partition, or
// isolcpus). ProbeSched asks the kernel with throwaway threads before
// anything is opened, so that a refusal leaves nothing to undo; it is a
// probe, not a reservation.
//
// # Threads are never the main thread
//
// A class, a CPU mask and a name belong to an OS thread, and a goroutine
// keeps its thread only while it is locked (runtime.LockOSThread). When a
// locked goroutine ends, the runtime destroys its thread with everything
// applied to it, except the process's main thread, which it can only park:
// a reservation left there would stay with the process for good and be
// refused to later threads. So StartThread and ProbeSched run on threads of
// their own (internal/osthread), never the main thread, and the goroutine
// never unlocks: the thread dies with it. ConfigureThread is for a thread
// obtained the same way.
//
// # The Go runtime under real time
//
// A locked thread runs Go code only while it holds one of GOMAXPROCS Ps:
// SizeGOMAXPROCS adds one P per thread StartThread locked (LockedThreads),
// which makes a free P likely, not certain. Garbage collection stops every
// thread: GCOff turns its pacing off under a memory limit, so that a path
// that allocates nothing never starts a cycle. LockMemory (mlockall) keeps
// page faults off the real-time threads, and refuses, naming the fix, where
// a later mapping past RLIMIT_MEMLOCK would abort the runtime. Housekeep
// moves every thread no one pinned (the runtime's, the application's) to
// housekeeping CPUs, off the CPUs of real-time work.
//
// Errors wrap the operation and the system call, and name the fix.
package rt
