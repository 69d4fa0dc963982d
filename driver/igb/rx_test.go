package igb_test

import (
	"testing"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/igb"
)

// TestRxDropsSegmentedAndOversize: descriptors from the device are
// untrusted. A frame spread over three descriptors yields one RxDesc, its
// first, flagged as an RX error (the port drops and counts it); its later
// pieces never reach the handler and their buffers go back to the pool. A
// length above the buffer is clamped and flagged. Before, the last piece
// was passed on as a whole frame and an oversize length was clamped
// silently, as e1000 does not.
func TestRxDropsSegmentedAndOversize(t *testing.T) {
	c := newCountedNIC(t, igb.Options{Queues: 1, RxRingSize: 64, TxRingSize: 64}, 256)
	c.nic.Refill(0)
	free := c.pool.Available()
	piece := make([]byte, 2048)
	frame := make([]byte, 60)
	for i := range frame {
		frame[i] = byte(i)
	}
	for _, s := range []struct {
		data   []byte
		length uint16
		status uint32
	}{
		{piece, 2048, igb.RXD_STAT_DD},                         // first piece, no EOP
		{piece, 2048, igb.RXD_STAT_DD},                         // middle piece
		{piece[:100], 100, igb.RXD_STAT_DD | igb.RXD_STAT_EOP}, // last piece
		{frame, 60, igb.RXD_STAT_DD | igb.RXD_STAT_EOP},        // a good frame
		{frame, 9000, igb.RXD_STAT_DD | igb.RXD_STAT_EOP},      // a length above the buffer
	} {
		if !c.dev.ReceiveDesc(s.data, s.length, s.status) {
			t.Fatal("no descriptor posted")
		}
	}
	out := make([]driver.RxDesc, 16)
	k := c.nic.RxBurst(0, out)
	if k != 3 {
		t.Fatalf("RxBurst returned %d descriptors, want 3 (the segmented frame's first, the good frame, the oversize one): %+v", k, out[:k])
	}
	if out[0].Flags&driver.RxIncomplete == 0 {
		t.Errorf("the first piece of a segmented frame is not flagged incomplete: %+v", out[0])
	}
	if out[1].Errors != 0 || out[1].Len != 60 {
		t.Errorf("good frame: %+v", out[1])
	}
	if out[2].Errors == 0 || out[2].Len > driver.BufSize {
		t.Errorf("oversize frame: %+v; want flagged and clamped to %d", out[2], driver.BufSize)
	}
	// The middle and last pieces' buffers went back to the pool.
	if got := c.pool.Available(); got != free+2 {
		t.Errorf("pool has %d free buffers, want %d (the 2 later pieces returned)", got, free+2)
	}
	for i := 0; i < k; i++ {
		c.pool.Put(out[i].Buf)
	}
}
