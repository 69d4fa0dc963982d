package ring_test

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/ring"
)

// Desc is the 16-byte descriptor the top half copies out of an RX descriptor
// ring: buffer address, length, status, errors and VLAN tag, as in the 8254x
// legacy receive descriptor (8254x SDM section 3.2.3).
type Desc struct {
	Addr           uint64
	Len            uint16
	Status, Errors uint8
	Special        uint16
	_              [2]byte
}

const (
	benchCap = 1024 // elements, for the ring and the channel alike
	burst    = 32
	// chanMax bounds how many elements the channel baseline moves per run:
	// it is 10-50 times slower than the ring, and b.N is sized for the ring.
	// ns/element is an average over many thousand elements either way.
	chanMax = 1 << 21
)

// pin locks the calling goroutine to its thread and the thread to cpu. The
// goroutine must exit while still locked, so that the runtime discards the
// pinned thread instead of reusing it.
func pin(cpu int) error {
	runtime.LockOSThread()
	var set unix.CPUSet
	set.Set(cpu)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return fmt.Errorf("pin to CPU %d: %w", cpu, err)
	}
	return nil
}

// transfer runs produce on CPU 0 and consume on CPU 1, starts both at once
// and returns the wall time until both have finished. With timer set it also
// runs the benchmark timer over exactly that span.
func transfer(b *testing.B, timer bool, produce, consume func()) time.Duration {
	var ready, done sync.WaitGroup
	var start atomic.Bool
	var pinErr atomic.Pointer[error]
	for cpu, f := range []func(){produce, consume} {
		ready.Add(1)
		done.Go(func() {
			if err := pin(cpu); err != nil {
				pinErr.Store(&err)
				ready.Done()
				return
			}
			ready.Done()
			for !start.Load() {
			}
			f()
		})
	}
	ready.Wait()
	if err := pinErr.Load(); err != nil {
		start.Store(true)
		done.Wait()
		b.Skip(*err)
	}
	if timer {
		b.StartTimer()
	}
	t0 := time.Now()
	start.Store(true)
	done.Wait()
	d := time.Since(t0)
	if timer {
		b.StopTimer()
	}
	return d
}

// compare measures the channel over min(b.N, chanMax) elements and the ring
// over b.N elements, in that order, and reports the ring's time as ns/op
// (one op = one element) and the channel's time divided by the ring's as
// x-vs-chan: how many times faster the ring is.
func compare(b *testing.B, chanRun, ringRun func(n int) (produce, consume func())) {
	if runtime.NumCPU() < 2 || runtime.GOMAXPROCS(0) < 2 {
		b.Skip("needs 2 CPUs and GOMAXPROCS >= 2")
	}
	b.ReportAllocs()
	b.StopTimer()
	nc := min(b.N, chanMax)
	p, c := chanRun(nc)
	dc := transfer(b, false, p, c)
	p, c = ringRun(b.N)
	dr := transfer(b, true, p, c)
	chanNs := float64(dc.Nanoseconds()) / float64(nc)
	ringNs := float64(dr.Nanoseconds()) / float64(b.N)
	b.ReportMetric(chanNs, "chan-ns/elem")
	b.ReportMetric(chanNs/ringNs, "x-vs-chan")
}

// checker counts elements that arrive out of sequence, so that the
// benchmarks cannot pass while moving garbage.
type checker struct{ bad atomic.Int64 }

func (c *checker) report(b *testing.B) {
	if n := c.bad.Load(); n != 0 {
		b.Errorf("%d elements arrived out of sequence", n)
	}
}

