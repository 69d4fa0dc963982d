package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/pflag"
	"go.uber.org/zap"

	"github.com/uiodrv/uiodrv/bus"
	"github.com/uiodrv/uiodrv/deferral"
	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/handler"
)

var runUsage = `Usage: uiodrv [run] --dev BDF [flags]

Opens the NIC at BDF (any model listed below, told apart by its PCI ID;
bound to vfio-pci, or uio_pci_generic with --backend uio),
brings the link up and runs the handler on every received frame in the chosen
bottom-half mode until --duration, --count or a signal (SIGINT, SIGTERM, SIGHUP,
SIGPIPE, SIGQUIT); then closes the port (the NIC is reset and its DMA memory and
interrupts released) and prints a summary. A second SIGINT or SIGTERM while it
closes exits at once, with bus mastering turned off first. On a terminal it
shows live statistics once a second.

Every flag, the device (model, binding, IOMMU group), the limits, the metrics
address and the pcap file are checked before the device is opened: a run that
cannot work changes nothing.

Examples:
  uiodrv --dev 0000:00:03.0 --mode workqueue --handler reflect
  uiodrv --dev 0000:00:03.0 --backend uio --mode napi --budget 32 --duration 30s
  uiodrv --dev 0000:00:03.0 --handler capture --pcap rx.pcap --count 1000
  uiodrv --dev 0000:00:03.0 --handler forward --fwd-dev 0000:00:04.0 --irq-cpu 0 --bh-cpu 1 --rt-prio 90
  uiodrv --dev 0000:00:04.0 --queues 2 --irq-cpu 0,1 --mode napi --handler reflect   (a multi-queue NIC)
  uiodrv --dev 0000:00:03.0 --metrics 127.0.0.1:9100 --log-format json

Supported NICs (family: model (PCI IDs)):
  ` + supportedNICs("\n  ") + `

Flags:
`

// runFlags are the flags of the run command.
type runFlags struct {
	dev, fwdDev   string
	backend       string
	mode          string
	handler       string
	pcap          string
	pcapOverwrite bool
	sysfs         string
	irqCPU        int    // the first of irqCPUs
	irqCPUList    string // --irq-cpu as given
	irqCPUs       []int  // one CPU per queue of --dev
	queues        int
	bhCPU         int
	models        map[string]nicModel // by BDF, read from sysfs by prepare
	fs            *pflag.FlagSet      // tells which flags were given
	rtPrio        int
	threadPrio    int
	budget        int
	itr           uint32
	ringSize      int
	bhRing        int
	msix          bool
	promisc       bool
	hugepages     bool
	duration      time.Duration
	count         uint64
	statsEvery    time.Duration
	metrics       string
	settle        time.Duration
	log           logFlags
	rt            rtFlags    // rtflags.go
	fault         faultFlags // faults.go
	parsedMode    deferral.Mode
	topHalf       string
	parsedTop     driver.TopHalf
	parsedBack    driver.Backend
	vapi          vfioAPIFlags // --vfio-api (vfioapi.go)
	addr, fwdAdr  bus.Addr
}

