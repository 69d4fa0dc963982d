package main

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/uiodrv/uiodrv/deferral"
	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/qemu"
)

var labUsage = `Usage: uiodrv lab [flags]

Boots the QEMU lab with an emulated NIC (--nic) at 0000:00:03.0 (bound to
vfio-pci behind a vIOMMU, or to uio_pci_generic with hugepages), with this very
binary as the guest's /bin/uiodrv and the lab's init (uiodrv-labinit, which
make build puts beside bin/uiodrv) as /init; runs 'uiodrv --dev 0000:00:03.0
--handler reflect' in the guest; sends frames from the host peer at --rate for
--duration and checks every reflected frame byte for byte. It shows both sides'
statistics live and a summary: sent, received, reflected intact, round-trip
p50/p99/max. The guest is stopped with SIGTERM, which must end in a clean exit.
A boot takes 10-20 s under TCG; QEMU and the guest kernel are installed and
cached on first use (see make lab-setup).

With --pcap FILE the guest driver also writes every frame it receives to a
pcap file, which the lab copies back to FILE on the host (for Wireshark or
tshark) and checks against the frames the host sent. --kernel NAME boots another
of the lab's kernels instead of Debian 12's own 6.1: 6.12 and 6.12-rt (Debian
13, PREEMPT_RT), 7.x and 7.x-rt (Debian sid), each downloaded from Debian's
packages on first use and cached; backports and source as before.

Examples:
  uiodrv lab
  uiodrv lab --nic ` + string(qemu.NICModels[1]) + ` --mode threaded --rate 2000 --duration 20s
  uiodrv lab --backend uio --mode napi
  uiodrv lab --pcap rx.pcap --rate 500 --duration 5s

Flags:
`

// The lab's NIC, as qemu places NIC 0.
const (
	labBDF = "0000:00:03.0"
)

var labMAC = [6]byte{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}

// labPeerMAC is the source address of the host's frames (locally administered).
var labPeerMAC = [6]byte{0x02, 0x75, 0x69, 0x6f, 0x00, 0x01}

type labFlags struct {
	nic, mode, backend string
	rate               int
	duration           time.Duration
	size               int
	binary             string
	guestArgs          []string
	log                logFlags
	kernel             string
	pcap               string
	// traffic is the host side of the last run, for tests.
	traffic *traffic
}

func cmdLab(e *env, args []string) int {
	var f labFlags
	fs := pflag.NewFlagSet("lab", pflag.ContinueOnError)
	fs.StringVar(&f.nic, "nic", string(qemu.NICModels[0]), "emulated NIC: "+labNICNames())
	fs.StringVarP(&f.mode, "mode", "m", "workqueue", "bottom half of the guest driver: "+modeNames())
	fs.StringVar(&f.backend, "backend", "vfio", "vfio (vIOMMU, vfio-pci) or uio (no IOMMU, uio_pci_generic)")
	fs.IntVar(&f.rate, "rate", 1000, "frames per second the host sends")
	fs.DurationVar(&f.duration, "duration", 10*time.Second, "how long the host sends")
	fs.IntVar(&f.size, "size", 128, "frame size in bytes, 60-1514")
	fs.StringVar(&f.binary, "binary", "", "static uiodrv binary for the guest (default: this one, rebuilt static if it is not)")
	fs.StringArrayVar(&f.guestArgs, "guest-arg", nil, "extra argument for the guest's uiodrv (repeatable), e.g. --guest-arg=--itr=500")
	fs.StringVar(&f.kernel, "kernel", "6.1", "guest kernel, downloaded or built on first use: "+labKernelNames())
	fs.StringVar(&f.pcap, "pcap", "", "copy the guest driver's capture of every received frame to this host pcap file")
	f.log.add(fs)
	if st, done := parseFlags(e, fs, "lab", labUsage, args); done {
		return st
	}
	if err := f.validate(); err != nil {
		return report(e.stderr, "lab", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return report(e.stderr, "lab", runLabFn(ctx, e, &f))
}

// runLabFn boots the lab; the CLI fuzz test replaces it (no boots).
var runLabFn = runLab

func (f *labFlags) validate() error {
	mode, err := deferral.ParseMode(f.mode)
	if err != nil {
		return usagef("--mode %q: valid modes are %s", f.mode, modeNames())
	}
	backend, err := driver.ParseBackend(f.backend)
	if err != nil {
		return usageError{fmt.Errorf("--backend: %w", err)}
	}
	if err := checkLabNIC(f.nic, backend, mode); err != nil {
		return err
	}
	if f.rate < 1 || f.rate > 1_000_000 {
		return usagef("--rate %d: want 1 to 1000000 frames/s", f.rate)
	}
	if f.duration <= 0 {
		return usagef("--duration must be positive")
	}
	if f.size < 60 || f.size > 1514 {
		return usagef("--size %d: want 60 to 1514 bytes", f.size)
	}
	if _, err := f.log.logger(io.Discard); err != nil {
		return err
	}
	if _, err := labKernel(f.kernel); err != nil {
		return err
	}
	return checkPcapPath(f.pcap)
}

// labKernel parses --kernel: a name of the lab's kernel catalogue.
func labKernel(s string) (qemu.KernelSeries, error) {
	k, err := qemu.KernelByName(s)
	if err != nil {
		return 0, usagef("--kernel: %v", err)
	}
	return k.Series, nil
}

// labKernelNames lists the catalogue for the usage text.
func labKernelNames() string {
	var parts []string
	for _, k := range qemu.LabKernels {
		parts = append(parts, k.Name+" ("+k.Doc+")")
	}
	return strings.Join(parts, ", ")
}

// isStatic reports whether the ELF binary at path has no program
// interpreter (no dynamic loader): it can run in the lab guest, whose
// initramfs holds no loader or C library.
func isStatic(path string) (bool, error) {
	ef, err := elf.Open(path)
	if err != nil {
		return false, err
	}
	defer ef.Close()
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			return false, nil
		}
	}
	return true, nil
}

