package deferral_test

import (
	"fmt"
	"sync/atomic"

	"github.com/uiodrv/uiodrv/deferral"
	"github.com/uiodrv/uiodrv/internal/unix"
)

// A driver's interrupt path: the top half (an IRQ handler on a CPU) takes the
// interrupt and schedules the bottom half chosen by mode; the bottom half
// polls in batches and re-enables the device's interrupt when it is done.
func Example() {
	// The "device": an eventfd it writes when it has packets, and a backlog.
	irqFd, _ := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	defer unix.Close(irqFd)
	var backlog, polls atomic.Int64
	backlog.Store(100)

	// RTPrio 0 keeps the example runnable without CAP_SYS_NICE; a driver
	// would give the top half a real-time priority such as 90.
	cpu, err := deferral.NewCPU(deferral.CPUOptions{CPU: 0, RTPrio: 0, Name: "eth0"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cpu.Close()

	mode, _ := deferral.ParseMode("napi")
	done := make(chan struct{})
	bh, err := deferral.NewExecutor(deferral.ExecutorOptions{
		Mode: mode,
		CPU:  cpu,
		Poll: func(budget int) int { // bottom half: up to budget packets
			polls.Add(1)
			n := min(int64(budget), backlog.Load())
			backlog.Add(-n)
			return int(n)
		},
		Reenable: func() { close(done) }, // here a driver unmasks the NIC (IMS)
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer bh.Close()

	_, err = cpu.RequestIRQ(deferral.IRQ{Fd: irqFd}, func() deferral.IRQReturn {
		// top half: read ICR, harvest descriptors, mask the NIC, then:
		bh.Schedule()
		return deferral.IRQHandled
	}, "eth0-rx")
	if err != nil {
		fmt.Println(err)
		return
	}

	unix.Write(irqFd, []byte{1, 0, 0, 0, 0, 0, 0, 0}) // the device interrupts
	<-done
	fmt.Printf("%v: %d packets left after %d polls of at most %d\n", mode, backlog.Load(), polls.Load(), deferral.NAPIPollWeight)
	// Output: napi: 0 packets left after 2 polls of at most 64
}