func (f *runFlags) add(fs *pflag.FlagSet) {
	irq, bh := defaultCPUs()
	fs.StringVarP(&f.dev, "dev", "d", "", "PCI address of the NIC, e.g. 0000:00:03.0 (required)")
	fs.StringVar(&f.backend, "backend", "vfio", "vfio (vfio-pci, IOMMU) or uio (uio_pci_generic, hugepages, root)")
	f.addVFIOAPI(fs)
	fs.StringVarP(&f.mode, "mode", "m", "workqueue", "bottom half: "+modeNames())
	fs.StringVar(&f.handler, "handler", "count", "packet handler: count, reflect, capture, forward")
	fs.StringVar(&f.pcap, "pcap", "", "write every received frame to this new pcap file, mode 0600 (required by --handler capture)")
	fs.BoolVar(&f.pcapOverwrite, "pcap-overwrite", false, "replace the --pcap file if it exists (never through a symbolic link)")
	fs.StringVar(&f.fwdDev, "fwd-dev", "", "PCI address of the NIC that --handler forward sends out of")
	f.fs = fs
	fs.IntVar(&f.queues, "queues", 1, "RX/TX queue pairs, flows spread over them by RSS when more than 1 (multi-queue NICs: "+strings.Join(multiQueueModels(), ", ")+")")
	fs.StringVar(&f.irqCPUList, "irq-cpu", strconv.Itoa(irq), "CPU of each queue's top half and tasklet/softirq/NAPI bottom half, one per queue (e.g. 0,1); -1 unpinned; with --queues N and no --irq-cpu, queue q runs on the q-th CPU this process may use. Default: the first of them")
	fs.IntVar(&f.bhCPU, "bh-cpu", bh, "CPU of workqueue, threaded, busypoll and adaptive bottom halves of a single queue (with --queues > 1 they run on each queue's --irq-cpu); -1 unpinned. Adaptive on its --irq-cpu polls in the top half at light load. Default: the second CPU this process may use, or its only one")
	fs.IntVar(&f.rtPrio, "rt-prio", 0, "SCHED_FIFO priority 1-99 of the top half; 0 leaves it SCHED_OTHER")
	fs.IntVar(&f.threadPrio, "thread-prio", 0, "SCHED_FIFO priority of the threaded mode's IRQ thread; 0 means 50, -1 SCHED_OTHER")
	fs.StringVar(&f.topHalf, "top-half", "", "top half: copy (harvest into a ring in hard-IRQ context), light (ack and wake; the bottom half harvests), none (threaded and workqueue: the light top half at the bottom half's own class, nothing above it), or thread (threaded and workqueue: the IRQ thread or the single worker takes the interrupt itself, one thread; see README, Real time); default per mode")
	fs.IntVar(&f.budget, "budget", 64, "most frames one bottom-half run handles, 1 to 4096")
	fs.Uint32Var(&f.itr, "itr", 0, "minimum interval between interrupts in 256 ns units (ITR), up to 65535; 0 no throttling")
	fs.IntVar(&f.ringSize, "ring-size", defaultRingSize, "NIC RX and TX descriptors per queue: "+ringSizeRule())
	fs.IntVar(&f.bhRing, "bh-ring", 2048, fmt.Sprintf("capacity of the top-half to bottom-half ring, a power of two up to %d", maxBHRing))
	fs.BoolVar(&f.msix, "msix", false, "use MSI-X vectors (models that have them, with --backend vfio; NICs that only use MSI-X use them anyway)")
	fs.BoolVar(&f.promisc, "promisc", false, "accept every unicast and multicast frame")
	fs.BoolVar(&f.hugepages, "hugepages", false, "back VFIO DMA memory with 2 MiB hugepages (UIO always uses them)")
	fs.DurationVar(&f.duration, "duration", 0, "stop after this long (0: run until SIGINT/SIGTERM)")
	fs.Uint64Var(&f.count, "count", 0, "stop after the handler has seen this many frames (0: no limit)")
	fs.DurationVar(&f.statsEvery, "stats-every", 0, "print statistics at this interval (default: 1s on a terminal, off otherwise)")
	fs.StringVar(&f.metrics, "metrics", "", "serve Prometheus metrics at IP:PORT (e.g. 127.0.0.1:9100; :PORT is every interface) on /metrics")
	fs.DurationVar(&f.settle, "settle", 1200*time.Millisecond, "wait this long after bringing the NIC up before reporting ready (QEMU's emulated 82540EM ignores RX for 1 s after its receiver is enabled)")
	f.rt.add(fs)
	f.fault.add(fs)
	f.log.add(fs)
	fs.StringVar(&f.sysfs, "sysfs", sysfsRoot, "sysfs mount point")
	_ = fs.MarkHidden("sysfs")
}

// maxBHRing bounds --bh-ring: the NIC ring holds at most 4096 frames, so a
// larger hand-off ring only costs memory (2^30 entries would be 16 GiB).
const maxBHRing = 1 << 16

func modeNames() string {
	var s []string
	for _, m := range deferral.Modes() {
		s = append(s, m.String())
	}
	return strings.Join(s, ", ")
}

func cmdRun(e *env, args []string) int {
	var f runFlags
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	f.add(fs)
	if st, done := parseFlags(e, fs, "run", runUsage, args); done {
		return st
	}
	if err := f.validate(); err != nil {
		return report(e.stderr, "run", err)
	}
	if err := f.rt.validate(fs, f.parsedMode, f.threadPrio); err != nil {
		return report(e.stderr, "run", err)
	}
	if err := f.fault.validate(); err != nil {
		return report(e.stderr, "run", err)
	}
	log, err := f.log.logger(e.stderr)
	if err != nil {
		return report(e.stderr, "run", err)
	}
	defer log.Sync()
	guard := &busGuard{}
	ctx, stop := notifyStop(e.stderr, guard, os.Exit)
	defer stop()
	raiseMemlock()
	return report(e.stderr, "run", runPort(ctx, e, &f, bus.Sysfs{Root: f.sysfs}, readLimits(), guard, log))
}

