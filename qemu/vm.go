package qemu

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Errors a boot can end with.
var (
	// ErrTimeout: the guest did not power off within Config.Timeout; QEMU was killed.
	ErrTimeout = errors.New("qemu: guest timed out")
	// ErrGuestFatal: the guest init reported a failure (module, bind, mount...).
	ErrGuestFatal = errors.New("qemu: guest init failed")
	// ErrCrashed: QEMU exited without the guest init saying it was done.
	ErrCrashed = errors.New("qemu: guest ended unexpectedly")
	// ErrFinished: a wait for a guest event found the guest already powered
	// off after running every command (a guest test failed or exited early).
	ErrFinished = errors.New("qemu: guest finished its commands first")
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
	cfg    Config
	dir    string
	ownDir bool
	cmd    *exec.Cmd
	stderr bytes.Buffer
	peers  []*Peer
	// extraFiles are the tap peers' queue fds, QEMU's fds 3, 4, ...; ours
	// are closed once QEMU has started (it holds its own copies).
	extraFiles []*os.File
	ln         net.Listener
	ctl        net.Conn
	qmpPath    string
	start      time.Time

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
	vm.cmd.ExtraFiles = vm.extraFiles
	err = vm.cmd.Start()
	for _, p := range vm.peers {
		if p.tap != nil {
			p.tap.dropQueues()
		}
	}
	if err != nil {
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

// Peer returns the host end of NIC i.
func (vm *VM) Peer(i int) *Peer { return vm.peers[i] }

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