// guestBinary returns a static uiodrv for the guest: the given one, this
// executable, or one rebuilt from the source tree this runs in.
func guestBinary(e *env, path string) (string, func(), error) {
	nop := func() {}
	if path == "" {
		exe, err := os.Executable()
		if err != nil {
			return "", nop, fmt.Errorf("find own binary: %w", err)
		}
		path = exe
	}
	static, err := isStatic(path)
	if err != nil {
		return "", nop, fmt.Errorf("inspect %s: %w", path, err)
	}
	if static {
		return path, nop, nil
	}
	if _, err := qemu.ModuleRoot(); err != nil {
		return "", nop, fmt.Errorf("%s is dynamically linked and cannot run in the lab guest; build it static: CGO_ENABLED=0 go build -o bin/uiodrv ./cmd/uiodrv (make build), or pass --binary", path)
	}
	dir, err := os.MkdirTemp("", "uiodrv-lab-")
	if err != nil {
		return "", nop, err
	}
	out := filepath.Join(dir, "uiodrv")
	fmt.Fprintf(e.stderr, "lab: %s is dynamically linked; building a static uiodrv for the guest\n", path)
	if err := qemu.BuildStatic("./cmd/uiodrv", out); err != nil {
		os.RemoveAll(dir)
		return "", nop, fmt.Errorf("build static uiodrv: %w", err)
	}
	return out, func() { os.RemoveAll(dir) }, nil
}

// labConfig is the lab boot that runs the guest's uiodrv with args.
func labConfig(bin string, model qemu.NICModel, backend driver.Backend, timeout time.Duration, cmds ...[]string) qemu.Config {
	cfg := qemu.Config{
		NICs:    []qemu.NIC{{Model: model}},
		IOMMU:   backend == driver.BackendVFIO,
		Bind:    []qemu.Binding{{BDF: labBDF, Driver: backend.Driver()}},
		Files:   []qemu.File{{Host: bin, Guest: "/bin/uiodrv"}},
		Timeout: timeout,
	}
	if backend == driver.BackendUIO {
		cfg.Hugepages = 64
	}
	for _, c := range cmds {
		cfg.Commands = append(cfg.Commands, qemu.Command{Args: append([]string{"/bin/uiodrv"}, c...)})
	}
	return cfg
}

