package qemu

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/uiodrv/uiodrv/qemu/internal/proto"
)

// Errors a boot can end with.
var (
	// ErrTimeout: the guest did not power off within Config.Timeout; QEMU was killed.
	ErrTimeout = errors.New("qemu: guest timed out")
	// ErrGuestFatal: the guest init reported a failure (module, bind, mount...).
	ErrGuestFatal = errors.New("qemu: guest init failed")
	// ErrCrashed: QEMU exited without the guest init saying it was done.
	ErrCrashed = errors.New("qemu: guest ended unexpectedly")
	// ErrBootHang: the guest did not finish booting (modules loaded, devices
	// bound) within Config.BootTimeout; QEMU was killed. Under TCG on a
	// loaded host the guest kernel occasionally stalls in early boot (RCU
	// stall reports, a lost timer wake-up); StartReady retries such a boot.
	ErrBootHang = errors.New("qemu: guest did not finish booting")
)

// Exit is how a guest command ended.
type Exit struct {
	Started bool
	Ended   bool
	Code    int    // exit status; 128+n when killed by signal n
	Err     string // why, when the init knows (timeout, exec failure)
}

// Result is what a boot produced.
type Result struct {
	Kernel  string        // the guest's uname -r
	Boot    time.Duration // QEMU start to the guest init's "ready" (modules loaded, devices bound)
	Total   time.Duration // QEMU start to exit
	Exits   []Exit        // per command
	Output  [][]string    // per command, the lines it printed (stdout and stderr)
	Console string        // the kernel console (ttyS0), last 16 KiB
	Log     []string      // the guest init's own messages
	Fetched []Fetched     // Config.Fetch, in order, as far as the guest sent them
}

// Fetched is one file of Config.Fetch.
type Fetched struct {
	File
	Size int64  // bytes written to File.Host
	Err  string // why it is not there ("" when written)
}

// CommandErr returns an error describing the first command that did not exit 0.
func (r *Result) CommandErr() error {
	for i, e := range r.Exits {
		if !e.Ended || e.Code != 0 {
			return fmt.Errorf("guest command %d: exit %d %s (started %v, ended %v)", i, e.Code, e.Err, e.Started, e.Ended)
		}
	}
	return nil
}

// VM is a running lab guest.
type VM struct {
	cfg     Config
	dir     string
	ownDir  bool
	cmd     *exec.Cmd
	stderr  bytes.Buffer
	peers   []*Peer
	ln      net.Listener
	ctl     net.Conn
	qmpPath string
	start   time.Time

	mu       sync.Mutex
	changed  chan struct{} // closed and replaced whenever state changes
	res      Result
	ready    bool
	done     bool
	fatal    string
	qemuDone bool
	timedOut bool
	bootHung bool

	fetching map[string]*fetchState // Config.Fetch pieces received so far, by guest path

	exited  chan struct{} // QEMU reaped
	readerD chan struct{} // control reader finished
	closeMu sync.Once
	qmpMu   sync.Mutex
	qmp     *qmpClient
}

// Run boots the lab, waits for the guest to power off and returns what it produced.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	vm, err := Start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer vm.Close()
	return vm.Wait()
}

