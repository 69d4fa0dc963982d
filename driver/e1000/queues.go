package e1000

import "github.com/uiodrv/uiodrv/driver"

// queueNIC is the e1000 behind the core's queue-based driver.NIC: one queue
// (the 82574L's second RX queue is not used), on the vectors the Device
// attached. It is the first step of moving the e1000 onto that interface: the
// buffer pool is still the NIC's own (Buffers), not one the core hands in.
type queueNIC struct {
	d    *Device
	info driver.NICInfo
	rx   [64]RxPacket // RX path only
	tx   [64]TxPacket // TX path only
	hw   HWStats      // ReadStats only
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

var _ driver.NIC = (*queueNIC)(nil)

func (q *queueNIC) Info() *driver.NICInfo { return &q.info }

func (q *queueNIC) RxBurst(_ int, out []driver.RxDesc) int {
	out = out[:min(len(out), len(q.rx))]
	n := q.d.nic.RxBurst(q.rx[:len(out)])
	for i, p := range q.rx[:n] {
		out[i] = driver.RxDesc{Buf: p.Buf, Len: p.Len, Status: p.Status, Errors: p.Errors, VLAN: p.Special}
	}
	return n
}

func (q *queueNIC) Refill(int) int  { return q.d.nic.RefillRx() }
func (q *queueNIC) Reclaim(int) int { return q.d.nic.ReclaimTx() }

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
		k := q.d.nic.TxBurst(q.tx[:n])
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

func (q *queueNIC) ReadStats(s *driver.NICStats) {
	p := q.hw
	q.d.nic.ReadStats(&q.hw)
	h := &q.hw
	s.RxPackets += h.GPRC - p.GPRC
	s.RxBytes += h.GORC - p.GORC
	s.RxMissed += h.MPC - p.MPC
	s.RxNoBuffer += h.RNBC - p.RNBC
	s.RxCRCErrors += h.CRCERRS - p.CRCERRS
	s.RxLengthErrors += h.RLEC - p.RLEC
	s.RxUndersize += h.RUC - p.RUC
	s.RxOversize += h.ROC - p.ROC
	s.TxPackets += h.GPTC - p.GPTC
	s.TxBytes += h.GOTC - p.GOTC
	for i, d := range [...]uint64{h.RXERRC - p.RXERRC, h.RFC - p.RFC, h.RJC - p.RJC, h.COLC - p.COLC, h.BPRC - p.BPRC, h.MPRC - p.MPRC} {
		s.Extra[i] += d
	}
	s.Link, s.SpeedMbps = q.d.nic.LinkUp()
}

func (q *queueNIC) Close() error { return q.d.Close() }

// nicBuffers is the NIC's own pool as driver.Buffers.
type nicBuffers struct{ n *NIC }

func (b nicBuffers) Packet(buf uint32, n int) []byte { return b.n.Packet(buf, n) }
func (b nicBuffers) Get() (uint32, bool)             { return b.n.AllocBuf() }
func (b nicBuffers) PutMany(bs []uint32)             { b.n.FreeBufs(bs) }
func (b nicBuffers) Available() int                  { return b.n.FreeBuffers() }
