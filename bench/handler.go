package bench

import (
	"time"

	"github.com/uiodrv/uiodrv/driver"
)

// Handler serves the bench protocol as a uiodrv packet handler: reflected
// frames are transmitted zero-copy from their receive buffers.
type Handler struct {
	Srv *Server
	// Work is CPU spent on each counted frame (the real-time scenario's
	// CPU-heavy handler); zero in the throughput measurements.
	Work time.Duration
	// Marks, when set, takes the snapshots of the host's phase marks
	// (marks.go).
	Marks *PhaseMarks
}

var _ driver.Handler = (*Handler)(nil)

// Handle serves each frame.
func (h *Handler) Handle(pkts []driver.Packet) {
	for i := range pkts {
		d := pkts[i].Data
		var mark uint64
		if h.Marks != nil {
			if op, seq, ok := ParseFrame(d); ok && op == OpQuery {
				if on, ok := parseProfile(seq); ok && h.Marks.Profile != nil {
					h.Marks.Profile(on)
				} else if _, end, ok := parseMark(seq); ok {
					if mark = seq; !end {
						h.Marks.Begin(seq)
					} else {
						_, r := h.Srv.Served()
						h.Marks.Record(seq, r)
						mark = 0
					}
				}
			}
		}
		if h.Srv.Serve(d) {
			pkts[i].Verdict = driver.Transmit
		} else if h.Work > 0 {
			Spin(h.Work)
		}
		if mark != 0 {
			_, r := h.Srv.Served()
			h.Marks.Record(mark, r)
		}
	}
}