// Start stages everything and boots QEMU. The VM must be closed.
func Start(ctx context.Context, c Config) (*VM, error) {
	cfg := c.withDefaults()
	if err := EnsureQEMU(); err != nil {
		return nil, err
	}
	k, err := StageKernelSeries(cfg.Kernel)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "uiodrv-lab-")
	if err != nil {
		return nil, err
	}
	vm := &VM{cfg: cfg, dir: dir, ownDir: true, changed: make(chan struct{}),
		exited: make(chan struct{}), readerD: make(chan struct{})}
	vm.res.Exits = make([]Exit, len(cfg.Commands))
	vm.res.Output = make([][]string, len(cfg.Commands))
	vm.fetching = map[string]*fetchState{}
	for _, f := range cfg.Fetch {
		vm.res.Fetched = append(vm.res.Fetched, Fetched{File: f, Err: "not sent by the guest"})
	}
	ok := false
	defer func() {
		if !ok {
			vm.cleanup()
		}
	}()

	initrd, err := vm.buildInitramfs(k)
	if err != nil {
		return nil, err
	}
	args, err := vm.qemuArgs(k, initrd)
	if err != nil {
		return nil, err
	}
	vm.ln, err = net.Listen("unix", filepath.Join(dir, "ctl.sock"))
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	vm.cmd = exec.Command(QEMUBinary, args...)
	vm.cmd.Stdout = &vm.stderr
	vm.cmd.Stderr = &vm.stderr
	// Own process group, and SIGKILL if this process dies first: QEMU never outlives us.
	vm.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	vm.start = time.Now()
	if err := vm.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", QEMUBinary, err)
	}
	go func() {
		_ = vm.cmd.Wait()
		vm.update(func() { vm.qemuDone = true })
		close(vm.exited)
		_ = vm.ln.Close()
	}()
	go vm.watchdog(ctx)
	go vm.readControl()
	ok = true
	return vm, nil
}

// Command returns the QEMU command line of this VM (for logs and notes).
func (vm *VM) Command() string {
	return QEMUBinary + " " + strings.Join(vm.cmd.Args[1:], " ")
}

// Dir is the VM's work folder (console log, sockets, initramfs).
func (vm *VM) Dir() string { return vm.dir }

func (vm *VM) buildInitramfs(k *Kernel) (string, error) {
	cfg := vm.cfg
	init := cfg.Init
	if init == "" {
		init = filepath.Join(vm.dir, "labinit")
		if err := BuildStatic("./qemu/labinit", init); err != nil {
			return "", fmt.Errorf("build guest init: %w", err)
		}
	}
	want := append([]string(nil), cfg.Modules...)
	for _, b := range cfg.Bind {
		mods, ok := driverModules[b.Driver]
		if !ok {
			return "", fmt.Errorf("lab: unknown driver %q to bind %s (known: vfio-pci, uio_pci_generic, e1000, e1000e, igb)", b.Driver, b.BDF)
		}
		want = append(want, mods...)
	}
	mods, err := k.ModuleClosure(want...)
	if err != nil {
		return "", err
	}
	ir := initramfs{init: init, modules: mods, files: cfg.Files}
	for _, m := range mods {
		ir.config.Modules = append(ir.config.Modules, proto.Module{Name: m.Name, Path: m.Guest, Params: cfg.ModuleParams[m.Name]})
	}
	ir.config.Hugepages = cfg.Hugepages
	for _, b := range cfg.Bind {
		ir.config.Bind = append(ir.config.Bind, proto.Binding{BDF: b.BDF, Driver: b.Driver})
	}
	for _, c := range cfg.Commands {
		pc := proto.Command{Args: c.Args, Env: c.Env, Background: c.Background, TimeoutMs: c.Timeout.Milliseconds()}
		if u := c.User; u != nil {
			pc.User = &proto.User{UID: u.UID, GID: u.GID, Own: u.Own, Rlimits: map[string][2]uint64{}}
			for k, v := range u.Rlimits {
				pc.User.Rlimits[k] = [2]uint64{v.Soft, v.Hard}
			}
		}
		ir.config.Commands = append(ir.config.Commands, pc)
	}
	for _, f := range cfg.Fetch {
		if !path.IsAbs(f.Guest) || f.Host == "" {
			return "", fmt.Errorf("lab: fetch %q to %q: want an absolute guest path and a host path", f.Guest, f.Host)
		}
		ir.config.Fetch = append(ir.config.Fetch, f.Guest)
	}
	out := filepath.Join(vm.dir, "initrd.cpio")
	return out, ir.write(out)
}

