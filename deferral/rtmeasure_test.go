package deferral_test

import (
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/deferral"
	"github.com/uiodrv/uiodrv/internal/osthread"
	"github.com/uiodrv/uiodrv/internal/rtprobe"
	"github.com/uiodrv/uiodrv/rt"
)

// TestMeasureDeadlineBH is a manual measurement on the host (not run by
// default: it takes 90 s and needs root and 2 CPUs): synthetic interrupts at
// 20 000/s on CPU 1, 60 µs of bottom-half work each (1.2 CPUs offered:
// overload), a top half at FIFO 90 on CPU 1, and a FIFO-80 periodic task
// (1 ms period, 100 µs job) on CPU 1, for 10 s per run and 3 repetitions of:
// the task alone, a threaded bottom half at FIFO 50, and one under
// SCHED_DEADLINE 200 µs/1 ms. Run it with
//
//	UIODRV_RT_MEASURE=1 go test -count=1 -run TestMeasureDeadlineBH -v ./deferral/
func TestMeasureDeadlineBH(t *testing.T) {
	if os.Getenv("UIODRV_RT_MEASURE") == "" {
		t.Skip("manual measurement: set UIODRV_RT_MEASURE=1")
	}
	d := 10 * time.Second
	for rep := 0; rep < 3; rep++ {
		for _, s := range []rt.Sched{{}, rt.FIFO(50), rt.Deadline(200*time.Microsecond, time.Millisecond, time.Millisecond)} {
			label := s.String()
			if s.IsZero() {
				label = "idle"
			}
			r, processed, offered := measureRun(t, s, d)
			fmt.Printf("rep %d %-22s misses %5d/%d p50 %v p99 %v max %v processed %d/%d\n", rep, label, r.Misses, r.Jobs,
				time.Duration(r.Wakeup.Quantile(0.5)), time.Duration(r.Wakeup.Quantile(0.99)), time.Duration(r.Wakeup.Max()), processed, offered)
		}
	}
}

func measureRun(t *testing.T, s rt.Sched, d time.Duration) (*rtprobe.Result, int64, int64) {
	task := rtprobe.Options{CPU: 1, Prio: 80, Period: time.Millisecond, Work: 100 * time.Microsecond, Duration: d}
	if s.IsZero() {
		r, err := rtprobe.Run(task)
		if err != nil {
			t.Fatal(err)
		}
		return r, 0, 0
	}
	cpu, err := deferral.NewCPU(deferral.CPUOptions{CPU: 1, RTPrio: 90, Name: "exp"})
	if err != nil {
		t.Fatal(err)
	}
	defer cpu.Close()
	var pending, processed, offered atomic.Int64
	poll := func(budget int) int {
		n := int(min(pending.Load(), int64(budget)))
		for range n {
			rtprobe.Spin(60 * time.Microsecond)
		}
		pending.Add(-int64(n))
		processed.Add(int64(n))
		return n
	}
	exec, err := deferral.NewExecutor(deferral.ExecutorOptions{Mode: deferral.ModeThreaded, CPU: cpu, Poll: poll, Name: "exp", Sched: s})
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Close()
	efd, _ := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	defer unix.Close(efd)
	a, err := cpu.RequestIRQ(deferral.IRQ{Fd: efd}, func() deferral.IRQReturn { exec.Schedule(); return deferral.IRQHandled }, "exp")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Free()
	var stop atomic.Bool
	done := make(chan struct{})
	osthread.Go(func() {
		var set unix.CPUSet
		set.Set(0)
		_ = unix.SchedSetaffinity(0, &set)
		one := []byte{1, 0, 0, 0, 0, 0, 0, 0}
		next := rtprobe.MonoNS()
		for !stop.Load() {
			for rtprobe.MonoNS() < next {
			}
			next += int64(time.Second) / 20000
			offered.Add(1)
			if pending.Load() < 2048 {
				pending.Add(1)
				_, _ = unix.Write(efd, one)
			}
		}
		close(done)
	})
	time.Sleep(200 * time.Millisecond)
	p0, o0 := processed.Load(), offered.Load()
	rt.SizeGOMAXPROCS(rtprobe.Threads + 1) // + the generator
	r, err := rtprobe.Run(task)
	stop.Store(true)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	return r, processed.Load() - p0, offered.Load() - o0
}
