// Command l2fwd forwards every frame between two NICs, unchanged: what one
// receives, the other sends. Both run promiscuous, so frames for any
// address cross, as through a cable with a tap. It shows the Forward
// verdict and two ports that forward to each other.
//
//	l2fwd -a 0000:00:03.0 -b 0000:00:04.0 -mode napi
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/uiodrv/uiodrv"
	"github.com/uiodrv/uiodrv/driver"
)

type config struct {
	a, b  string      // PCI addresses of the two NICs
	mode  uiodrv.Mode // bottom half of both ports
	count uint64      // stop after this many frames sent, both ways; 0: at SIGINT/SIGTERM
}

// forward is the handler of both ports: every frame leaves by the other
// port (the core copies it into one of that port's buffers).
var forward = uiodrv.HandlerFunc(func(pkts []uiodrv.Packet) {
	for i := range pkts {
		pkts[i].Verdict = uiodrv.Forward
	}
})

// run forwards between cfg.a and cfg.b until ctx ends or cfg.count frames
// were sent.
func run(ctx context.Context, cfg config, out io.Writer) (err error) {
	// Promiscuous: a forwarder takes frames addressed to anyone, not only
	// to its NICs' own MAC addresses.
	pc := uiodrv.Config{Mode: cfg.mode, Handler: forward, Device: driver.OpenOptions{Promisc: true}}
	a, err := uiodrv.Open(cfg.a, pc)
	if err != nil {
		return err
	}
	// Closing either port first is safe: Close stops the other one's
	// forwarding into it before it releases the device.
	defer func() { err = errors.Join(err, a.Close()) }()
	pc.Forward = a
	b, err := uiodrv.Open(cfg.b, pc)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, b.Close()) }()
	if err := a.SetForward(b); err != nil {
		return err
	}
	fmt.Fprintf(out, "l2fwd: forwarding between %s (%v) and %s (%v), mode %v\n", cfg.a, a.Info().MAC, cfg.b, b.Info().MAC, cfg.mode)
	var sa, sb driver.Stats
	for ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond) // Stats reads NIC registers: not too often
		sa, sb = a.Stats(), b.Stats()
		if cfg.count > 0 && sa.TxPackets+sb.TxPackets >= cfg.count {
			break
		}
	}
	// a's received frames left by b: a's forward drops are its TxDropped.
	fmt.Fprintf(out, "l2fwd: %s -> %s %d frames, %s -> %s %d frames, dropped %d and %d\n",
		cfg.a, cfg.b, sb.TxPackets, cfg.b, cfg.a, sa.TxPackets, sa.TxDropped, sb.TxDropped)
	return nil
}

func main() {
	var cfg config
	flag.StringVar(&cfg.a, "a", "", "PCI address of the first NIC, bound to vfio-pci")
	flag.StringVar(&cfg.b, "b", "", "PCI address of the second NIC")
	mode := flag.String("mode", "napi", "bottom half: tasklet, softirq, workqueue, threaded, napi, busypoll, adaptive")
	flag.Uint64Var(&cfg.count, "count", 0, "stop after this many frames forwarded (0: at SIGINT or SIGTERM)")
	flag.Parse()
	var err error
	if cfg.mode, err = uiodrv.ParseMode(*mode); err != nil || cfg.a == "" || cfg.b == "" || cfg.a == cfg.b || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: l2fwd -a BDF -b BDF [-mode MODE] [-count N] (two different NICs)")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "l2fwd:", err)
		os.Exit(1)
	}
}
