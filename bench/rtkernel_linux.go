package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// guestRTKernel is the real-time scenario beside the guest kernel's own
// driver: the NIC's IRQ moved to core 0 (with threadirqs on the command line
// its IRQ thread follows), and an AF_PACKET reader pinned to core 0 counting
// the flood, as uiodrv's count handler does; with GuestPlan.RTIRQOff both on
// core 1 instead. With GuestPlan.RTKernelBest it is the kernel's best
// real-time configuration instead (rtbest_linux.go).
func guestRTKernel(t *testing.T, plan *GuestPlan, run rtRunFunc) {
	bdf := plan.RTKernel
	tag := bdf + " kernel"
	k, err := OpenKernelPeer(bdf, false)
	if err != nil {
		t.Fatalf("%s: %v", tag, err)
	}
	defer k.Close()
	cpu := 0
	if plan.RTIRQOff {
		cpu = 1
	}
	irqs, err := deviceIRQs(bdf)
	if err != nil {
		t.Fatalf("%s: %v", tag, err)
	}
	note, err := steerIRQs(bdf, cpu)
	if err != nil {
		t.Fatalf("%s: %v", tag, err)
	}
	fmt.Printf("RT NOTE %s: %s\n", tag, note)
	threads, _ := filepath.Glob("/proc/[0-9]*/comm")
	for _, c := range threads {
		for _, n := range irqs {
			if b, _ := os.ReadFile(c); strings.HasPrefix(string(b), "irq/"+n+"-") {
				fmt.Printf("RT NOTE %s: irq thread %s", tag, b)
			}
		}
	}
	if plan.RTKernelBest {
		napiCPU := cpu
		if plan.RTKernelNAPIOff {
			napiCPU = 1 - cpu
		}
		notes, err := kernelBest(k.ifi.Name, irqs, cpu, napiCPU)
		for _, n := range notes {
			fmt.Printf("RT NOTE %s: best: %s\n", tag, n)
		}
		if err != nil {
			t.Fatalf("%s: the kernel's best real-time configuration: %v", tag, err)
		}
	}
	srv := &Server{}
	var stop atomic.Bool
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		var set unix.CPUSet
		set.Set(cpu)
		if err := unix.SchedSetaffinity(0, &set); err != nil {
			done <- err
			return
		}
		done <- k.Serve(srv, stop.Load)
	}()
	run(tag, nil, srv, nil)
	stop.Store(true)
	if err := <-done; err != nil {
		t.Errorf("%s: %v", tag, err)
	}
	if plan.RTKernelBest {
		for _, n := range kernelBestReadBack(k.ifi.Name, irqs) {
			fmt.Printf("RT NOTE %s: best, after the run: %s\n", tag, n)
		}
	}
	c, _ := srv.Served()
	fmt.Printf("RT NOTE %s: the reader counted %d frames in all\n", tag, c)
}
