package e1000_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/deferral"
	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/e1000"
)

// TestRxNoEOPDropsWholeFrame: a device that writes one frame over three
// descriptors (EOP only on the last), split across two RxBurst calls. The
// first descriptor comes back without EOP (flagged RxIncomplete through
// Device.RxBurst), the other two are never returned and their buffers are
// freed; the next whole frame is returned normally.
func TestRxNoEOPDropsWholeFrame(t *testing.T) {
	n, dev, _ := newNIC(t, e1000.Model82540EM, e1000.Options{RxRingSize: 16, Buffers: 32})
	free := n.Pool().Available()
	part := e1000.RxDesc{Length: 60, Status: e1000.RXD_STAT_DD}
	dev.ReceiveWith(frame(1), part)
	dev.ReceiveWith(frame(2), part)
	out := make([]driver.RxDesc, 8)
	if got := n.RxBurst(0, out); got != 1 || out[0].Status&e1000.RXD_STAT_EOP != 0 {
		t.Fatalf("RxBurst = %d, %+v; want the frame's first descriptor, without EOP", got, out[0])
	}
	n.Pool().Put(out[0].Buf)
	dev.ReceiveWith(frame(3), e1000.RxDesc{Length: 60, Status: e1000.RXD_STAT_DD | e1000.RXD_STAT_EOP})
	dev.Receive(frame(4))
	got := n.RxBurst(0, out)
	if got != 1 || out[0].Status&e1000.RXD_STAT_EOP == 0 || !bytes.Equal(n.Pool().Packet(out[0].Buf, int(out[0].Len)), frame(4)) {
		t.Fatalf("RxBurst after the cut frame = %d, %+v; want frame 4 alone", got, out[0])
	}
	n.Pool().Put(out[0].Buf)
	n.Refill(0)
	if n.Pool().Available() != free {
		t.Fatalf("%d buffers free, want %d: the cut frame's buffers leaked", n.Pool().Available(), free)
	}
}

// TestPortSurvivesInvalidTransmitVerdicts runs a port on the e1000 (fake
// registers) with a handler that asks to transmit empty and oversize frames:
// the e1000's TxBurst panics on those, so the core must count them
// (TxInvalid), free their buffers and go on; the valid ones are reflected.
func TestPortSurvivesInvalidTransmitVerdicts(t *testing.T) {
	dev, fake, _, _, _ := newTeardownDevice(t, e1000.Model82540EM, false)
	big := make([]byte, e1000.BufSize+1)
	h := driver.HandlerFunc(func(pkts []driver.Packet) {
		for i := range pkts {
			switch pkts[i].Data[17] % 3 { // the frame's sequence number
			case 1:
				pkts[i].Data = pkts[i].Data[:0]
			case 2:
				pkts[i].Data = big
			}
			pkts[i].Verdict = driver.Transmit
		}
	})
	port, err := driver.NewPort(dev, driver.Config{Mode: deferral.ModeBusyPoll, Handler: h, IRQCPU: -1, BHCPU: -1})
	if err != nil {
		t.Fatal(err)
	}
	const frames = 30
	var sent [][]byte
	for i := uint32(0); i < frames; i++ {
		if !fake.Receive(frame(i)) {
			t.Fatalf("device refused frame %d", i)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(sent) < frames/3 && time.Now().Before(deadline) {
		sent = append(sent, fake.Transmit(0)...)
		time.Sleep(time.Millisecond)
	}
	st := port.Stats()
	if err := port.Close(); err != nil {
		t.Fatal(err)
	}
	if st.Processed != frames || st.TxInvalid != 2*frames/3 || len(sent) != frames/3 {
		t.Fatalf("processed %d, tx_invalid %d, sent %d; want %d, %d, %d", st.Processed, st.TxInvalid, len(sent), frames, 2*frames/3, frames/3)
	}
	for _, f := range sent {
		if f[17]%3 != 0 || len(f) != 60 {
			t.Fatalf("sent an invalid frame: % x", f[:20])
		}
	}
}