func (vm *VM) qemuArgs(k *Kernel, initrd string) ([]string, error) {
	cfg := vm.cfg
	cmdline := "console=ttyS0 panic=-1 quiet loglevel=4 tsc=reliable"
	args := []string{
		"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-machine", "q35", "-accel", "tcg,thread=multi", "-cpu", "max",
		"-smp", strconv.Itoa(cfg.CPUs), "-m", strconv.Itoa(cfg.MemoryMiB),
		"-kernel", k.Vmlinuz, "-initrd", initrd,
		"-chardev", "file,id=con,path=" + filepath.Join(vm.dir, "console.log"), "-serial", "chardev:con",
		"-chardev", "socket,id=ctl,path=" + filepath.Join(vm.dir, "ctl.sock"), "-serial", "chardev:ctl",
	}
	if cfg.IOMMU {
		// The vIOMMU must come before the devices it translates for.
		args = append(args, "-device", "intel-iommu,intremap=on")
		cmdline += " intel_iommu=on"
	}
	for i, n := range cfg.NICs {
		p, err := newPeer()
		if err != nil {
			return nil, err
		}
		vm.peers = append(vm.peers, p)
		id := fmt.Sprintf("n%d", i)
		args = append(args, "-netdev", fmt.Sprintf(
			"dgram,id=%s,local.type=inet,local.host=127.0.0.1,local.port=%d,remote.type=inet,remote.host=127.0.0.1,remote.port=%d",
			id, p.qemu.Port, p.conn.LocalAddr().(*net.UDPAddr).Port))
		dev := fmt.Sprintf("%s,netdev=%s,addr=%s,mac=%s", n.Model, id, n.Addr, n.MAC)
		if n.RootPort {
			args = append(args, "-device", fmt.Sprintf("pcie-root-port,id=rp%d,chassis=%d,slot=%d,addr=%s", i, i+1, i+1, n.Addr))
			dev = fmt.Sprintf("%s,netdev=%s,bus=rp%d,addr=00.0,mac=%s", n.Model, id, i, n.MAC)
		}
		if n.Mitigation != nil {
			dev += fmt.Sprintf(",mitigation=%v", *n.Mitigation)
		}
		args = append(args, "-device", dev)
		if n.PCAP != "" {
			args = append(args, "-object", fmt.Sprintf("filter-dump,id=f%d,netdev=%s,file=%s", i, id, n.PCAP))
		}
	}
	if cfg.QMP {
		vm.qmpPath = filepath.Join(vm.dir, "qmp.sock")
		args = append(args, "-qmp", "unix:"+vm.qmpPath+",server=on,wait=off")
	}
	if cfg.Hugepages > 0 {
		// Reserved by the kernel at boot, before memory fragments: asked for
		// later (nr_hugepages), a 1 GiB guest sometimes got only one 2 MiB page.
		cmdline += fmt.Sprintf(" hugepagesz=2M hugepages=%d", cfg.Hugepages)
	}
	if cfg.Cmdline != "" {
		cmdline += " " + cfg.Cmdline
	}
	return append(args, "-append", cmdline), nil
}

// update changes state under the lock and wakes every waiter.
func (vm *VM) update(f func()) {
	vm.mu.Lock()
	f()
	close(vm.changed)
	vm.changed = make(chan struct{})
	vm.mu.Unlock()
}

func (vm *VM) watchdog(ctx context.Context) {
	t := time.NewTimer(vm.cfg.Timeout)
	defer t.Stop()
	boot := time.NewTimer(vm.cfg.BootTimeout)
	defer boot.Stop()
	for {
		select {
		case <-vm.exited:
			return
		case <-boot.C:
			vm.mu.Lock()
			hung := !vm.ready
			vm.mu.Unlock()
			if !hung {
				continue
			}
			vm.update(func() { vm.timedOut, vm.bootHung = true, true })
		case <-t.C:
			vm.update(func() { vm.timedOut = true })
		case <-ctx.Done():
			vm.update(func() { vm.timedOut = true })
		}
		vm.kill()
		return
	}
}

func (vm *VM) kill() {
	if vm.cmd != nil && vm.cmd.Process != nil {
		_ = syscall.Kill(-vm.cmd.Process.Pid, syscall.SIGKILL)
	}
}

