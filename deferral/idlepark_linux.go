package deferral

import (
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/uiodrv/uiodrv/internal/unix"
)

// Idle parking of the top half.
//
// The top half waits for interrupts in a raw epoll_wait (sys_unsafe.go): its
// goroutine stays _Grunning and keeps its P while it sleeps. The runtime's
// sysmon takes that for a goroutine that has run for more than 10 ms and
// asks for its preemption: a SIGURG to the thread, which cuts the sleep short
// (EINTR); the handler finds no safe point in a system call, and the thread
// sleeps again until the next signal 10 ms later. An idle port's top half so
// woke about 100 times a second on its CPU, the real-time task's, where
// under SCHED_FIFO 90 or SCHED_DEADLINE each wake-up preempts the task.
// Blocking SIGURG is no cure: the same signal is how a stop-the-world (a
// GOMAXPROCS change, the garbage collector) gets the P back, and it would
// wait for the next interrupt.
//
// So a top half that has waited IdleParkAfter with nothing to do parks its
// goroutine in the runtime's network poller on the epoll fd, as a blocked
// read would: the P is free, sysmon has nothing to preempt, a stop-the-world
// proceeds, and the thread sleeps in the scheduler until the poller (on any
// CPU, the housekeeping ones when the process has them) finds the fd ready.
// No system call the runtime knows of runs on the top-half thread, so the
// livelock in doc.go cannot happen. The first interrupt after an idle
// stretch pays the poller's hand-off (two thread wake-ups); a port that
// interrupts more often than IdleParkAfter never parks.

// IdleParkAfter is how long the top half waits with a raw epoll_wait before
// it parks in the network poller. Below sysmon's 10 ms preemption threshold,
// so that an idle top half is not signalled before it parks.
const IdleParkAfter = 5 * time.Millisecond

// idleParker is the top half's parking place: the epoll fd as a pollable
// file, and the readiness check the poller calls back (a method value made
// once, so that parking allocates nothing).
type idleParker struct {
	file   *os.File // owns the CPU's epoll fd
	rc     syscall.RawConn
	check  func(uintptr) bool
	events []unix.EpollEvent
	n      int
	errno  unix.Errno
	parks  uint64 // top-half thread only
}

// newIdleParker makes epfd non-blocking and hands it to the runtime's
// poller; the returned parker's file owns epfd from then on.
func newIdleParker(epfd int) (*idleParker, error) {
	if err := unix.SetNonblock(epfd, true); err != nil {
		return nil, fmt.Errorf("epoll fd non-blocking: %w", os.NewSyscallError("fcntl", err))
	}
	f := os.NewFile(uintptr(epfd), "deferral-epoll")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("epoll fd to the poller: %w", err)
	}
	p := &idleParker{file: f, rc: rc}
	p.check = p.ready
	return p, nil
}

// ready is the poller's callback: a non-blocking look at the epoll fd.
// False sends the goroutine back to wait for readiness.
func (p *idleParker) ready(fd uintptr) bool {
	p.n, p.errno = rawEpollWait(int(fd), p.events, 0)
	return p.n > 0 || (p.errno != 0 && p.errno != unix.EINTR)
}

// park waits in the poller until the epoll fd has events, and returns them
// into events as rawEpollWait would. A closed file ends the wait with EBADF.
func (p *idleParker) park(events []unix.EpollEvent) (int, unix.Errno) {
	p.events = events
	p.parks++
	if err := p.rc.Read(p.check); err != nil {
		return 0, unix.EBADF
	}
	return p.n, p.errno
}
