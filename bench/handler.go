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
}

var _ driver.Handler = (*Handler)(nil)

// Handle serves each frame.
func (h *Handler) Handle(pkts []driver.Packet) {
	for i := range pkts {
		if h.Srv.Serve(pkts[i].Data) {
			pkts[i].Verdict = driver.Transmit
		} else if h.Work > 0 {
			Spin(h.Work)
		}
	}
}
