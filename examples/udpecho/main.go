// Command udpecho answers UDP datagrams sent to one port of a NIC, swapping
// MAC and IPv4 addresses and UDP ports, with a fresh TTL and both checksums
// recomputed; it drops everything else. Its handler parses and rewrites
// frames in place and allocates nothing.
//
//	udpecho -dev 0000:00:03.0 -port 7 -mode napi
package main

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/uiodrv/uiodrv"
)

type config struct {
	dev   string      // PCI address
	port  uint16      // UDP port answered
	mode  uiodrv.Mode // bottom half
	count uint64      // stop after this many answers; 0: at SIGINT/SIGTERM
}

// echo is the handler: per frame a few header checks and an in-place rewrite.
type echo struct {
	port              uint16
	answered, ignored atomic.Uint64
}

func (e *echo) Handle(pkts []uiodrv.Packet) {
	for i := range pkts {
		if e.answer(pkts[i].Data) {
			pkts[i].Verdict = uiodrv.Transmit
			e.answered.Add(1)
		} else {
			e.ignored.Add(1) // the zero verdict: dropped
		}
	}
}

// answer turns a datagram for e.port into its answer, or reports false.
func (e *echo) answer(f []byte) bool {
	be := binary.BigEndian
	if len(f) < 14+20+8 || be.Uint16(f[12:]) != 0x0800 {
		return false // IPv4 only
	}
	ip := f[14:]
	hl := int(ip[0]&0xf) * 4
	tot := int(be.Uint16(ip[2:]))
	if ip[0]>>4 != 4 || hl < 20 || tot < hl+8 || tot > len(ip) || ip[9] != 17 ||
		be.Uint16(ip[6:])&0x3fff != 0 || checksum(0, ip[:hl]) != 0 {
		return false // not UDP, truncated, a fragment or a bad header checksum
	}
	udp := ip[hl:tot]
	if be.Uint16(udp[2:]) != e.port || int(be.Uint16(udp[4:])) != len(udp) {
		return false
	}
	if be.Uint16(udp[6:]) != 0 && udpChecksum(ip, udp) != 0 {
		return false // a bad UDP checksum (0 means none was sent)
	}
	swap(f[0:6], f[6:12])      // MACs
	swap(ip[12:16], ip[16:20]) // IPv4 addresses
	swap(udp[0:2], udp[2:4])   // ports
	ip[8] = 64                 // TTL
	be.PutUint16(ip[10:], 0)
	be.PutUint16(ip[10:], checksum(0, ip[:hl]))
	be.PutUint16(udp[6:], 0)
	c := udpChecksum(ip, udp)
	if c == 0 {
		c = 0xffff // RFC 768: a computed 0 is sent as all ones
	}
	be.PutUint16(udp[6:], c)
	return true
}

func swap(a, b []byte) {
	for i := range a {
		a[i], b[i] = b[i], a[i]
	}
}

// run answers datagrams on cfg.dev until ctx ends or cfg.count answers.
func run(ctx context.Context, cfg config, out io.Writer) error {
	h := &echo{port: cfg.port}
	port, err := uiodrv.Open(cfg.dev, uiodrv.Config{Mode: cfg.mode, Handler: h})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "udpecho: answering UDP port %d on %s (%s %v), mode %v\n", cfg.port, cfg.dev, port.Info().Name, port.Info().MAC, cfg.mode)
	for ctx.Err() == nil && (cfg.count == 0 || port.Stats().TxPackets < cfg.count) {
		time.Sleep(10 * time.Millisecond) // Stats reads NIC registers: not too often
	}
	st := port.Stats()
	err = port.Close()
	fmt.Fprintf(out, "udpecho: answered %d, ignored %d, sent %d, tx dropped %d\n", h.answered.Load(), h.ignored.Load(), st.TxPackets, st.TxDropped)
	return err
}

func main() {
	var cfg config
	flag.StringVar(&cfg.dev, "dev", "", "PCI address of the NIC, bound to vfio-pci")
	port := flag.Uint("port", 7, "UDP port to answer, 1..65535")
	mode := flag.String("mode", "napi", "bottom half: tasklet, softirq, workqueue, threaded, napi, busypoll, adaptive")
	flag.Uint64Var(&cfg.count, "count", 0, "stop after this many answers (0: at SIGINT or SIGTERM)")
	flag.Parse()
	var err error
	if cfg.mode, err = uiodrv.ParseMode(*mode); err != nil || cfg.dev == "" || *port == 0 || *port > 65535 || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: udpecho -dev BDF [-port 1..65535] [-mode MODE] [-count N]")
		os.Exit(2)
	}
	cfg.port = uint16(*port)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "udpecho:", err)
		os.Exit(1)
	}
}
