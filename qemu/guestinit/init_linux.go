package guestinit

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/u-root/u-root/pkg/kmodule"
	"github.com/u-root/u-root/pkg/mount"
	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/qemu/internal/proto"
)

// ctl is the control channel to the host. Writes are serialised by mu.
type ctl struct {
	mu  sync.Mutex
	w   io.Writer
	enc *json.Encoder
}

func (c *ctl) send(m proto.Msg) {
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.enc.Encode(m)
}

func (c *ctl) logf(format string, args ...any) {
	c.send(proto.Msg{K: proto.KindLog, M: fmt.Sprintf(format, args...)})
}

// Main runs the guest init. It never returns: it powers the machine off.
func Main() {
	c := &ctl{w: os.Stderr}
	c.enc = json.NewEncoder(os.Stderr)
	err := run(c)
	if err != nil {
		c.send(proto.Msg{K: proto.KindFatal, M: err.Error()})
		fmt.Fprintf(os.Stderr, "uiodrv lab init: %v\n", err)
	} else {
		c.send(proto.Msg{K: proto.KindDone})
	}
	powerOff()
}

func powerOff() {
	unix.Sync()
	// Give the serial FIFO a moment to drain before the machine vanishes.
	time.Sleep(100 * time.Millisecond)
	for {
		_ = unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
		time.Sleep(time.Second)
	}
}

func run(c *ctl) error {
	if err := mountAll(); err != nil {
		return err
	}
	f, err := os.OpenFile(proto.ControlTTY, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return fmt.Errorf("open control port %s: %w", proto.ControlTTY, err)
	}
	if err := makeRaw(int(f.Fd())); err != nil {
		return fmt.Errorf("set %s raw: %w", proto.ControlTTY, err)
	}
	c.mu.Lock()
	c.w = f
	c.enc = json.NewEncoder(f)
	c.mu.Unlock()

	raw, err := os.ReadFile(proto.ConfigPath)
	if err != nil {
		return fmt.Errorf("read lab config: %w", err)
	}
	var cfg proto.GuestConfig
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return fmt.Errorf("parse lab config: %w", err)
	}
	for _, m := range cfg.Modules {
		if err := loadModule(m); err != nil {
			return err
		}
	}
	if cfg.Hugepages > 0 {
		if err := reserveHugepages(cfg.Hugepages); err != nil {
			return err
		}
	}
	for _, b := range cfg.Bind {
		if err := bind(b); err != nil {
			return err
		}
		c.logf("bound %s to %s", b.BDF, b.Driver)
	}
	var uname unix.Utsname
	_ = unix.Uname(&uname)
	c.send(proto.Msg{K: proto.KindReady, M: unix.ByteSliceToString(uname.Release[:]), Uptime: uptime()})

	r := newRunner(c, cfg.Commands)
	go r.readHost(f)
	r.runAll()
	for _, p := range cfg.Fetch {
		sendFile(c, p)
	}
	return nil
}

// sendFile sends a guest file to the host over the control channel, in
// base64 pieces (the channel carries JSON lines).
func sendFile(c *ctl, path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		c.send(proto.Msg{K: proto.KindFileEnd, M: path, Err: err.Error()})
		return
	}
	for off := 0; off < len(b); off += proto.FileChunk {
		end := min(off+proto.FileChunk, len(b))
		c.send(proto.Msg{K: proto.KindFile, M: path, D: base64.StdEncoding.EncodeToString(b[off:end])})
	}
	c.send(proto.Msg{K: proto.KindFileEnd, M: path})
}

func uptime() float64 {
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(b))
	if len(fields) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(fields[0], 64)
	return v
}

