package e1000

import (
	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/intel"
)

// HWStats accumulates the NIC's statistics counters (SDM 13.7; 82574 10.2.8).
// The registers clear on read, so each read adds what was counted since
// the previous one. Field names are the register names.
type HWStats struct {
	CRCERRS  uint64 // CRC errors
	ALGNERRC uint64 // alignment errors
	SYMERRS  uint64 // symbol errors
	RXERRC   uint64 // RX errors
	MPC      uint64 // missed packets (RX FIFO full or no descriptors)
	SCC      uint64 // single collisions
	ECOL     uint64 // excessive collisions
	MCC      uint64 // multiple collisions
	LATECOL  uint64 // late collisions
	COLC     uint64 // collisions
	DC       uint64 // defers
	TNCRS    uint64 // TX with no carrier sense
	CEXTERR  uint64 // carrier extension errors
	RLEC     uint64 // receive length errors
	XONRXC   uint64 // XON received
	XONTXC   uint64 // XON transmitted
	XOFFRXC  uint64 // XOFF received
	XOFFTXC  uint64 // XOFF transmitted
	FCRUC    uint64 // unsupported flow control frames received
	GPRC     uint64 // good packets received
	BPRC     uint64 // broadcast packets received
	MPRC     uint64 // multicast packets received
	GPTC     uint64 // good packets transmitted
	GORC     uint64 // good octets received
	GOTC     uint64 // good octets transmitted
	RNBC     uint64 // frames received with no RX descriptor available
	RUC      uint64 // undersize frames received
	RFC      uint64 // fragments received
	ROC      uint64 // oversize frames received
	RJC      uint64 // jabbers received
	TOR      uint64 // total octets received
	TOT      uint64 // total octets transmitted
	TPR      uint64 // total packets received
	TPT      uint64 // total packets transmitted
	MPTC     uint64 // multicast packets transmitted
	BPTC     uint64 // broadcast packets transmitted
}

// readHW reads every statistics register, which clears it, and adds the
// values to s. Callers hold hwMu (or own the NIC alone, at init), and read
// often enough that no 32-bit counter wraps (at 1.5 Mpps GPRC wraps in
// about 48 minutes). It allocates nothing.
func (n *NIC) readHW(s *HWStats) {
	r := func(reg Reg) uint64 { return uint64(n.rd(reg)) }
	// 64-bit counters: low first, then high, which clears both (SDM 13.7).
	r64 := func(lo, hi Reg) uint64 { l := r(lo); return r(hi)<<32 | l }
	s.CRCERRS += r(intel.CRCERRS)
	s.ALGNERRC += r(ALGNERRC)
	s.SYMERRS += r(SYMERRS)
	s.RXERRC += r(intel.RXERRC)
	s.MPC += r(intel.MPC)
	s.SCC += r(SCC)
	s.ECOL += r(ECOL)
	s.MCC += r(MCC)
	s.LATECOL += r(LATECOL)
	s.COLC += r(intel.COLC)
	s.DC += r(DC)
	s.TNCRS += r(TNCRS)
	s.CEXTERR += r(CEXTERR)
	s.RLEC += r(intel.RLEC)
	s.XONRXC += r(XONRXC)
	s.XONTXC += r(XONTXC)
	s.XOFFRXC += r(XOFFRXC)
	s.XOFFTXC += r(XOFFTXC)
	s.FCRUC += r(FCRUC)
	s.GPRC += r(intel.GPRC)
	s.BPRC += r(intel.BPRC)
	s.MPRC += r(intel.MPRC)
	s.GPTC += r(intel.GPTC)
	s.GORC += r64(intel.GORCL, intel.GORCH)
	s.GOTC += r64(intel.GOTCL, intel.GOTCH)
	s.RNBC += r(intel.RNBC)
	s.RUC += r(intel.RUC)
	s.RFC += r(intel.RFC)
	s.ROC += r(intel.ROC)
	s.RJC += r(intel.RJC)
	s.TOR += r64(TORL, TORH)
	s.TOT += r64(TOTL, TOTH)
	s.TPR += r(TPR)
	s.TPT += r(TPT)
	s.MPTC += r(MPTC)
	s.BPTC += r(BPTC)
}

// clearStats zeroes the counters at init by reading them (SDM 14.7: they are
// not cleared by a software reset on every part).
func (n *NIC) clearStats() {
	var s HWStats
	n.readHW(&s)
}

// ReadStats adds what the NIC counted since the last call (including what
// Reinit collected before its reset) under the generic names and the
// e1000's extras (e1000Extras), and reports the link (driver.NIC).
func (n *NIC) ReadStats(s *driver.NICStats) {
	n.hwMu.Lock()
	defer n.hwMu.Unlock()
	n.readHW(&n.hw)
	h, p := &n.hw, &n.reported
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
	for i, x := range [...]uint64{h.RXERRC - p.RXERRC, h.RFC - p.RFC, h.RJC - p.RJC, h.COLC - p.COLC, h.BPRC - p.BPRC, h.MPRC - p.MPRC} {
		s.Extra[i] += x
	}
	n.reported = n.hw
	s.Link, s.SpeedMbps = n.LinkUp()
}

// HWStats returns every hardware counter accumulated so far (it reads the
// registers first).
func (n *NIC) HWStats() HWStats {
	n.hwMu.Lock()
	defer n.hwMu.Unlock()
	n.readHW(&n.hw)
	return n.hw
}

// LinkUp reports the link state and speed in Mb/s from STATUS (SDM 13.4.2).
func (n *NIC) LinkUp() (up bool, speedMbps int) {
	st := n.rd(intel.STATUS)
	if st&intel.STATUS_LU == 0 {
		return false, 0
	}
	switch st & intel.STATUS_SPEED_MASK {
	case STATUS_SPEED_10:
		return true, 10
	case intel.STATUS_SPEED_100:
		return true, 100
	default:
		return true, 1000
	}
}
