package guestinit

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"

	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/qemu/internal/proto"
)

// Running a command as another user (proto.User): the init chowns the
// paths the user is to own, starts the command with that UID and GID
// (SysProcAttr.Credential) and with the resource limits asked for.

// rlimitNames maps proto.User.Rlimits keys to resources.
var rlimitNames = map[string]int{
	"memlock": unix.RLIMIT_MEMLOCK,
	"rtprio":  unix.RLIMIT_RTPRIO,
	"nice":    unix.RLIMIT_NICE,
}

// own chowns every path matching u.Own to u.UID:u.GID.
func own(u *proto.User) error {
	for _, pat := range u.Own {
		paths, err := filepath.Glob(pat)
		if err != nil {
			return fmt.Errorf("own %q: %w", pat, err)
		}
		if len(paths) == 0 {
			return fmt.Errorf("own %q: no such path", pat)
		}
		for _, p := range paths {
			if err := os.Chown(p, int(u.UID), int(u.GID)); err != nil {
				return fmt.Errorf("own %s: %w", p, err)
			}
		}
	}
	return nil
}

// limitsMu serialises starts with limits: a child inherits the limits of
// the process that forks it, so the init sets the command's limits on
// itself, starts it, and puts its own back (Go has no per-child rlimit
// attribute; prlimit on the child after Start would race with its start).
var limitsMu sync.Mutex

func startWithLimits(x *exec.Cmd, u *proto.User) error {
	if u == nil || len(u.Rlimits) == 0 {
		return x.Start()
	}
	limitsMu.Lock()
	defer limitsMu.Unlock()
	type saved struct {
		res int
		old unix.Rlimit
	}
	var restore []saved
	defer func() {
		for _, s := range restore {
			_ = unix.Setrlimit(s.res, &s.old)
		}
	}()
	for name, v := range u.Rlimits {
		res, ok := rlimitNames[name]
		if !ok {
			return fmt.Errorf("rlimit %q: unknown (want memlock, rtprio or nice)", name)
		}
		var old unix.Rlimit
		if err := unix.Getrlimit(res, &old); err != nil {
			return fmt.Errorf("rlimit %s: %w", name, err)
		}
		restore = append(restore, saved{res, old})
		if err := unix.Setrlimit(res, &unix.Rlimit{Cur: v[0], Max: v[1]}); err != nil {
			return fmt.Errorf("rlimit %s %d/%d: %w", name, v[0], v[1], err)
		}
	}
	return x.Start()
}
