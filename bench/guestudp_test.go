package bench

import (
	"fmt"
	"testing"
	"time"
)

// guestKernelUDP serves the bench protocol with the kernel's UDP responder
// in mode on a kernel-driven target.
func guestKernelUDP(t *testing.T, tg Target, mode string, cpu *CPUReader) {
	flows := 1
	if tg.Flows {
		flows = BenchFlows
	}
	k, err := OpenKernelUDPPeer(tg.BDF, mode, flows)
	if err != nil {
		t.Fatalf("%s: %v", tg.BDF, err)
	}
	srv := &Server{CPU: cpu.Read}
	fmt.Printf("BENCH READY %s %s\n", tg.BDF, mode)
	deadline := time.Now().Add(guestRunTimeout)
	serr := k.Serve(srv, func() bool { return srv.Done() || time.Now().After(deadline) })
	note := k.Note
	k.Close()
	if serr != nil {
		t.Errorf("%s %s: %v", tg.BDF, mode, serr)
	}
	c, r := srv.Served()
	fmt.Printf("BENCH DONE %s %s if=%s counted=%d reflected=%d%s\n", tg.BDF, mode, k.Name(), c, r, note)
}
