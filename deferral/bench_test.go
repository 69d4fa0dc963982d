package deferral

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/rt"
)

// Run with: go test -run '^$' -bench . -benchtime 100000x ./deferral/
// (at least 100k events per mode: fewer are raised to 100k).

const minEvents = 100_000

// clock is a monotonic nanosecond clock that does not allocate.
var clockBase = time.Now()

func clock() int64 { return int64(time.Since(clockBase)) }

// handoff is one latency measurement: the writer publishes a timestamp and
// writes the eventfd; the bottom half's first line records now - timestamp and
// acknowledges; the writer waits for the acknowledgement before the next event.
type handoff struct {
	sent atomic.Int64
	seq  atomic.Uint64 // events published (busy poll watches it)
	seen uint64        // events recorded; bottom-half side
	ack  chan struct{}
	h    Histogram // written by the bottom half only
}

func newHandoff() *handoff { return &handoff{ack: make(chan struct{}, 1)} }

// first is the bottom half's first line.
func (x *handoff) first() {
	x.h.Record(clock() - x.sent.Load())
	x.seen++
	x.ack <- struct{}{}
}

// writer runs events events on a thread pinned to core 0, signalling fd
// (or, with fd < 0, only publishing seq, for busy polling).
func (x *handoff) writer(events, fd int) {
	done := make(chan struct{})
	rt.StartThread(rt.ThreadAttrs{Name: "bench-writer", CPU: 0}, func() {
		defer close(done)
		for i := 0; i < events; i++ {
			x.sent.Store(clock())
			x.seq.Add(1)
			if fd >= 0 {
				eventfdSignal(fd)
			}
			<-x.ack
		}
	})
	<-done
}

type baseline struct {
	h       *Histogram
	elapsed time.Duration
}

var chanBaseline = sync.OnceValue(func() baseline {
	start := time.Now()
	x := newHandoff()
	ch := make(chan struct{})
	go func() {
		for range ch {
			x.first()
		}
	}()
	done := make(chan struct{})
	rt.StartThread(rt.ThreadAttrs{Name: "bench-writer", CPU: 0}, func() {
		defer close(done)
		for i := 0; i < minEvents; i++ {
			x.sent.Store(clock())
			ch <- struct{}{}
			<-x.ack
		}
	})
	<-done
	close(ch)
	return baseline{&x.h, time.Since(start)}
})

func reportLatency(b *testing.B, h *Histogram, elapsed time.Duration, events int) {
	base := chanBaseline().h
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(events), "ns/op")
	b.ReportMetric(float64(h.Quantile(0.5)), "p50-ns")
	b.ReportMetric(float64(h.Quantile(0.99)), "p99-ns")
	b.ReportMetric(float64(h.Quantile(0.999)), "p999-ns")
	b.ReportMetric(float64(h.Quantile(0.5))/float64(base.Quantile(0.5)), "p50-x-chan")
	b.ReportMetric(float64(h.Quantile(0.99))/float64(base.Quantile(0.99)), "p99-x-chan")
}

// benchCPU is the CPU the benchmarks pin bottom halves to: the last core,
// away from the writer on core 0.
func benchCPU(b *testing.B) *CPU {
	return newCPU(b, lastCore(), func(o *CPUOptions) { o.Name = "bench" })
}

// BenchmarkHandoff measures eventfd write -> bottom half first line, per mode.
func BenchmarkHandoff(b *testing.B) {
	b.Run("channel", func(b *testing.B) {
		b.ReportAllocs()
		base := chanBaseline()
		reportLatency(b, base.h, base.elapsed, minEvents)
	})
	for _, m := range Modes() {
		b.Run(m.String(), func(b *testing.B) {
			events := max(b.N, minEvents)
			c := benchCPU(b)
			x := newHandoff()
			// A poll finds an event only when the writer has published one:
			// modes poll without an interrupt too (busy poll always, adaptive
			// and NAPI while they defer re-arming), and a poll that
			// acknowledged nothing would block on the full ack channel once
			// the writer stops (the executor's Close then waits forever).
			poll := func(budget int) int {
				if x.seq.Load() == x.seen {
					return 0
				}
				x.first()
				return 0
			}
			e, err := NewExecutor(ExecutorOptions{Mode: m, CPU: c, Poll: poll})
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			fd := -1
			if m != ModeBusyPoll {
				fd = newEvent(b)
				if _, err := c.RequestIRQ(IRQ{Fd: fd}, func() IRQReturn { e.Schedule(); return IRQHandled }, "bench"); err != nil {
					b.Fatal(err)
				}
			}
			x.writer(1000, fd) // warm up: workers, timers, caches
			x.h.Reset()
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			x.writer(events, fd)
			elapsed := time.Since(start)
			b.StopTimer()
			reportLatency(b, &x.h, elapsed, events)
		})
	}
}

// BenchmarkThroughput measures back-to-back empty bottom-half runs, each
// requested by the previous one through the mode's own mechanism (a tasklet
// rescheduling itself, a softirq re-raised, a work item re-queued, a NAPI
// repolled, a thread or busy poller looping), against a goroutine woken
// through a channel per item.
func BenchmarkThroughput(b *testing.B) {
	b.Run("channel", func(b *testing.B) {
		b.ReportAllocs()
		chanItems(b.N)
	})
	for _, m := range Modes() {
		b.Run(m.String(), func(b *testing.B) {
			c := benchCPU(b)
			var n atomic.Int64
			var target atomic.Int64
			done := make(chan struct{}, 1)
			const weight = 1
			poll := func(budget int) int {
				t := target.Load()
				if t == 0 {
					return 0
				}
				if n.Add(1) == t {
					target.Store(0)
					done <- struct{}{}
					return 0
				}
				return budget
			}
			e, err := NewExecutor(ExecutorOptions{Mode: m, CPU: c, Poll: poll, Weight: weight})
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			fd := newEvent(b)
			if _, err := c.RequestIRQ(IRQ{Fd: fd}, func() IRQReturn { e.Schedule(); return IRQHandled }, "bench"); err != nil {
				b.Fatal(err)
			}
			run := func(items int) {
				n.Store(0)
				target.Store(int64(items))
				fire(fd)
				<-done
			}
			run(1000)
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			run(max(b.N, 1))
			ns := float64(time.Since(start).Nanoseconds()) / float64(max(b.N, 1))
			b.StopTimer()
			b.ReportMetric(ns/chanThroughput(), "x-chan")
		})
	}
}

// chanItems sends items empty items to a goroutine through a channel.
func chanItems(items int) {
	ch := make(chan struct{}, 64)
	done := make(chan struct{})
	go func() {
		for i := 0; i < items; i++ {
			<-ch
		}
		close(done)
	}()
	for i := 0; i < items; i++ {
		ch <- struct{}{}
	}
	<-done
}

// chanThroughput is the channel baseline's ns per item, measured once per run.
var chanThroughput = sync.OnceValue(func() float64 {
	const items = 1_000_000
	start := time.Now()
	chanItems(items)
	return float64(time.Since(start).Nanoseconds()) / items
})
