package driver

import (
	"errors"
	"testing"
)

// takeBufs hands n frames to the port as the top half would: each in a
// buffer taken from the device's pool.
func takeBufs(t *testing.T, d *fakeDev, frames ...[]byte) []RxDesc {
	t.Helper()
	var descs []RxDesc
	for _, f := range frames {
		b, ok := d.Get()
		if !ok {
			t.Fatal("pool empty")
		}
		n := copy(d.Packet(b, len(f)), f)
		descs = append(descs, RxDesc{Buf: b, Len: uint16(n)})
	}
	return descs
}

// TestTransmitVerdictInvalid: a handler that asks to transmit or forward an
// empty frame, or one larger than a buffer, never reaches the device (whose
// TX path panics on it): the frame is counted as TxInvalid and its buffer
// freed. A frame the handler built elsewhere is copied into the buffer.
func TestTransmitVerdictInvalid(t *testing.T) {
	big := make([]byte, DefaultBufSize+1)
	for _, tc := range []struct {
		name    string
		verdict Verdict
		data    func(old []byte) []byte
		invalid uint64
		sent    int
	}{
		{"transmit empty", Transmit, func([]byte) []byte { return nil }, 1, 0},
		{"transmit resliced to 0", Transmit, func(old []byte) []byte { return old[:0] }, 1, 0},
		{"transmit oversize", Transmit, func([]byte) []byte { return big }, 1, 0},
		{"forward empty", Forward, func([]byte) []byte { return nil }, 1, 0},
		{"forward oversize", Forward, func([]byte) []byte { return big }, 1, 0},
		{"transmit new frame", Transmit, func([]byte) []byte { return frame(7, 100) }, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dev := newFakeDev(t, 8)
			fdev := newFakeDev(t, 8)
			fwd, err := newPort(fdev, fdev, Config{})
			if err != nil {
				t.Fatal(err)
			}
			h := HandlerFunc(func(pkts []Packet) {
				for i := range pkts {
					pkts[i].Data = tc.data(pkts[i].Data)
					pkts[i].Verdict = tc.verdict
				}
			})
			p, err := newPort(dev, dev, Config{Handler: h, Forward: fwd})
			if err != nil {
				t.Fatal(err)
			}
			p.queues[0].process(takeBufs(t, dev, frame(1, 60)))
			st := p.Stats()
			if st.TxInvalid != tc.invalid || st.Processed != 1 {
				t.Fatalf("tx_invalid %d processed %d, want %d and 1", st.TxInvalid, st.Processed, tc.invalid)
			}
			sent := dev.sentFrames()
			if len(sent) != tc.sent || len(fdev.sentFrames()) != 0 {
				t.Fatalf("device sent %d frames (forward port %d), want %d", len(sent), len(fdev.sentFrames()), tc.sent)
			}
			if tc.sent == 1 && string(sent[0]) != string(frame(7, 100)) {
				t.Fatalf("sent frame differs from the handler's")
			}
			if dev.freeCount() != 8 || fdev.freeCount() != 8 {
				t.Fatalf("buffers leaked: %d and %d of 8 free", dev.freeCount(), fdev.freeCount())
			}
		})
	}
}

// TestPortTransmitRefusesBadFrames: Port.Transmit refuses an empty or
// oversize frame before anything is queued.
func TestPortTransmitRefusesBadFrames(t *testing.T) {
	for _, bad := range [][]byte{make([]byte, DefaultBufSize+1), {}} {
		dev := newFakeDev(t, 8)
		p, err := newPort(dev, dev, Config{})
		if err != nil {
			t.Fatal(err)
		}
		n, err := p.Transmit([][]byte{frame(1, 60), bad})
		if !errors.Is(err, ErrFrameSize) || n != 0 {
			t.Fatalf("Transmit with a %d-byte frame = %d, %v; want 0, ErrFrameSize", len(bad), n, err)
		}
		if len(dev.sentFrames()) != 0 || dev.freeCount() != 8 {
			t.Fatalf("a refused batch sent %d frames, %d of 8 buffers free", len(dev.sentFrames()), dev.freeCount())
		}
	}
	dev := newFakeDev(t, 8)
	p, err := newPort(dev, dev, Config{})
	if err != nil {
		t.Fatal(err)
	}
	full := frame(2, DefaultBufSize)
	if n, err := p.Transmit([][]byte{full}); n != 1 || err != nil {
		t.Fatalf("Transmit of a %d-byte frame = %d, %v", len(full), n, err)
	}
	if s := dev.sentFrames(); len(s) != 1 || string(s[0]) != string(full) {
		t.Fatal("the full-size frame was not sent intact")
	}
}

// TestIncompleteFramesDropped: a frame the driver flags RxIncomplete (no
// end-of-packet bit) is dropped as DropNoEOP, never handed to the handler.
func TestIncompleteFramesDropped(t *testing.T) {
	dev := newFakeDev(t, 8)
	seen := 0
	p, err := newPort(dev, dev, Config{Handler: HandlerFunc(func(pkts []Packet) { seen += len(pkts) })})
	if err != nil {
		t.Fatal(err)
	}
	descs := takeBufs(t, dev, frame(1, 60), frame(2, 60), frame(3, 60))
	descs[1].Flags = RxIncomplete
	p.queues[0].process(descs)
	st := p.Stats()
	if seen != 2 || st.Drops[DropNoEOP] != 1 || st.Drops[DropRxError] != 0 || dev.freeCount() != 8 {
		t.Fatalf("handler saw %d, drops %v, %d of 8 buffers free; want 2 seen, one rx_no_eop", seen, st.Drops, dev.freeCount())
	}
}