// prefixWriter prints the guest's lines ("[0] text") as "guest  text".
type prefixWriter struct {
	mu  *sync.Mutex
	w   io.Writer
	buf []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		line := string(p.buf[:i])
		p.buf = p.buf[i+1:]
		if j := strings.Index(line, "] "); strings.HasPrefix(line, "[") && j > 0 {
			line = line[j+2:]
		}
		fmt.Fprintf(p.w, "guest  %s\n", line)
	}
}

func runLab(ctx context.Context, e *env, f *labFlags) error {
	backend, _ := driver.ParseBackend(f.backend)
	guestInit, initCleanup, err := labInit(e.stderr)
	if err != nil {
		return err
	}
	defer initCleanup()
	if err := qemu.EnsureQEMU(); err != nil {
		return err
	}
	bin, cleanup, err := guestBinary(e, f.binary)
	if err != nil {
		return err
	}
	defer cleanup()
	guestArgs := []string{"--dev", labBDF, "--backend", backend.String(), "--mode", f.mode, "--handler", "reflect",
		"--stats-every", "1s", "--log-level", f.log.level, "--log-format", f.log.format}
	if f.pcap != "" {
		guestArgs = append(guestArgs, "--pcap", labGuestPcap)
	}
	guestArgs = append(guestArgs, f.guestArgs...)
	cfg := labConfig(bin, qemu.NICModel(f.nic), backend, f.duration+4*time.Minute, guestArgs)
	cfg.Kernel, _ = labKernel(f.kernel)
	cfg.Init = guestInit
	if f.pcap != "" {
		cfg.Fetch = []qemu.File{{Guest: labGuestPcap, Host: f.pcap}}
	}
	var mu sync.Mutex
	out := &prefixWriter{mu: &mu, w: e.stdout}
	cfg.Output = out
	say := func(format string, args ...any) {
		mu.Lock()
		fmt.Fprintf(e.stdout, "host   "+format+"\n", args...)
		mu.Unlock()
	}
	say("booting the lab: %s at %s on %s, guest runs: uiodrv %s", f.nic, labBDF, backend.Driver(), strings.Join(guestArgs, " "))
	vm, err := qemu.StartReady(ctx, cfg, func(err error) { say("the guest's boot hung (QEMU under TCG); retrying once") })
	if err != nil {
		return err
	}
	defer vm.Close()
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if _, err := vm.WaitOutput(wctx, 0, "uiodrv: ready"); err != nil {
		res, _ := vm.Wait()
		return fmt.Errorf("the guest's uiodrv did not come up: %w%s", err, exitNote(res))
	}
	say("sending %d frames/s of %d bytes for %v", f.rate, f.size, f.duration)
	tr := newTraffic(vm.Peer(0), f.size)
	f.traffic = tr
	tr.run(ctx, f.rate, f.duration, func(line string) { say("%s", line) })
	say("stopping the guest driver (SIGTERM)")
	if err := vm.Signal(0, syscall.SIGTERM); err != nil {
		return fmt.Errorf("signal the guest: %w", err)
	}
	res, werr := vm.Wait()
	mu.Lock()
	tr.summary(e.stdout)
	mu.Unlock()
	if res != nil && res.Kernel != "" {
		say("guest kernel %s, ready %v after QEMU started", res.Kernel, res.Boot.Round(time.Millisecond))
	}
	if werr != nil {
		return fmt.Errorf("lab: %w", werr)
	}
	if ex := res.Exits[0]; !ex.Ended || ex.Code != 0 {
		return fmt.Errorf("the guest's uiodrv exited with status %d %s", ex.Code, ex.Err)
	}
	if tr.corrupt.Load() > 0 {
		return fmt.Errorf("%d frames came back altered", tr.corrupt.Load())
	}
	if tr.intact.Load() == 0 {
		return errors.New("no frame came back")
	}
	if f.pcap != "" {
		return reportPcap(res, f.pcap, tr, say)
	}
	return nil
}

func exitNote(res *qemu.Result) string {
	if res == nil || len(res.Exits) == 0 {
		return ""
	}
	ex := res.Exits[0]
	tail := res.Output[0]
	if len(tail) > 5 {
		tail = tail[len(tail)-5:]
	}
	return fmt.Sprintf(" (guest uiodrv exit status %d; last lines: %s)", ex.Code, strings.Join(tail, " | "))
}
