package driver

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/deferral"
)

func TestParseTopHalf(t *testing.T) {
	for _, c := range []struct {
		in   string
		want TopHalf
	}{{"", TopHalfDefault}, {"default", TopHalfDefault}, {"copy", TopHalfCopy}, {"light", TopHalfLight}, {"thread", TopHalfThread}} {
		got, err := ParseTopHalf(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseTopHalf(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
		if c.in != "" && got.String() != c.in {
			t.Errorf("%v.String() = %q, want %q", got, got.String(), c.in)
		}
	}
	for _, bad := range []string{"Copy", "heavy", "1"} {
		if _, err := ParseTopHalf(bad); err == nil {
			t.Errorf("ParseTopHalf(%q) succeeded", bad)
		}
	}
	if _, err := NewPort(newFakeDev(t, 8), Config{TopHalf: TopHalf(9)}); err == nil {
		t.Error("NewPort with TopHalf(9) succeeded")
	}
	for _, c := range []struct {
		m       deferral.Mode
		sameCPU bool
		want    TopHalf
	}{
		{deferral.ModeTasklet, false, TopHalfLight}, {deferral.ModeSoftirq, false, TopHalfLight},
		{deferral.ModeNAPI, false, TopHalfLight}, {deferral.ModeThreaded, true, TopHalfLight},
		{deferral.ModeWorkqueue, true, TopHalfLight}, {deferral.ModeThreaded, false, TopHalfCopy},
		{deferral.ModeWorkqueue, false, TopHalfCopy}, {deferral.ModeBusyPoll, true, TopHalfCopy},
	} {
		if got := DefaultTopHalf(c.m, c.sameCPU); got != c.want {
			t.Errorf("DefaultTopHalf(%v, %v) = %v, want %v", c.m, c.sameCPU, got, c.want)
		}
	}
	p, err := NewPort(newFakeDev(t, 8), Config{Mode: deferral.ModeWorkqueue, IRQCPU: 0, BHCPU: 0})
	if err != nil {
		t.Fatal(err)
	}
	if p.TopHalf() != TopHalfLight {
		t.Errorf("workqueue on the top half's core got %v", p.TopHalf())
	}
	p.Close()
}

// TestLightTopHalfOneshot: with the light top half on an automasked INTx
// line, the top half neither harvests nor unmasks: the line stays masked
// (no further interrupt however many frames arrive) until the bottom half
// has drained the device, as IRQF_ONESHOT keeps it; then every frame is
// processed and the line is unmasked.
func TestLightTopHalfOneshot(t *testing.T) {
	for _, mode := range []deferral.Mode{deferral.ModeThreaded, deferral.ModeWorkqueue} {
		t.Run(mode.String(), func(t *testing.T) {
			dev := newFakeINTx(t, 64)
			release := make(chan struct{})
			var seen atomic.Int64
			h := HandlerFunc(func(pkts []Packet) {
				if seen.Add(int64(len(pkts))) == int64(len(pkts)) {
					<-release // the first batch waits
				}
			})
			p, err := NewPort(dev, Config{Mode: mode, Handler: h, IRQCPU: 0, BHCPU: 1 % numCPU(), TopHalf: TopHalfLight, Budget: 4})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			var once sync.Once
			unblock := func() { once.Do(func() { close(release) }) }
			defer unblock() // before Close, which waits for the bottom half
			waitFor(t, "the start-up poll", func() bool { return p.Stats().BHRuns > 0 })
			u0, irq0 := dev.unmasks.Load(), p.Stats().IRQs
			dev.inject(frame(0, 64))
			waitFor(t, "the first frame in the handler", func() bool { return seen.Load() == 1 })
			for i := 1; i < 20; i++ {
				dev.inject(frame(i, 64))
			}
			time.Sleep(50 * time.Millisecond)
			st := p.Stats()
			if st.IRQs != irq0+1 || dev.unmasks.Load() != u0 {
				t.Fatalf("with the bottom half busy: %d interrupts (want 1), %d unmasks (want 0)", st.IRQs-irq0, dev.unmasks.Load()-u0)
			}
			if st.RxPackets != 1 {
				t.Fatalf("the top half harvested: %d frames received while the bottom half held the first", st.RxPackets)
			}
			unblock()
			waitFor(t, "every frame", func() bool { return p.Stats().Processed == 20 })
			waitFor(t, "the unmask", func() bool { return dev.unmasks.Load() > u0 })
			st = p.Stats()
			if !st.Accounted() || st.Dropped() != 0 || st.InFlight != 0 {
				t.Fatalf("stats: %v", &st)
			}
		})
	}
}

// nopExec is an executor that does nothing: the top half alone is measured.
type nopExec struct{}

func (nopExec) Mode() deferral.Mode { return deferral.ModeTasklet }
func (nopExec) Schedule()           {}
func (nopExec) Close() error        { return nil }

// regDev counts the accesses that trap to the hypervisor (or cross PCIe) on
// a real NIC: a register read or write, or the line unmask (an ioctl that
// writes the interrupt controller). RX descriptors are DMA memory: reading
// them costs no trap.
type regDev struct {
	nopDev
	regs   int
	vecs   []Vector
	refill int // buffers RefillRx posts each call
}

func (d *regDev) Queues() (NIC, Buffers)   { return d, d }
func (d *regDev) AckIRQ(int) Causes        { d.regs++; return CauseRX } // ICR read
func (d *regDev) SetIRQ(int, Causes, bool) { d.regs++ }                 // IMS/IMC write
func (d *regDev) Info() *NICInfo {
	i := nopInfo
	i.Vectors, i.QueueVector = d.vecs, []int{0}
	return &i
}
func (d *regDev) Refill(int) int {
	if d.refill > 0 {
		d.regs++ // RDT write
	}
	return d.refill
}

// BenchmarkTopHalf is the cost of one interrupt in the top half (hard-IRQ
// context), copying against light, with 1 and 32 frames per interrupt
// (one frame: QEMU's mitigated e1000 at 8 kpps; 32: a flood). regs/irq is
// the register accesses and unmasks per interrupt: under TCG or behind an
// IOMMU each costs microseconds, far more than the Go code around it.
func BenchmarkTopHalf(b *testing.B) {
	for _, th := range []TopHalf{TopHalfCopy, TopHalfLight} {
		for _, frames := range []int{1, 32} {
			b.Run(th.String()+"/frames="+itoa(frames), func(b *testing.B) {
				dev := &regDev{nopDev: nopDev{frames: [][]byte{frame(1, 60)}, n: frames}, refill: frames}
				dev.vecs = []Vector{{Name: "intx", Causes: CauseRX | CauseTX | CauseLink, Unmask: func() error { dev.regs++; return nil }}}
				p, err := newPort(dev, dev, Config{Mode: deferral.ModeThreaded, TopHalf: th, RingSize: 4096})
				if err != nil {
					b.Fatal(err)
				}
				q := p.queues[0]
				q.exec = nopExec{}
				v, vs := &p.info.Vectors[0], &p.vecs[0]
				var descs [64]RxDesc
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if th == TopHalfLight {
						p.topHalfLight(0, v, vs)
						q.heldLines.Store(0)
					} else {
						p.topHalf(0, v, vs)
						b.StopTimer()
						for q.rx.DequeueBurst(descs[:]) > 0 {
						}
						b.StartTimer()
					}
				}
				b.ReportMetric(float64(dev.regs)/float64(b.N), "regs/irq")
			})
		}
	}
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

// TestThreadTopHalfOneThread: with TopHalfThread (threaded and workqueue)
// the handler runs on the thread that took the interrupt (the queue's top
// half: one thread for the whole interrupt), the line stays masked until the
// bottom half is done, and every frame is processed. Other modes and an
// RTPrio are refused.
func TestThreadTopHalfOneThread(t *testing.T) {
	for _, mode := range []deferral.Mode{deferral.ModeThreaded, deferral.ModeWorkqueue} {
		t.Run(mode.String(), func(t *testing.T) { testThreadTopHalf(t, mode) })
	}
	for _, cfg := range []Config{
		{Mode: deferral.ModeTasklet, TopHalf: TopHalfThread},
		{Mode: deferral.ModeNAPI, TopHalf: TopHalfThread},
		{Mode: deferral.ModeThreaded, TopHalf: TopHalfThread, RTPrio: 90},
		{Mode: deferral.ModeWorkqueue, TopHalf: TopHalfThread, RTPrio: 90},
	} {
		if p, err := NewPort(newFakeDev(t, 8), cfg); err == nil {
			p.Close()
			t.Errorf("NewPort(%v, top half thread, RTPrio %d) succeeded", cfg.Mode, cfg.RTPrio)
		}
	}
}

func testThreadTopHalf(t *testing.T, mode deferral.Mode) {
	dev := newFakeINTx(t, 64)
	var tids sync.Map
	var seen atomic.Int64
	h := HandlerFunc(func(pkts []Packet) {
		tids.Store(unix.Gettid(), true)
		seen.Add(int64(len(pkts)))
	})
	p, err := NewPort(dev, Config{Mode: mode, Handler: h, IRQCPU: 0, BHCPU: 1 % numCPU(), TopHalf: TopHalfThread, Budget: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.TopHalf() != TopHalfThread {
		t.Errorf("TopHalf() = %v", p.TopHalf())
	}
	for i := 0; i < 20; i++ {
		dev.inject(frame(i, 64))
	}
	waitFor(t, "every frame", func() bool { return p.Stats().Processed == 20 })
	want := p.queues[0].cpu.TID()
	tids.Range(func(k, _ any) bool {
		if k.(int) != want {
			t.Errorf("handler ran on tid %d, not the top half's %d", k, want)
		}
		return true
	})
	if p.queues[0].bhCPU != nil {
		t.Error("a bottom-half CPU was started for BHCPU")
	}
	st := p.Stats()
	if !st.Accounted() || st.Dropped() != 0 {
		t.Fatalf("stats: %v", &st)
	}
}
