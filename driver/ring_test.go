package driver_test

import (
	"encoding/binary"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/drivertest"
)

// A toy 16-byte descriptor for the shared ring bookkeeping: address at 0,
// length at 8, status at 12 (bit 0 done, bit 1 end of packet, bit 2 report
// status on TX). The test plays the NIC by writing status itself.
const (
	toyDD  = 1
	toyEOP = 2
	toyRS  = 4
)

type toyCodec struct{}

func (toyCodec) Post(d []byte, addr uint64) {
	binary.LittleEndian.PutUint64(d[0:], addr)
	binary.LittleEndian.PutUint64(d[8:], 0)
}

func (toyCodec) Done(d []byte, rx *driver.RxDesc) (bool, bool) {
	if d[12]&toyDD == 0 {
		return false, false
	}
	*rx = driver.RxDesc{Len: binary.LittleEndian.Uint16(d[8:])}
	return d[12]&toyEOP != 0, true
}

func (toyCodec) Put(d []byte, addr uint64, n uint16) {
	binary.LittleEndian.PutUint64(d[0:], addr)
	binary.LittleEndian.PutUint64(d[8:], uint64(n))
}
func (toyCodec) SetRS(d []byte)     { d[12] |= toyRS }
func (toyCodec) Sent(d []byte) bool { return d[12]&toyDD != 0 }

// tailRegs records tail writes.
type tailRegs struct{ writes []uint32 }

func (r *tailRegs) Read32(uint32) uint32       { return 0 }
func (r *tailRegs) Write32(_ uint32, v uint32) { r.writes = append(r.writes, v) }