func mountAll() error {
	for _, m := range []struct{ dev, path, fs string }{
		{"proc", "/proc", "proc"},
		{"sysfs", "/sys", "sysfs"},
		{"devtmpfs", "/dev", "devtmpfs"},
		{"tmpfs", "/tmp", "tmpfs"},
	} {
		if err := os.MkdirAll(m.path, 0o755); err != nil {
			return err
		}
		if _, err := mount.Mount(m.dev, m.path, m.fs, "", 0); err != nil && !errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("mount %s on %s: %w", m.fs, m.path, err)
		}
	}
	// debugfs: the scheduler's features (HRTICK_DL) for the real-time
	// scenario; a kernel without it still boots.
	_, _ = mount.Mount("debugfs", "/sys/kernel/debug", "debugfs", "", 0)
	return nil
}

func loadModule(m proto.Module) error {
	f, err := os.Open(m.Path)
	if err != nil {
		return fmt.Errorf("load module %s: %w", m.Name, err)
	}
	defer f.Close()
	if err := kmodule.FileInit(f, m.Params, 0); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("load module %s (%s) params %q: %w", m.Name, m.Path, m.Params, err)
	}
	return nil
}

// reserveHugepages makes sure n 2 MiB pages are reserved. The host asks for
// them on the kernel command line (hugepages=n), where they are taken before
// memory fragments; this only tops up, compacting memory between tries.
func reserveHugepages(n int) error {
	got := 0
	for try := 0; try < 5; try++ {
		b, _ := os.ReadFile("/proc/sys/vm/nr_hugepages")
		if got, _ = strconv.Atoi(strings.TrimSpace(string(b))); got >= n {
			break
		}
		_ = os.WriteFile("/proc/sys/vm/compact_memory", []byte("1"), 0)
		if err := os.WriteFile("/proc/sys/vm/nr_hugepages", []byte(strconv.Itoa(n)), 0); err != nil {
			return fmt.Errorf("reserve %d hugepages: %w", n, err)
		}
	}
	if got < n {
		return fmt.Errorf("reserve %d hugepages: the kernel gave %d", n, got)
	}
	if err := os.MkdirAll("/mnt/huge", 0o755); err != nil {
		return err
	}
	if _, err := mount.Mount("hugetlbfs", "/mnt/huge", "hugetlbfs", "", 0); err != nil {
		return fmt.Errorf("mount hugetlbfs: %w", err)
	}
	return nil
}

func bind(b proto.Binding) error {
	dev := filepath.Join("/sys/bus/pci/devices", b.BDF)
	if _, err := os.Stat(dev); err != nil {
		return fmt.Errorf("bind %s to %s: no such PCI device (%w)", b.BDF, b.Driver, err)
	}
	if cur, err := os.Readlink(filepath.Join(dev, "driver")); err == nil {
		if err := os.WriteFile(filepath.Join(dev, "driver", "unbind"), []byte(b.BDF), 0); err != nil {
			return fmt.Errorf("unbind %s from %s: %w", b.BDF, filepath.Base(cur), err)
		}
	}
	if err := os.WriteFile(filepath.Join(dev, "driver_override"), []byte(b.Driver), 0); err != nil {
		return fmt.Errorf("bind %s: write driver_override: %w", b.BDF, err)
	}
	if err := os.WriteFile("/sys/bus/pci/drivers_probe", []byte(b.BDF), 0); err != nil {
		return fmt.Errorf("bind %s to %s: drivers_probe: %w", b.BDF, b.Driver, err)
	}
	cur, err := os.Readlink(filepath.Join(dev, "driver"))
	if err != nil || filepath.Base(cur) != b.Driver {
		return fmt.Errorf("bind %s to %s: device has driver %q after probe (is the module loaded?)", b.BDF, b.Driver, filepath.Base(cur))
	}
	return nil
}

// runner runs the commands and forwards host signals to them.
type runner struct {
	c    *ctl
	cmds []proto.Command
	mu   sync.Mutex
	proc map[int]*os.Process
}

func newRunner(c *ctl, cmds []proto.Command) *runner {
	return &runner{c: c, cmds: cmds, proc: map[int]*os.Process{}}
}