func (vm *VM) readControl() {
	defer close(vm.readerD)
	conn, err := vm.ln.Accept()
	if err != nil {
		return
	}
	vm.mu.Lock()
	vm.ctl = conn
	vm.mu.Unlock()
	sc := bufio.NewScanner(conn)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var m proto.Msg
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			line := sc.Text()
			vm.update(func() { vm.res.Log = append(vm.res.Log, "raw: "+line) })
			continue
		}
		vm.handle(m)
	}
}

func (vm *VM) handle(m proto.Msg) {
	if m.K == proto.KindOut && vm.cfg.Output != nil {
		fmt.Fprintf(vm.cfg.Output, "[%d] %s\n", m.C, m.D)
	}
	if m.K == proto.KindFile || m.K == proto.KindFileEnd {
		vm.fetch(m)
		return
	}
	vm.update(func() {
		inRange := m.C >= 0 && m.C < len(vm.res.Exits)
		switch m.K {
		case proto.KindLog:
			vm.res.Log = append(vm.res.Log, m.M)
		case proto.KindReady:
			vm.ready = true
			vm.res.Kernel = m.M
			vm.res.Boot = time.Since(vm.start)
		case proto.KindStart:
			if inRange {
				vm.res.Exits[m.C].Started = true
			}
		case proto.KindOut:
			if inRange {
				vm.res.Output[m.C] = append(vm.res.Output[m.C], m.D)
			}
		case proto.KindExit:
			if inRange {
				e := &vm.res.Exits[m.C]
				e.Ended, e.Code, e.Err = true, m.Code, m.Err
			}
		case proto.KindFatal:
			vm.fatal = m.M
		case proto.KindDone:
			vm.done = true
		}
	})
}

// WaitReady waits until the guest init has loaded its modules and bound its devices.
func (vm *VM) WaitReady(ctx context.Context) error {
	return vm.waitFor(ctx, func() bool { return vm.ready }, "the guest to be ready")
}

// WaitOutput waits until command cmd has printed a line containing substr, and returns that line.
func (vm *VM) WaitOutput(ctx context.Context, cmd int, substr string) (string, error) {
	var line string
	err := vm.waitFor(ctx, func() bool {
		if cmd < 0 || cmd >= len(vm.res.Output) {
			return false
		}
		for _, l := range vm.res.Output[cmd] {
			if strings.Contains(l, substr) {
				line = l
				return true
			}
		}
		return false
	}, fmt.Sprintf("command %d to print %q", cmd, substr))
	return line, err
}

// waitFor waits until cond (called with vm.mu held) is true, the VM ends, or ctx ends.
func (vm *VM) waitFor(ctx context.Context, cond func() bool, what string) error {
	for {
		vm.mu.Lock()
		if cond() {
			vm.mu.Unlock()
			return nil
		}
		ended, fatal, timedOut := vm.qemuDone, vm.fatal, vm.timedOut
		ch := vm.changed
		vm.mu.Unlock()
		switch {
		case fatal != "":
			return fmt.Errorf("waiting for %s: %w: %s", what, ErrGuestFatal, fatal)
		case timedOut && vm.isBootHung():
			return fmt.Errorf("waiting for %s: %w", what, ErrBootHang)
		case timedOut:
			return fmt.Errorf("waiting for %s: %w", what, ErrTimeout)
		case ended:
			return fmt.Errorf("waiting for %s: %w", what, ErrCrashed)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		}
	}
}

// Signal sends signal sig to guest command cmd (e.g. syscall.SIGTERM).
func (vm *VM) Signal(cmd int, sig syscall.Signal) error {
	vm.mu.Lock()
	conn := vm.ctl
	vm.mu.Unlock()
	if conn == nil {
		return errors.New("lab: guest control channel not connected yet")
	}
	b, _ := json.Marshal(proto.Msg{K: proto.KindSignal, C: cmd, Sig: int(sig)})
	_, err := conn.Write(append(b, '\n'))
	return err
}

// Peer returns the host end of NIC i.
func (vm *VM) Peer(i int) *Peer { return vm.peers[i] }

