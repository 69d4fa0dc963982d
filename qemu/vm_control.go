package qemu

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/uiodrv/uiodrv/qemu/internal/proto"
)

// The running guest: the control channel from its init, the watchdog, and
// what callers wait for (readiness, output lines, the end of the boot).

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

// WaitExit waits until command cmd has ended (or never started because an
// earlier one failed the boot), the VM ends, or ctx ends.
func (vm *VM) WaitExit(ctx context.Context, cmd int) error {
	return vm.waitFor(ctx, func() bool {
		return cmd >= 0 && cmd < len(vm.res.Exits) && vm.res.Exits[cmd].Ended
	}, fmt.Sprintf("command %d to end", cmd))
}

// Console returns the last n bytes of the guest's serial console so far.
func (vm *VM) Console(n int) string { return vm.consoleTail(n) }

// waitFor waits until cond (called with vm.mu held) is true, the VM ends, or ctx ends.
func (vm *VM) waitFor(ctx context.Context, cond func() bool, what string) error {
	for {
		vm.mu.Lock()
		if cond() {
			vm.mu.Unlock()
			return nil
		}
		ended, fatal, timedOut, done := vm.qemuDone, vm.fatal, vm.timedOut, vm.done
		ch := vm.changed
		vm.mu.Unlock()
		switch {
		case fatal != "":
			return fmt.Errorf("waiting for %s: %w: %s", what, ErrGuestFatal, fatal)
		case timedOut && vm.isBootHung():
			return fmt.Errorf("waiting for %s: %w", what, ErrBootHang)
		case timedOut:
			return fmt.Errorf("waiting for %s: %w", what, ErrTimeout)
		case ended && done:
			// The guest ran every command and powered off: what was
			// waited for will never come; the commands' own output says why.
			return fmt.Errorf("waiting for %s: %w", what, ErrFinished)
		case ended:
			// QEMU has exited and cmd.Wait has returned (qemuDone), so its
			// output is complete: say what it and the guest said last.
			return fmt.Errorf("waiting for %s: %w: %s; qemu said: %s; console tail:\n%s", what, ErrCrashed,
				vm.cmd.ProcessState, tail(vm.stderr.String(), 1000), vm.consoleTail(3000))
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

func (vm *VM) isBootHung() bool {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	return vm.bootHung
}
