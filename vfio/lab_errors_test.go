package vfio

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/uiodrv/uiodrv/pci"
	"github.com/uiodrv/uiodrv/qemu/labtest"
)

// Guest-side error paths: what Open says for a device it cannot use, and
// without VFIO at all. Each error must name the fix (see vfio/errors.go).
func TestGuestVFIOErrors(t *testing.T) {
	labtest.InGuest(t)
	_, err := Open("0000:00:05.0", nil)
	t.Logf("unbound device: %v", err)
	if !errors.Is(err, ErrNotBound) {
		t.Errorf("Open(unbound device) = %v, want ErrNotBound", err)
	}
	_, err = Open("0000:00:1f.7", nil)
	if !errors.Is(err, pci.ErrNoDevice) {
		t.Errorf("Open(missing device) = %v, want pci.ErrNoDevice", err)
	}
	// The whole group is viable and opens; a second Open of the same device
	// while the first holds the group is refused with ErrGroupBusy.
	d, err := Open("0000:00:03.0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := Open("0000:00:03.0", nil); !errors.Is(err, ErrGroupBusy) {
		t.Errorf("second Open = %v, want ErrGroupBusy", err)
	}
}

// TestGuestVFIOPermission opens the device as user nobody in a child
// process: /dev/vfio/N is root's, so Open wraps ErrPermission.
func TestGuestVFIOPermission(t *testing.T) {
	labtest.InGuest(t)
	if os.Getenv("UIODRV_PERM_CHILD") == "1" {
		_, err := Open("0000:00:03.0", nil)
		fmt.Printf("child uid %d: %v\n", os.Getuid(), err)
		if !errors.Is(err, ErrPermission) {
			t.Fatalf("Open as uid %d = %v, want ErrPermission", os.Getuid(), err)
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestGuestVFIOPermission$", "-test.v")
	cmd.Env = append(os.Environ(), "UIODRV_PERM_CHILD=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	t.Logf("child:\n%s", out)
	if err != nil {
		t.Fatalf("child as nobody: %v", err)
	}
	if !strings.Contains(string(out), "permission denied") {
		t.Errorf("child output lacks the permission error")
	}
}

// TestGuestNoVFIO runs in a boot where no VFIO module is loaded.
func TestGuestNoVFIO(t *testing.T) {
	labtest.InGuest(t)
	_, err := Open("0000:00:03.0", nil)
	t.Logf("no VFIO modules: %v", err)
	if !errors.Is(err, ErrNoVFIO) {
		t.Errorf("Open = %v, want ErrNoVFIO", err)
	}
	if _, err := OpenContainer(); !errors.Is(err, ErrNoVFIO) {
		t.Errorf("OpenContainer = %v, want ErrNoVFIO", err)
	}
}