// BenchmarkSPSC moves Desc values from CPU 0 to CPU 1 through an SPSC ring
// and, in the same run, through a buffered chan Desc of the same capacity.
func BenchmarkSPSC(b *testing.B) {
	b.Run("single", func(b *testing.B) {
		var ck checker
		defer ck.report(b)
		compare(b, chanDesc(&ck, 1), func(n int) (func(), func()) {
			r, err := ring.NewSPSC[Desc](benchCap)
			if err != nil {
				b.Fatal(err)
			}
			produce := func() {
				for i := 0; i < n; {
					if r.Enqueue(Desc{Addr: uint64(i), Len: 64}) {
						i++
					}
				}
			}
			consume := func() {
				bad := int64(0)
				for i := 0; i < n; {
					if d, ok := r.Dequeue(); ok {
						if d.Addr != uint64(i) {
							bad++
						}
						i++
					}
				}
				ck.bad.Add(bad)
			}
			return produce, consume
		})
	})
	b.Run("burst32", func(b *testing.B) {
		var ck checker
		defer ck.report(b)
		compare(b, chanDesc(&ck, burst), func(n int) (func(), func()) {
			r, err := ring.NewSPSC[Desc](benchCap)
			if err != nil {
				b.Fatal(err)
			}
			produce := func() {
				var batch [burst]Desc
				for i := 0; i < n; {
					k := min(burst, n-i)
					for j := range batch[:k] {
						batch[j] = Desc{Addr: uint64(i + j), Len: 64}
					}
					for sent := 0; sent < k; {
						sent += r.EnqueueBurst(batch[sent:k])
					}
					i += k
				}
			}
			consume := func() {
				var batch [burst]Desc
				bad := int64(0)
				for i := 0; i < n; {
					m := r.DequeueBurst(batch[:])
					for j, d := range batch[:m] {
						if d.Addr != uint64(i+j) {
							bad++
						}
					}
					i += m
				}
				ck.bad.Add(bad)
			}
			return produce, consume
		})
	})
}

// chanDesc is the channel baseline: the same producer and consumer loops
// with a buffered chan Desc, which has no burst operation, so a burst is a
// loop of sends and a loop of receives.
func chanDesc(ck *checker, burstLen int) func(n int) (func(), func()) {
	return func(n int) (func(), func()) {
		ch := make(chan Desc, benchCap)
		produce := func() {
			var batch [burst]Desc
			for i := 0; i < n; {
				k := min(burstLen, n-i)
				for j := range batch[:k] {
					batch[j] = Desc{Addr: uint64(i + j), Len: 64}
				}
				for _, d := range batch[:k] {
					ch <- d
				}
				i += k
			}
		}
		consume := func() {
			var batch [burst]Desc
			bad := int64(0)
			for i := 0; i < n; {
				k := min(burstLen, n-i)
				for j := range batch[:k] {
					batch[j] = <-ch
				}
				for j, d := range batch[:k] {
					if d.Addr != uint64(i+j) {
						bad++
					}
				}
				i += k
			}
			ck.bad.Add(bad)
		}
		return produce, consume
	}
}

// BenchmarkLineRoundTrip is the floor under BenchmarkSPSC/single: one 64-bit
// word bounced between CPU 0 and CPU 1, each side waiting for the other's
// store before making its own. ns/op is one round trip, i.e. two cache-line
// handoffs between the CPUs. An element handed over while the consumer waits
// on an empty ring costs about one handoff for the index and one for the slot.
func BenchmarkLineRoundTrip(b *testing.B) {
	if runtime.NumCPU() < 2 || runtime.GOMAXPROCS(0) < 2 {
		b.Skip("needs 2 CPUs and GOMAXPROCS >= 2")
	}
	b.ReportAllocs()
	b.StopTimer()
	var x struct {
		_ [128]byte
		v atomic.Uint64
		_ [128]byte
	}
	n := uint64(b.N)
	transfer(b, true, func() {
		for i := uint64(1); i <= n; i++ {
			x.v.Store(2*i - 1)
			for x.v.Load() != 2*i {
			}
		}
	}, func() {
		for i := uint64(1); i <= n; i++ {
			for x.v.Load() != 2*i-1 {
			}
			x.v.Store(2 * i)
		}
	})
}
