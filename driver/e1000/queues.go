package e1000

import (
	"time"

	"github.com/uiodrv/uiodrv/driver"
)

// queueNIC is the e1000 behind the core's queue-based driver.NIC: one queue
// (the 82574L's second RX queue is not used), on the vectors the Device
// attached. It goes through the Device's locked paths, so that the
// watchdog's Reinit (driver.Resetter, which it forwards) can stop them. The
// buffer pool is still the NIC's own (Buffers), not one the core hands in.
type queueNIC struct {
	d    *Device
	info driver.NICInfo
	tx   [64]TxPacket // TX path only
}

// Extra counters the e1000 reports beside the generic ones, in
// driver.NICStats.Extra order.
var e1000Extras = []string{"rx_errors", "rx_fragments", "rx_jabbers", "collisions", "rx_broadcast", "rx_multicast"}

// Queues is the device behind the core's queue-based interface, and its
// buffers.
func (d *Device) Queues() (driver.NIC, driver.Buffers) {
	q := &queueNIC{d: d}
	q.info = driver.NICInfo{
		Name: d.Name(), MAC: d.MAC(), Queues: 1, MaxQueues: 1,
		Vectors: d.vectors, Extras: e1000Extras,
	}
	if len(d.vectors) > 0 {
		// Every vector serves queue 0; with MSI-X its RX vector is the one
		// a received frame fires.
		q.info.QueueVector = []int{0}
		if d.msix {
			q.info.QueueVector[0] = VecRX
		}
	}
	return q, nicBuffers{d.nic}
}

var (
	_ driver.NIC       = (*queueNIC)(nil)
	_ driver.TxBatcher = (*queueNIC)(nil)
)

func (q *queueNIC) Info() *driver.NICInfo { return &q.info }

// RxBurst harvests through Device.RxBurst, which flags frames that spanned
// descriptors (driver.RxIncomplete).
func (q *queueNIC) RxBurst(_ int, out []driver.RxDesc) int { return q.d.RxBurst(out) }

// SetTxBatch and FlushTx batch the TX doorbell (driver.TxBatcher).
func (q *queueNIC) SetTxBatch(batch int) { q.d.SetTxBatch(batch) }
func (q *queueNIC) FlushTx(int)          { q.d.FlushTx() }

func (q *queueNIC) Refill(int) int  { return q.d.RefillRx() }
func (q *queueNIC) Reclaim(int) int { return q.d.ReclaimTx() }

// TxBurst queues frames up to the first that no buffer could hold (the NIC's
// TxBurst treats those as a programming error and panics; here they are
// input, left to the caller).
func (q *queueNIC) TxBurst(_ int, pkts []driver.TxDesc) int {
	nbufs := uint32(q.d.nic.Buffers())
	sent := 0
	for len(pkts) > 0 {
		n := 0
		for n < min(len(pkts), len(q.tx)) {
			p := pkts[n]
			if p.Len == 0 || p.Len > BufSize || p.Buf >= nbufs {
				break
			}
			q.tx[n] = TxPacket{Buf: p.Buf, Len: p.Len}
			n++
		}
		k := q.d.txBurst(q.tx[:n])
		sent += k
		if k < n || n < len(q.tx) { // ring full, an invalid frame, or done
			break
		}
		pkts = pkts[k:]
	}
	return sent
}

func (q *queueNIC) AckIRQ(vec int) driver.Causes { return q.d.AckIRQ(vec) }

// SetIRQ masks through IMC and unmasks through IMS, one write each (the
// e1000 has no per-vector mask register), and neither where it is not
// needed: TX completions never interrupt, and an MSI-X RX vector the NIC
// auto-masked as it fired is not masked again (Device.DisableIRQ).
func (q *queueNIC) SetIRQ(_ int, c driver.Causes, on bool) {
	if on {
		q.d.EnableIRQ(c)
	} else {
		q.d.DisableIRQ(c)
	}
}

// Trigger raises the RX cause through ICS (SDM 13.4.19).
func (q *queueNIC) Trigger(int) { q.d.Kick() }

// ReadStats reports what the NIC counted since the last call, including
// what Reinit collected before its reset.
func (q *queueNIC) ReadStats(s *driver.NICStats) { q.d.readStats(s) }

// CheckHang and Reinit make the queue NIC a driver.Resetter: the Device's.
func (q *queueNIC) CheckHang(now time.Time, timeout time.Duration) (string, bool) {
	return q.d.CheckHang(now, timeout)
}
func (q *queueNIC) Reinit() error { return q.d.Reinit() }

var _ driver.Resetter = (*queueNIC)(nil)

func (q *queueNIC) Close() error { return q.d.Close() }

// nicBuffers is the NIC's own pool as driver.Buffers.
type nicBuffers struct{ n *NIC }

func (b nicBuffers) Packet(buf uint32, n int) []byte { return b.n.Packet(buf, n) }
func (b nicBuffers) Get() (uint32, bool)             { return b.n.AllocBuf() }
func (b nicBuffers) PutMany(bs []uint32)             { b.n.FreeBufs(bs) }
func (b nicBuffers) Available() int                  { return b.n.FreeBuffers() }
