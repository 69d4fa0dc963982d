package driver

import (
	"net"
	"testing"

	"github.com/uiodrv/uiodrv/internal/unix"
)

// nopDev is a device whose every RX burst yields the same frames and whose
// TX takes everything: it allocates nothing, so the core's own allocations
// show.
type nopDev struct {
	frames [][]byte
	n      int // frames per RxBurst
	next   uint32
}

var nopInfo = NICInfo{Name: "nop", MAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, Queues: 1, MaxQueues: 1}

func (d *nopDev) Queues() (NIC, Buffers)          { return d, d }
func (d *nopDev) Info() *NICInfo                  { return &nopInfo }
func (d *nopDev) Refill(int) int                  { return 0 }
func (d *nopDev) TxBurst(_ int, p []TxDesc) int   { return len(p) }
func (d *nopDev) Reclaim(int) int                 { return 0 }
func (d *nopDev) Packet(buf uint32, n int) []byte { return d.frames[buf%uint32(len(d.frames))][:n] }
func (d *nopDev) Get() (uint32, bool)             { return 0, true }
func (d *nopDev) PutMany([]uint32)                {}
func (d *nopDev) Put(uint32)                      {}
func (d *nopDev) Available() int                  { return 1 }
func (d *nopDev) Trigger(int)                     {}
func (d *nopDev) AckIRQ(int) Causes               { return CauseRX }
func (d *nopDev) SetIRQ(int, Causes, bool)        {}
func (d *nopDev) ReadStats(*NICStats)             {}
func (d *nopDev) Close() error                    { return nil }

func (d *nopDev) RxBurst(_ int, out []RxDesc) int {
	n := min(len(out), d.n)
	for i := 0; i < n; i++ {
		b := d.next % uint32(len(d.frames))
		out[i] = RxDesc{Buf: b, Len: uint16(len(d.frames[b]))}
		d.next++
	}
	return n
}

// TestPacketPathAllocatesNothing runs the top half's harvest and each bottom
// half's poll, with a reflecting handler, and counts allocations (package
// handler's own tests show that its handlers allocate nothing).
func TestPacketPathAllocatesNothing(t *testing.T) {
	dev := &nopDev{frames: [][]byte{frame(1, 60), frame(2, 1500), frame(3, 100)}, n: 32}
	p, err := newPort(dev, dev, Config{Handler: reflectAll{}, RingSize: 256, Budget: 64})
	if err != nil {
		t.Fatal(err)
	}
	q := p.queues[0]
	for name, f := range map[string]func(){
		"harvest+pollRing": func() { q.harvest(); q.pollRing(64) },
		"pollDevice":       func() { q.pollDevice(64) },
		"pollLight":        func() { q.pollLight(64) },
	} {
		f()
		if a := testing.AllocsPerRun(200, f); a != 0 {
			t.Errorf("%s allocates %.1f times per run", name, a)
		}
	}
	if q.c.processed.Load() == 0 || q.c.txPackets.Load() == 0 {
		t.Fatal("nothing went through the path")
	}
}

// TestKeepAllocatesNothing: a handler that keeps every frame and releases
// the previous batch's buffers (Port.Release) allocates nothing either.
func TestKeepAllocatesNothing(t *testing.T) {
	dev := &nopDev{frames: [][]byte{frame(1, 60), frame(2, 1500)}, n: 32}
	var p *Port
	var held [64]uint32
	nheld := 0
	keep := HandlerFunc(func(pkts []Packet) {
		for _, b := range held[:nheld] {
			p.Release(b)
		}
		nheld = 0
		for i := range pkts {
			pkts[i].Verdict = Keep
			held[nheld] = pkts[i].Desc.Buf
			nheld++
		}
	})
	p, err := newPort(dev, dev, Config{Handler: keep, RingSize: 256, Budget: 64})
	if err != nil {
		t.Fatal(err)
	}
	q := p.queues[0]
	f := func() { q.harvest(); q.pollRing(64) }
	f()
	if a := testing.AllocsPerRun(200, f); a != 0 {
		t.Errorf("keep and release allocate %.1f times per run", a)
	}
	if q.c.processed.Load() == 0 || nheld == 0 {
		t.Fatal("nothing was kept")
	}
}

// BenchmarkPacketPath is the per-frame cost of the core (harvest into the
// ring, drain, reflect) without a device: 0 allocations per frame.
func BenchmarkPacketPath(b *testing.B) {
	dev := &nopDev{frames: [][]byte{frame(1, 60), frame(2, 100)}, n: 32}
	p, err := newPort(dev, dev, Config{Handler: reflectAll{}, RingSize: 256, Budget: 32})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	q := p.queues[0]
	for i := 0; i < b.N; i += 32 {
		q.harvest()
		q.pollRing(32)
	}
}

// plainNIC hides nopDev's Trigger, so that the core raises its vectors by a
// software interrupt (an eventfd write) as it does for virtio-net.
type plainNIC struct{ NIC }

// TestSoftTriggerAllocatesNothing: the core's software interrupt, which
// recovers a starved ring on a NIC with no Trigger, allocates nothing.
func TestSoftTriggerAllocatesNothing(t *testing.T) {
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(efd)
	p := &Port{nic: plainNIC{&nopDev{}}, swIRQ: []int{efd}}
	if a := testing.AllocsPerRun(100, func() { p.trigger(0) }); a != 0 {
		t.Errorf("a software interrupt allocates %.1f times", a)
	}
	var cnt [8]byte
	if n, err := unix.Read(efd, cnt[:]); err != nil || n != 8 || cnt[0] == 0 {
		t.Fatalf("the eventfd was not written: %d bytes, %v, count %v", n, err, cnt)
	}
}
