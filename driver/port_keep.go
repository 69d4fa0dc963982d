package driver

// Buffers a handler kept (verdict Keep) and where Forward verdicts go.

// putter is a pool that takes back one buffer without a slice (FreeList,
// and so BufPool): Release then allocates nothing.
type putter interface {
	Put(b uint32)
}

// Release gives back the buffer of a packet its handler kept (verdict Keep,
// buffer Packet.Desc.Buf): the port may post it to the NIC again, so the
// handler must not touch the packet's Data from the call on. Release may be
// called from any goroutine, once per kept buffer; releasing a buffer that
// was not kept, or twice, is a bug that panics. It allocates nothing with
// the core's BufPool.
func (p *Port) Release(buf uint32) {
	if pu, ok := p.bufs.(putter); ok {
		pu.Put(buf)
	} else {
		p.bufs.PutMany([]uint32{buf})
	}
	// A top half may have found the pool empty while the handler held
	// the last buffers: let it refill now.
	if !p.closing.Load() {
		p.kickStarved()
	}
}

// ReleaseMany is Release for several kept buffers, under one pool lock.
func (p *Port) ReleaseMany(bufs []uint32) {
	if len(bufs) == 0 {
		return
	}
	p.bufs.PutMany(bufs)
	if !p.closing.Load() {
		p.kickStarved()
	}
}

// SetForward makes to the port that Forward verdicts transmit on (nil: none;
// they are counted as TxDropped), replacing Config.Forward. It returns once
// no bottom half of p sends into the previous forward port any more, so a
// port another one forwards to may be closed safely after that one's
// SetForward(nil): two ports can forward to each other (an L2 forwarder).
func (p *Port) SetForward(to *Port) {
	p.fwdMu.Lock()
	p.fwd = to
	p.fwdMu.Unlock()
}
