package igb

import "encoding/binary"

// setupRSS programs receive-side scaling when more than one queue is in use
// (82576 7.1.2.8; Linux igb_setup_mrqc): the Toeplitz key in RSSRK, the
// 128-entry redirection table in RETA, and MRQC to hash IPv4 addresses and
// TCP/UDP ports. RXCSUM.PCSD puts the hash in the descriptor in place of
// the packet checksum; QEMU's igb does not spread without it.
func (n *NIC) setupRSS() {
	r := n.opts.RSS
	if r == nil {
		n.wr(MRQC, 0)
		return
	}
	for i := 0; i < len(r.Key)/4; i++ {
		n.wr(RSSRK(i), binary.LittleEndian.Uint32(r.Key[4*i:]))
	}
	for i := 0; i < len(r.RETA)/4; i++ {
		// Entry 4i in bits 7:0; the 82576 takes the queue from the
		// low bits of each byte.
		n.wr(RETA(i), binary.LittleEndian.Uint32(r.RETA[4*i:]))
	}
	if !probe.noPCSD {
		n.set(RXCSUM, RXCSUM_PCSD)
	}
	n.wr(MRQC, MRQC_ENABLE_RSS_MQ|MRQC_RSS_FIELD_IPV4|MRQC_RSS_FIELD_IPV4_TCP|MRQC_RSS_FIELD_IPV4_UDP)
}