func toyPool(t *testing.T, n int) *driver.BufPool {
	t.Helper()
	p, err := driver.NewBufPool(drivertest.NewMemAllocator(), n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestRxDescIs16Bytes(t *testing.T) {
	if s := reflect.TypeOf(driver.RxDesc{}).Size(); s != 16 {
		t.Fatalf("RxDesc is %d bytes, want 16", s)
	}
}

// TestRxRing: at most size-1 posted, the tail written once RxFreeThresh wait
// or at once when the NIC is nearly out, a frame spanning descriptors
// returned once and flagged, its later buffers back in the pool.
func TestRxRing(t *testing.T) {
	const size = 64 // thresh: a quarter, 16
	pool := toyPool(t, 200)
	regs := &tailRegs{}
	desc := make([]byte, size*16)
	r, err := driver.NewRxRing(toyCodec{}, pool, regs, 0x2818, desc, size, 16)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Refill(); got != size-1 || len(regs.writes) != 1 || regs.writes[0] != size-1 {
		t.Fatalf("first refill posted %d, tail writes %v; want %d and [%d]", got, regs.writes, size-1, size-1)
	}
	done := func(i int, eop bool) {
		d := desc[i*16:]
		binary.LittleEndian.PutUint16(d[8:], 60)
		d[12] = toyDD
		if eop {
			d[12] |= toyEOP
		}
	}
	out := make([]driver.RxDesc, size)
	for i := 0; i < 10; i++ {
		done(i, true)
	}
	if k := r.Burst(out); k != 10 || out[0].Len != 60 || out[0].Buf == driver.NoBuf {
		t.Fatalf("Burst = %d (%+v), want 10 frames of 60 bytes", k, out[0])
	}
	r.Refill() // 10 wait, the NIC sees 53: no write
	if len(regs.writes) != 1 || r.Waiting() != 10 {
		t.Fatalf("tail writes %v, %d waiting; want no new write, 10 waiting", regs.writes, r.Waiting())
	}
	for i := 10; i < 50; i++ {
		done(i, true)
	}
	r.Burst(out) // the NIC sees 13 of its 53: at or below thresh
	r.Refill()
	if len(regs.writes) != 2 || r.Waiting() != 0 {
		t.Fatalf("tail writes %v, %d waiting; want a write at once when the NIC is nearly out", regs.writes, r.Waiting())
	}
	// A frame over three descriptors: returned once, flagged; the other
	// two buffers go back to the pool.
	avail := pool.Available()
	done(50, false)
	done(51, false)
	done(52, true)
	done(53, true)
	k := r.Burst(out)
	if k != 2 || out[0].Flags&driver.RxIncomplete == 0 || out[1].Flags != 0 {
		t.Fatalf("Burst over a 3-descriptor frame = %d (%+v %+v), want the first flagged and the next frame", k, out[0], out[1])
	}
	if pool.Available() != avail+2 {
		t.Fatalf("pool %d, want %d: the frame's later buffers freed", pool.Available(), avail+2)
	}
	if r.Posted() > size-1 {
		t.Fatalf("%d posted in a ring of %d", r.Posted(), size)
	}
	r.Release()
	if pool.Available()+50+k != pool.Len() {
		t.Fatalf("after Release %d in the pool, %d held by the test", pool.Available(), pool.Len()-pool.Available())
	}
}

// TestTxRing: RS on every TxRSThresh-th descriptor and on the last before
// each doorbell, Reclaim frees up to a done RS slot and no further, batching
// defers the doorbell, a full ring and a bad frame stop the burst.
func TestTxRing(t *testing.T) {
	const size = 128
	pool := toyPool(t, 300)
	regs := &tailRegs{}
	desc := make([]byte, size*16)
	tx, err := driver.NewTxRing(toyCodec{}, pool, regs, 0x3818, desc, size, 16)
	if err != nil {
		t.Fatal(err)
	}
	frames := func(k int) []driver.TxDesc {
		p := make([]driver.TxDesc, k)
		for i := range p {
			b, _ := pool.Get()
			p[i] = driver.TxDesc{Buf: b, Len: 60}
		}
		return p
	}
	if k := tx.Burst(frames(40)); k != 40 || len(regs.writes) != 1 || regs.writes[0] != 40 {
		t.Fatalf("Burst(40) = %d, tail writes %v", k, regs.writes)
	}
	for i := 0; i < 40; i++ {
		want := i == driver.TxRSThresh-1 || i == 39
		if got := desc[i*16+12]&toyRS != 0; got != want {
			t.Errorf("descriptor %d RS %v, want %v", i, got, want)
		}
	}
	desc[(driver.TxRSThresh-1)*16+12] |= toyDD
	if got := tx.Reclaim(); got != driver.TxRSThresh {
		t.Fatalf("Reclaim = %d, want %d (up to the first RS slot done)", got, driver.TxRSThresh)
	}
	if tail, left := tx.Told(); tail != 40 || left != 40-driver.TxRSThresh {
		t.Fatalf("Told = %d, %d", tail, left)
	}
	tx.SetBatch(32)
	tx.Burst(frames(10))
	if len(regs.writes) != 1 || tx.Waiting() != 10 {
		t.Fatalf("batched: tail writes %v, %d waiting", regs.writes, tx.Waiting())
	}
	tx.Flush()
	if len(regs.writes) != 2 || desc[49*16+12]&toyRS == 0 {
		t.Fatalf("Flush: tail writes %v, RS on the last %v", regs.writes, desc[49*16+12]&toyRS != 0)
	}
	bad := frames(2)
	bad[0].Len = 0
	if k := tx.Burst(bad); k != 0 {
		t.Fatalf("Burst of a 0-byte frame = %d", k)
	}
	pool.PutMany([]uint32{bad[0].Buf, bad[1].Buf})
	tx.SetBatch(0)
	room := size - 1 - tx.InFlight()
	if k := tx.Burst(frames(room + 5)); k != room {
		t.Fatalf("Burst over a full ring took %d, want %d", k, room)
	}
}

// TestRingGate: while a ring is stopped its path does nothing, and Stop
// waits for a burst in progress; the race detector checks that the reset
// and the path never touch the ring together.
func TestRingGate(t *testing.T) {
	pool := toyPool(t, 64)
	desc := make([]byte, 32*16)
	r, err := driver.NewRxRing(toyCodec{}, pool, &lockedRegs{}, 0, desc, 32, 16)
	if err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the RX path
		defer wg.Done()
		out := make([]driver.RxDesc, 8)
		for !stop.Load() {
			for _, d := range out[:r.Burst(out)] {
				pool.Put(d.Buf)
			}
			r.Refill()
		}
	}()
	for i := 0; i < 200; i++ { // the resets
		r.Stop()
		if k := r.Refill(); k != 0 {
			t.Errorf("Refill on a stopped ring posted %d", k)
		}
		r.Release()
		r.Prime()
		r.Start()
	}
	stop.Store(true)
	wg.Wait()
}

type lockedRegs struct{ mu sync.Mutex }

func (r *lockedRegs) Read32(uint32) uint32 { return 0 }
func (r *lockedRegs) Write32(uint32, uint32) {
	r.mu.Lock()
	r.mu.Unlock()
}

// BenchmarkRingReflect is the shared bookkeeping's cost of reflecting a
// burst of 32 frames (Burst, Refill, TX Burst, Reclaim) over the toy codec,
// the test playing the NIC by setting done bits.
func BenchmarkRingReflect(b *testing.B) {
	const size, burst = 256, 32
	pool, _ := driver.NewBufPool(drivertest.NewMemAllocator(), 1024)
	regs := &tailRegs{}
	rdesc := make([]byte, size*16)
	tdesc := make([]byte, size*16)
	rx, _ := driver.NewRxRing(toyCodec{}, pool, regs, 0, rdesc, size, 16)
	tx, _ := driver.NewTxRing(toyCodec{}, pool, regs, 0, tdesc, size, 16)
	rx.Refill()
	out := make([]driver.RxDesc, burst)
	txs := make([]driver.TxDesc, burst)
	head := 0
	thead := 0
	b.ReportAllocs()
	for b.Loop() {
		regs.writes = regs.writes[:0]
		for i := 0; i < burst; i++ {
			d := rdesc[((head+i)%size)*16:]
			d[8] = 60
			d[12] = toyDD | toyEOP
		}
		head = (head + burst) % size
		k := rx.Burst(out)
		for i, p := range out[:k] {
			txs[i] = driver.TxDesc{Buf: p.Buf, Len: p.Len}
		}
		rx.Refill()
		tx.Burst(txs[:k])
		for i := 0; i < k; i++ {
			tdesc[((thead+i)%size)*16+12] |= toyDD
		}
		thead = (thead + k) % size
		tx.Reclaim()
	}
}