// runPort is the run command after the command line checked out.
func runPort(ctx context.Context, e *env, f *runFlags, sysfs bus.Sysfs, lim limits, guard *busGuard, log *zap.Logger) error {
	pre, err := prepare(f, sysfs, lim, guard)
	if err != nil {
		return err
	}
	running := false
	defer func() { pre.release(!running) }()
	if err := f.rt.preflight(f.bhCPU, len(f.targets())); err != nil {
		return err
	}
	f.rt.warnHRTick(log)
	logVFIOAPI(log, f)

	// From here on the device is opened; every path closes it.
	var fwd *driver.Port
	if f.fwdDev != "" {
		fwd, _, err = openPort(f, f.fwdDev, handler.Chain{handler.NewCount()}, log.With(zap.String("dev", f.fwdDev)))
		if err != nil {
			return err
		}
		defer fwd.Close()
	}
	count := handler.NewCount()
	chain := handler.Chain{count}
	var capture *handler.Capture
	if pre.pcap != nil {
		if capture, err = pre.capture(); err != nil {
			return err
		}
		chain = append(chain, capture)
	}
	switch f.handler {
	case "reflect":
		chain = append(chain, handler.Reflect{})
	case "forward":
		chain = append(chain, handler.ForwardAll{})
	}
	chain = f.fault.wrap(chain)
	port, dev, err := openPortFwd(f, f.dev, chain, fwd, log.With(zap.String("dev", f.addr.String())))
	if err != nil {
		chain.Close() // release removes a capture file the run made
		return err
	}
	if err := f.rt.started(); err != nil {
		return errors.Join(err, port.Close())
	}
	if err := pre.commitPcap(); err != nil {
		return errors.Join(err, port.Close())
	}
	running = true
	start := time.Now()
	log.Info("running", zap.String("nic", dev.Name), zap.Stringer("mac", dev.MAC),
		zap.String("backend", f.parsedBack.String()), zap.Stringer("mode", f.parsedMode),
		zap.String("handler", f.handler), zap.Int("queues", dev.Queues), zap.Ints("irq_cpus", port.QueueCPUs()), zap.Int("bh_cpu", f.bhCPU),
		zap.Int("rt_prio", f.rtPrio), zap.Int("budget", f.budget), zap.Uint32("itr", f.itr), zap.Int("ring_size", f.ringSize))

	var snap atomic.Pointer[driver.Stats]
	first := port.Stats()
	snap.Store(&first)
	if pre.metrics != nil {
		srv := serveMetrics(pre.metrics, f.addr.String(), f.parsedMode.String(), snap.Load, log)
		pre.metrics = nil // the server owns the listener
		defer srv.Close()
	}

	reason := "signal"
	select {
	case <-ctx.Done():
	case <-time.After(f.settle):
		fmt.Fprintf(e.stdout, "uiodrv: ready on %s (%s %s), mode %s, handler %s\n",
			f.addr, dev.Name, dev.MAC, f.parsedMode, f.handler)
		reason = loop(ctx, e, f, port, &snap)
	}
	log.Info("stopping", zap.String("reason", reason))
	// Drain the last transmissions before the NIC is reset.
	if f.handler == "reflect" || f.handler == "forward" {
		drainTx(port, fwd)
	}
	cerr := port.Close()
	st := port.Stats()
	var fst *driver.Stats
	if fwd != nil {
		cerr = errors.Join(cerr, fwd.Close())
		s := fwd.Stats()
		fst = &s
	}
	printSummary(e.stdout, f, &st, fst, count.Counts(), capture, time.Since(start), reason)
	f.rt.report(e.stdout)
	if cerr != nil {
		return fmt.Errorf("close: %w", cerr)
	}
	log.Info("device released")
	return nil
}

// openPort opens a device and starts a port on it.
func openPort(f *runFlags, bdf string, h driver.Handler, log *zap.Logger) (*driver.Port, *driver.NICInfo, error) {
	return openPortFwd(f, bdf, h, nil, log)
}