func (r *runner) readHost(f io.Reader) {
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m proto.Msg
		if json.Unmarshal(sc.Bytes(), &m) != nil || m.K != proto.KindSignal {
			continue
		}
		r.mu.Lock()
		p := r.proc[m.C]
		r.mu.Unlock()
		if p != nil {
			_ = p.Signal(syscall.Signal(m.Sig))
		}
	}
}

func (r *runner) runAll() {
	var bg sync.WaitGroup
	var bgCancel []context.CancelFunc
	for i, cmd := range r.cmds {
		ctx, cancel := context.WithCancel(context.Background())
		if cmd.TimeoutMs > 0 {
			ctx, cancel = context.WithTimeout(context.Background(), time.Duration(cmd.TimeoutMs)*time.Millisecond)
		}
		if cmd.Background {
			bg.Add(1)
			bgCancel = append(bgCancel, cancel)
			go func() { defer bg.Done(); r.runOne(ctx, i, cmd) }()
			continue
		}
		r.runOne(ctx, i, cmd)
		cancel()
	}
	// Background commands end with the foreground ones: SIGTERM, then SIGKILL.
	r.mu.Lock()
	for _, p := range r.proc {
		_ = p.Signal(syscall.SIGTERM)
	}
	r.mu.Unlock()
	done := make(chan struct{})
	go func() { bg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		for _, cancel := range bgCancel {
			cancel()
		}
		<-done
	}
}

func (r *runner) runOne(ctx context.Context, i int, cmd proto.Command) {
	if len(cmd.Args) == 0 {
		r.c.send(proto.Msg{K: proto.KindExit, C: i, Code: -1, Err: "empty command"})
		return
	}
	x := exec.CommandContext(ctx, cmd.Args[0], cmd.Args[1:]...)
	x.Env = append([]string{"PATH=/bin:/sbin:/usr/bin", "HOME=/tmp", proto.EnvInGuest + "=1"}, cmd.Env...)
	x.Dir = "/tmp"
	x.WaitDelay = 2 * time.Second
	if cmd.User != nil {
		if err := own(cmd.User); err != nil {
			r.c.send(proto.Msg{K: proto.KindExit, C: i, Code: -1, Err: err.Error()})
			return
		}
		x.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: cmd.User.UID, Gid: cmd.User.GID, Groups: []uint32{}}}
	}
	stdout, err1 := x.StdoutPipe()
	stderr, err2 := x.StderrPipe()
	if err := errors.Join(err1, err2); err != nil {
		r.c.send(proto.Msg{K: proto.KindExit, C: i, Code: -1, Err: err.Error()})
		return
	}
	if err := startWithLimits(x, cmd.User); err != nil {
		r.c.send(proto.Msg{K: proto.KindExit, C: i, Code: -1, Err: err.Error()})
		return
	}
	r.mu.Lock()
	r.proc[i] = x.Process
	r.mu.Unlock()
	r.c.send(proto.Msg{K: proto.KindStart, C: i})
	var wg sync.WaitGroup
	for s, rd := range map[int]io.Reader{1: stdout, 2: stderr} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc := bufio.NewScanner(rd)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				r.c.send(proto.Msg{K: proto.KindOut, C: i, S: s, D: sc.Text()})
			}
		}()
	}
	wg.Wait()
	err := x.Wait()
	r.mu.Lock()
	delete(r.proc, i)
	r.mu.Unlock()
	m := proto.Msg{K: proto.KindExit, C: i, Code: x.ProcessState.ExitCode()}
	if ctx.Err() == context.DeadlineExceeded {
		m.Err = fmt.Sprintf("killed at its timeout of %v", time.Duration(cmd.TimeoutMs)*time.Millisecond)
	} else if err != nil {
		m.Err = err.Error()
	}
	if ws, ok := x.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		m.Code = 128 + int(ws.Signal())
	}
	r.c.send(m)
}
