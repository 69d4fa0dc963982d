package igb

import (
	"fmt"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/intel"
)

// HWStats are the NIC's counters, accumulated across clear-on-read.
type HWStats struct {
	GPRC, GPTC, GORC, GOTC, MPC, RNBC, CRCERRS, RLEC, RUC, ROC uint64
	RXERRC, RFC, RJC, BPRC, MPRC                               uint64
	RQDPC                                                      [16]uint64 // per queue
}

// The extras, in driver.NICStats.Extra order: the fixed ones, then one drop
// counter per queue in use (Linux ethtool's rx_queue_N_drops).
var fixedExtras = []string{"rx_errors", "rx_fragments", "rx_jabbers", "rx_broadcast", "rx_multicast"}

func extraNames(queues int) []string {
	names := append([]string(nil), fixedExtras...)
	for q := 0; q < queues && len(names) < driver.MaxExtras; q++ {
		names = append(names, fmt.Sprintf("rx_queue_%d_drops", q))
	}
	return names
}

// read64 reads a 64-bit octet counter: low half first, since reading the
// high half clears both (82576 8.19).
func (n *NIC) read64(lo Reg) uint64 {
	l := uint64(n.rd(lo))
	return l | uint64(n.rd(lo+4))<<32
}

// ReadStats adds the counters read since the last call to s and reports the
// link (driver.NIC).
func (n *NIC) ReadStats(s *driver.NICStats) {
	n.statsMu.Lock()
	defer n.statsMu.Unlock()
	d := n.carry // what Reinit read before its reset
	n.carry = HWStats{}
	n.readHW(&d)
	n.hw.add(&d)

	s.RxPackets += d.GPRC
	s.RxBytes += d.GORC
	s.RxMissed += d.MPC
	s.RxNoBuffer += d.RNBC
	s.RxCRCErrors += d.CRCERRS
	s.RxLengthErrors += d.RLEC
	s.RxUndersize += d.RUC
	s.RxOversize += d.ROC
	s.TxPackets += d.GPTC
	s.TxBytes += d.GOTC
	for i, v := range [...]uint64{d.RXERRC, d.RFC, d.RJC, d.BPRC, d.MPRC} {
		s.Extra[i] += v
	}
	for q := 0; q < n.opts.Queues && len(fixedExtras)+q < driver.MaxExtras; q++ {
		s.Extra[len(fixedExtras)+q] += d.RQDPC[q]
	}
	s.Link, s.SpeedMbps = n.Link()
}

// readHW adds the statistics registers, which clear on read, to d. The
// caller holds statsMu.
func (n *NIC) readHW(d *HWStats) {
	var r HWStats
	r.GPRC, r.GPTC = uint64(n.rd(intel.GPRC)), uint64(n.rd(intel.GPTC))
	r.GORC, r.GOTC = n.read64(intel.GORCL), n.read64(intel.GOTCL)
	r.MPC, r.RNBC = uint64(n.rd(intel.MPC)), uint64(n.rd(intel.RNBC))
	r.CRCERRS, r.RLEC = uint64(n.rd(intel.CRCERRS)), uint64(n.rd(intel.RLEC))
	r.RUC, r.ROC = uint64(n.rd(intel.RUC)), uint64(n.rd(intel.ROC))
	r.RXERRC, r.RFC, r.RJC = uint64(n.rd(intel.RXERRC)), uint64(n.rd(intel.RFC)), uint64(n.rd(intel.RJC))
	r.BPRC, r.MPRC = uint64(n.rd(intel.BPRC)), uint64(n.rd(intel.MPRC))
	for q := 0; q < n.opts.Queues; q++ {
		r.RQDPC[q] = uint64(n.rd(RQDPC(q)))
	}
	d.add(&r)
}

// HWStats returns every counter accumulated so far.
func (n *NIC) HWStats() HWStats {
	n.statsMu.Lock()
	defer n.statsMu.Unlock()
	return n.hw
}

func (h *HWStats) add(d *HWStats) {
	h.GPRC += d.GPRC
	h.GPTC += d.GPTC
	h.GORC += d.GORC
	h.GOTC += d.GOTC
	h.MPC += d.MPC
	h.RNBC += d.RNBC
	h.CRCERRS += d.CRCERRS
	h.RLEC += d.RLEC
	h.RUC += d.RUC
	h.ROC += d.ROC
	h.RXERRC += d.RXERRC
	h.RFC += d.RFC
	h.RJC += d.RJC
	h.BPRC += d.BPRC
	h.MPRC += d.MPRC
	for q := range h.RQDPC {
		h.RQDPC[q] += d.RQDPC[q]
	}
}

// Link reports STATUS.LU and the speed in Mb/s (82576 8.2.2).
func (n *NIC) Link() (up bool, mbps int) {
	s := n.rd(intel.STATUS)
	if s&intel.STATUS_LU == 0 {
		return false, 0
	}
	switch s & intel.STATUS_SPEED_MASK {
	case intel.STATUS_SPEED_1000, intel.STATUS_SPEED_MASK:
		return true, 1000
	case intel.STATUS_SPEED_100:
		return true, 100
	}
	return true, 10
}