// Wait waits for the guest to power off (or the timeout) and returns the result.
// The error is nil only when the guest init finished all commands; command
// exit statuses are in Result.Exits (see Result.CommandErr).
func (vm *VM) Wait() (*Result, error) {
	<-vm.exited
	// The control socket may still hold the last lines.
	select {
	case <-vm.readerD:
	case <-time.After(2 * time.Second):
	}
	vm.mu.Lock()
	defer vm.mu.Unlock()
	res := vm.res
	res.Total = time.Since(vm.start)
	res.Console = vm.consoleTail(16 << 10)
	switch {
	case vm.bootHung:
		return &res, fmt.Errorf("%w within %v; console tail:\n%s", ErrBootHang, vm.cfg.BootTimeout, tail(res.Console, 3000))
	case vm.timedOut:
		return &res, fmt.Errorf("%w after %v (boot ready: %v); console tail:\n%s", ErrTimeout, vm.cfg.Timeout, vm.ready, tail(res.Console, 3000))
	case vm.fatal != "":
		return &res, fmt.Errorf("%w: %s; console tail:\n%s", ErrGuestFatal, vm.fatal, tail(res.Console, 3000))
	case !vm.done:
		return &res, fmt.Errorf("%w: %s; qemu said: %s; console tail:\n%s", ErrCrashed, vm.cmd.ProcessState, tail(vm.stderr.String(), 1000), tail(res.Console, 3000))
	}
	return &res, nil
}

func (vm *VM) consoleTail(n int) string {
	b, _ := os.ReadFile(filepath.Join(vm.dir, "console.log"))
	return tail(string(b), n)
}

// Close kills QEMU if it still runs, reaps it and removes the work folder.
// It is idempotent.
func (vm *VM) Close() error {
	vm.closeMu.Do(vm.cleanup)
	return nil
}

func (vm *VM) cleanup() {
	if vm.cmd != nil && vm.cmd.Process != nil {
		select {
		case <-vm.exited:
		default:
			vm.kill()
			<-vm.exited
		}
	}
	if vm.ln != nil {
		_ = vm.ln.Close()
	}
	vm.mu.Lock()
	if vm.ctl != nil {
		_ = vm.ctl.Close()
	}
	vm.mu.Unlock()
	if vm.cmd != nil && vm.cmd.Process != nil {
		select { // the reader ends once its connection is closed
		case <-vm.readerD:
		case <-time.After(2 * time.Second):
		}
	}
	vm.qmpMu.Lock()
	if vm.qmp != nil {
		_ = vm.qmp.Close()
	}
	vm.qmpMu.Unlock()
	for _, p := range vm.peers {
		_ = p.Close()
	}
	if vm.ownDir && os.Getenv("UIODRV_LAB_KEEP") == "" {
		_ = os.RemoveAll(vm.dir)
	}
}

var _ io.Closer = (*VM)(nil)

func (vm *VM) isBootHung() bool {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	return vm.bootHung
}

// StartReady starts the VM and waits until the guest init is ready (modules
// loaded, devices bound). A boot that hangs (ErrBootHang) is retried once
// with a fresh QEMU, and onRetry (if not nil) is told why: a stalled
// emulated boot says nothing about the code under test. The returned VM
// must be closed.
func StartReady(ctx context.Context, cfg Config, onRetry func(error)) (*VM, error) {
	for attempt := 0; ; attempt++ {
		vm, err := Start(ctx, cfg)
		if err != nil {
			return nil, err
		}
		err = vm.WaitReady(ctx)
		if err == nil {
			return vm, nil
		}
		_, werr := vm.Wait()
		vm.Close()
		if !errors.Is(err, ErrBootHang) || attempt > 0 {
			if werr != nil {
				return nil, werr
			}
			return nil, err
		}
		if onRetry != nil {
			onRetry(werr)
		}
	}
}

// PID is QEMU's process ID.
func (vm *VM) PID() int { return vm.cmd.Process.Pid }
