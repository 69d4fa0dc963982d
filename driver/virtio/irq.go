package virtio

import "github.com/uiodrv/uiodrv/driver"

// AckIRQ returns what vector vec signals (driver.NIC). A virtio MSI-X
// message carries no cause register to read or clear (the ISR status is
// for INTx only, virtio 1.2 4.1.4.5): the vector itself is the cause, and
// nothing auto-masks.
func (n *NIC) AckIRQ(vec int) driver.Causes {
	if vec < 0 || vec >= len(n.info.Vectors) {
		return 0
	}
	return n.info.Vectors[vec].Causes
}

// SetIRQ turns interrupts of vector vec on or off through interrupt
// suppression: VIRTQ_AVAIL_F_NO_INTERRUPT in the avail rings of the vector's
// queue pair (RX for CauseRX, TX for CauseTX; virtio 1.2 2.7.7). The flag
// is a hint the device reads before it sends a message, so work it used
// while interrupts were off signals nothing: enabling re-checks the used
// rings after clearing the flag (the flag's update is a full barrier) and
// raises the vector itself when there is work, as an Intel NIC unmasked
// with a cause pending does. The configuration vector (link) is left on.
func (n *NIC) SetIRQ(vec int, c driver.Causes, on bool) {
	if vec < 0 || vec >= n.info.Queues || n.closed.Load() {
		return
	}
	pending := false
	if c&driver.CauseRX != 0 {
		n.rx[vec].suppress(!on)
		pending = on && n.rx[vec].pending()
	}
	if c&driver.CauseTX != 0 {
		n.tx[vec].suppress(!on)
		pending = pending || on && n.tx[vec].pending()
	}
	if pending {
		n.raise(vec)
	}
}

// ReadStats adds the software counters counted since the last call to s,
// and the link: from the device's status field with VIRTIO_NET_F_STATUS,
// else up (5.1.4.2).
func (n *NIC) ReadStats(s *driver.NICStats) {
	n.statsMu.Lock()
	defer n.statsMu.Unlock()
	var now driver.NICStats
	for i := range n.rxStats {
		now.RxPackets += n.rxStats[i].packets.Load()
		now.RxBytes += n.rxStats[i].bytes.Load()
		now.RxLengthErrors += n.rxStats[i].errors.Load()
		now.TxPackets += n.txStats[i].packets.Load()
		now.TxBytes += n.txStats[i].bytes.Load()
	}
	if !n.closed.Load() {
		for _, q := range n.rx {
			now.Extra[0] += q.bad.Load()
			now.Extra[2] += q.notifies.Load()
		}
		for _, q := range n.tx {
			now.Extra[1] += q.bad.Load()
			now.Extra[2] += q.notifies.Load()
		}
	} else {
		now.Extra = n.last.Extra
	}
	s.RxPackets += now.RxPackets - n.last.RxPackets
	s.RxBytes += now.RxBytes - n.last.RxBytes
	s.RxLengthErrors += now.RxLengthErrors - n.last.RxLengthErrors
	s.TxPackets += now.TxPackets - n.last.TxPackets
	s.TxBytes += now.TxBytes - n.last.TxBytes
	for i := range 3 {
		s.Extra[i] += now.Extra[i] - n.last.Extra[i]
	}
	n.last = now
	s.Link = true
	if n.features&(1<<FNetStatus) != 0 && !n.closed.Load() {
		s.Link = n.tr.Device.Read16(NetCfgStatus)&NetSLinkUp != 0
	}
}