// openPortFwd opens a device and starts a port on it; --queues and the
// --irq-cpu list apply to --dev, a forward device runs one queue on the
// first --irq-cpu.
func openPortFwd(f *runFlags, bdf string, h driver.Handler, fwd *driver.Port, log *zap.Logger) (*driver.Port, *driver.NICInfo, error) {
	dev, err := openNIC(bdf, f)
	if err != nil {
		return nil, nil, err
	}
	cpus := f.irqCPUs
	if bdf != f.dev || len(cpus) == 0 {
		cpus = []int{f.irqCPU}
	}
	cfg := driver.Config{
		Mode: f.parsedMode, Handler: h,
		IRQCPU: cpus[0], IRQCPUs: cpus, BHCPU: f.bhCPU, RTPrio: f.rtPrio, ThreadPrio: f.threadPrio, BHSched: f.rt.sched,
		Budget: f.budget, RingSize: f.bhRing, Forward: fwd, Logger: log, TopHalf: f.parsedTop,
	}
	f.rt.applyTopNone(&cfg, f.threadPrio) // --top-half none (rtflags.go)
	port, err := driver.NewPort(dev, cfg)
	if err != nil {
		dev.Close()
		return nil, nil, fmt.Errorf("%s: start port: %w", bdf, err)
	}
	return port, port.Info(), nil
}

// openNIC opens a device (tests replace it to prove that a refused run
// never gets this far).
var openNIC = openDevice

// openDevice opens bdf with the driver of the model prepare read from
// sysfs, with its panics turned into errors: a driver whose Open panics
// cleaning up after a failure must not take the process down without the
// message. The preflight checks catch the usual failures before this point.
func openDevice(bdf string, f *runFlags) (dev openedNIC, err error) {
	defer func() {
		if r := recover(); r != nil {
			dev, err = nil, fmt.Errorf("open %s failed, and the driver panicked cleaning up (%v); check the binding, IOMMU, permissions, RLIMIT_MEMLOCK and hugepages", bdf, r)
		}
	}()
	// prepare keys the models by canonical address.
	var fd nicModel
	if a, err := bus.ParseAddr(bdf); err == nil {
		fd = f.models[a.String()]
	}
	if fd.Found == nil {
		return nil, fmt.Errorf("%s: %w", bdf, errUnknownFamily)
	}
	o := f.openOptions(fd.Addr)
	dev, err = fd.Open(o)
	// A limit only the device itself reports (virtio-net's queue pairs) is
	// still the caller's mistake: a usage error naming the flag.
	var oe *driver.OptionError
	if err != nil && errors.As(err, &oe) {
		return nil, f.optionUsage(oe, fd.Addr, o)
	}
	return dev, err
}

// loop shows statistics and waits for a reason to stop, which it returns.
func loop(ctx context.Context, e *env, f *runFlags, port *driver.Port, snap *atomic.Pointer[driver.Stats]) string {
	every := f.statsEvery
	if every == 0 && isTerminal(e.stdout) {
		every = time.Second
	}
	poll := 250 * time.Millisecond
	if f.count > 0 {
		poll = 20 * time.Millisecond
	}
	tick := time.NewTicker(poll)
	defer tick.Stop()
	var end <-chan time.Time
	if f.duration > 0 {
		end = time.After(f.duration)
	}
	m := newMeter(*snap.Load())
	next := time.Now().Add(every)
	for {
		select {
		case <-ctx.Done():
			return "signal"
		case <-end:
			return "duration"
		case now := <-tick.C:
			st := port.Stats()
			snap.Store(&st)
			if f.count > 0 && st.Processed >= f.count {
				return "count"
			}
			if every > 0 && !now.Before(next) {
				fmt.Fprintln(e.stdout, m.line(&st, now))
				next = now.Add(every)
			}
		}
	}
}

// drainTx waits (at most 500 ms) until the NIC has sent what the handler
// queued, so that the last reflected frames are not lost to the reset.
func drainTx(ports ...*driver.Port) {
	deadline := time.Now().Add(500 * time.Millisecond)
	for _, p := range ports {
		if p == nil {
			continue
		}
		for time.Now().Before(deadline) {
			st := p.Stats()
			if st.InFlight == 0 && st.HW.TxPackets >= st.TxPackets {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}
