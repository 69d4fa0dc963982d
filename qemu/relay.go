package qemu

import (
	"context"
	"time"
)

// Relay copies the frames keep accepts from one peer to the others until ctx
// ends: a cable between lab NICs, through the host, that leaves the guest
// kernels' own chatter behind. Paced, it rests 2 ms after every 16 frames (at
// most 8 kpps): a NIC sends a whole TX ring in one burst, faster than a guest
// kernel's e1000 takes frames under TCG, and QEMU's netdev socket for that NIC
// (default buffer, about a hundred frames) drops the rest once its ring is
// full; the host peer's socket buffer holds what waits.
func Relay(ctx context.Context, from *Peer, keep func([]byte) bool, paced bool, to ...*Peer) {
	buf := make([]byte, 4096)
	sent := 0
	for ctx.Err() == nil {
		n, err := from.RecvInto(buf, time.Now().Add(200*time.Millisecond))
		if err != nil || !keep(buf[:n]) {
			continue
		}
		for _, p := range to {
			_ = p.Send(buf[:n])
		}
		if sent++; paced && sent%16 == 0 {
			time.Sleep(2 * time.Millisecond)
		}
	}
}
