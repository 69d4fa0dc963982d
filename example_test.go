package uiodrv_test

import (
	"context"
	"fmt"
	"log"
	"os/signal"
	"syscall"
	"time"

	"github.com/uiodrv/uiodrv"
	"github.com/uiodrv/uiodrv/driver/drivertest"
	"github.com/uiodrv/uiodrv/handler"
)

// Open a NIC by its PCI address, reflect every frame back to its sender in
// NAPI mode until SIGINT, and print the port's counters. The device must be
// bound to vfio-pci first (uiodrv bind --dev 0000:00:03.0).
func ExampleOpen() {
	port, err := uiodrv.Open("0000:00:03.0", uiodrv.Config{
		Mode:    uiodrv.ModeNAPI,
		Handler: handler.Reflect{},
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT)
	defer stop()
	<-ctx.Done()
	st := port.Stats()
	if err := port.Close(); err != nil {
		log.Fatal(err)
	}
	fmt.Println(&st)
}

// A handler is a function over a batch of frames that sets each one's
// verdict. This one answers every frame with its MAC addresses swapped; it
// runs here on the conformance kit's in-memory NIC, so that the example
// needs no hardware.
func ExampleNewPort() {
	dev, err := drivertest.NewFakeDevice(drivertest.FakeOptions{IRQ: true}, 256)
	if err != nil {
		log.Fatal(err)
	}
	swap := uiodrv.HandlerFunc(func(pkts []uiodrv.Packet) {
		for i := range pkts {
			d := pkts[i].Data
			var mac [6]byte
			copy(mac[:], d[0:6])
			copy(d[0:6], d[6:12])
			copy(d[6:12], mac[:])
			pkts[i].Verdict = uiodrv.Transmit
		}
	})
	port, err := uiodrv.NewPort(dev, uiodrv.Config{Handler: swap}) // owns dev from now on
	if err != nil {
		log.Fatal(err)
	}
	defer port.Close()

	frame := []byte{
		0x02, 0, 0, 0, 0, 0x01, // destination: the NIC
		0x02, 0, 0, 0, 0, 0x02, // source
		0x88, 0xb5, // EtherType: local experimental
		'h', 'e', 'l', 'l', 'o',
	}
	if err := dev.Wire().Send(frame); err != nil {
		log.Fatal(err)
	}
	for _, f := range dev.Await(1, 5*time.Second) {
		fmt.Printf("% x %q\n", f[:12], f[14:])
	}
	// Output: 02 00 00 00 00 02 02 00 00 00 00 01 "hello"
}

// A handler that keeps frames (verdict Keep) hands them to another
// goroutine; the port does not reuse their buffers until Release.
func ExamplePort_Release() {
	dev, err := drivertest.NewFakeDevice(drivertest.FakeOptions{IRQ: true}, 256)
	if err != nil {
		log.Fatal(err)
	}
	kept := make(chan uiodrv.Packet, 64)
	keep := uiodrv.HandlerFunc(func(pkts []uiodrv.Packet) {
		for i := range pkts {
			select {
			case kept <- pkts[i]:
				pkts[i].Verdict = uiodrv.Keep
			default: // the consumer is behind: drop
			}
		}
	})
	port, err := uiodrv.NewPort(dev, uiodrv.Config{Handler: keep})
	if err != nil {
		log.Fatal(err)
	}
	defer port.Close()

	for _, s := range []string{"first", "second"} {
		if err := dev.Wire().Send(append(make([]byte, 14), s...)); err != nil {
			log.Fatal(err)
		}
	}
	for range 2 {
		pk := <-kept
		fmt.Printf("%s\n", pk.Data[14:])
		port.Release(pk.Desc.Buf) // pk.Data is the port's again
	}
	// Output:
	// first
	// second
}
