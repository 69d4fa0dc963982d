package uio

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/pci"
)

type memConfig [256]byte

func (m *memConfig) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > int64(len(m)) {
		return 0, io.EOF
	}
	return copy(p, m[off:]), nil
}
func (m *memConfig) WriteAt(p []byte, off int64) (int, error) { return copy(m[off:], p), nil }

// fakeUIO makes a FIFO standing in for /dev/uioN; post writes a count.
func fakeUIO(t *testing.T) (path string, post func(uint32)) {
	path = filepath.Join(t.TempDir(), "uio0")
	if err := unix.Mkfifo(path, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	w, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return path, func(c uint32) {
		if err := binary.Write(w, binary.NativeEndian, c); err != nil {
			t.Error(err)
		}
	}
}

func TestIRQ(t *testing.T) {
	path, post := fakeUIO(t)
	var m memConfig
	binary.LittleEndian.PutUint16(m[pci.CfgCommand:], pci.CmdINTxDisable|pci.CmdMemory)
	q, err := newIRQ(path, 41, pci.NewConfig(&m))
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range []uint32{42, 43, 45} {
		done := make(chan uint64, 1)
		go func() {
			n, err := q.Wait(context.Background())
			if err != nil {
				t.Error(err)
			}
			done <- n
		}()
		select {
		case <-done:
			t.Fatal("Wait returned before the interrupt")
		case <-time.After(20 * time.Millisecond):
		}
		post(c)
		select {
		case n := <-done:
			if want := []uint64{1, 1, 2}[i]; n != want {
				t.Errorf("count %d: Wait = %d, want %d", c, n, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Wait did not return")
		}
		if err := q.Unmask(); err != nil {
			t.Fatal(err)
		}
		if cmd := binary.LittleEndian.Uint16(m[pci.CfgCommand:]); cmd != pci.CmdMemory {
			t.Errorf("command after Unmask = %#x", cmd)
		}
		q.Mask()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := q.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait = %v, want DeadlineExceeded", err)
	}
	post(0) // the count wraps around 2^32
	if n, err := q.Wait(context.Background()); n != 1<<32-45 || err != nil {
		t.Errorf("Wait after wrap = %d, %v", n, err)
	}
	errc := make(chan error, 1)
	go func() { _, err := q.Wait(context.Background()); errc <- err }()
	time.Sleep(20 * time.Millisecond)
	if _, err := q.Wait(context.Background()); !errors.Is(err, ErrBusy) {
		t.Errorf("second waiter = %v, want ErrBusy", err)
	}
	q.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("Wait woken by Close = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake Wait")
	}
	if err := q.Unmask(); !errors.Is(err, ErrClosed) {
		t.Errorf("Unmask after Close = %v", err)
	}
	if err := q.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// fakeDevice builds a sysfs tree with a device bound to uio_pci_generic
// (resource0 and config as regular files) and a FIFO as /dev/uio0.
func fakeDevice(t *testing.T, driver string) (*Options, func(uint32)) {
	root := t.TempDir()
	s := pci.Sysfs{Root: filepath.Join(root, "sys")}
	a := pci.MustParseAddr("0000:00:03.0")
	dir := s.DevicePath(a)
	for f, v := range map[string]string{"vendor": "0x8086\n", "device": "0x100e\n", "class": "0x020000\n", "uio/uio0/event": "7\n"} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755)
		os.WriteFile(filepath.Join(dir, f), []byte(v), 0o644)
	}
	bar := make([]byte, 0x20000)
	binary.LittleEndian.PutUint32(bar[8:], 0x80080783)
	os.WriteFile(filepath.Join(dir, "resource0"), bar, 0o644)
	os.WriteFile(filepath.Join(dir, "config"), make([]byte, 256), 0o644)
	os.MkdirAll(s.DriverPath(driver), 0o755)
	os.Symlink(s.DriverPath(driver), filepath.Join(dir, "driver"))
	dev := filepath.Join(root, "dev")
	os.MkdirAll(dev, 0o755)
	path, post := fakeUIO(t)
	os.Symlink(path, filepath.Join(dev, "uio0"))
	return &Options{Sysfs: s, DevDir: dev}, post
}

func TestOpenFake(t *testing.T) {
	opts, post := fakeDevice(t, "uio_pci_generic")
	d, err := Open("00:03.0", opts)
	if err != nil {
		t.Fatal(err)
	}
	if d.UIOName != "uio0" || d.Name != "0000:00:03.0" {
		t.Errorf("device %q uio %q", d.Name, d.UIOName)
	}
	bar, err := d.BAR(0)
	if err != nil {
		t.Fatal(err)
	}
	if st := bar.Read32(8); st != 0x80080783 {
		t.Errorf("STATUS through resource0 = %#x", st)
	}
	if _, err := d.MapBAR(1); err == nil {
		t.Error("MapBAR(1) with no resource1 succeeded")
	}
	if err := d.EnableBusMaster(); err != nil {
		t.Fatal(err)
	}
	q, err := d.IRQ()
	if err != nil {
		t.Fatal(err)
	}
	post(9) // count at open was 7 (sysfs event)
	if n, err := q.Wait(context.Background()); n != 2 || err != nil {
		t.Errorf("Wait = %d, %v; want 2", n, err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if !q.Closed() {
		t.Error("Device.Close left the IRQ open")
	}
	if _, err := d.IRQ(); !errors.Is(err, ErrClosed) {
		t.Errorf("IRQ after Close = %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	opts, _ := fakeDevice(t, "e1000")
	for _, tc := range []struct {
		bdf      string
		sentinel error
		mentions []string
	}{
		{"0000:00:03.0", ErrNotBound, []string{"bound to e1000", "driver_override", "uio_pci_generic"}},
		{"0000:00:04.0", pci.ErrNoDevice, nil},
		{"3.0", pci.ErrBadAddress, []string{"0000:00:03.0"}},
	} {
		_, err := Open(tc.bdf, opts)
		if !errors.Is(err, tc.sentinel) {
			t.Errorf("Open(%s) = %v, want %v", tc.bdf, err, tc.sentinel)
		}
		for _, m := range tc.mentions {
			if err != nil && !strings.Contains(err.Error(), m) {
				t.Errorf("Open(%s): %q does not mention %q", tc.bdf, err, m)
			}
		}
	}
}

// TestTeardownControls: MaskINTx sets Interrupt Disable in the config file
// without an open IRQ, and KeepDMA makes Close leave the allocators'
// hugepages mapped (a device that could not be reset may still write them);
// without it Close unmaps them.
func TestTeardownControls(t *testing.T) {
	for _, keep := range []bool{false, true} {
		opts, _ := fakeDevice(t, "uio_pci_generic")
		d, err := Open("00:03.0", opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.MaskINTx(); err != nil {
			t.Fatal(err)
		}
		if cmd, _ := d.Config().Command(); cmd&pci.CmdINTxDisable == 0 {
			t.Errorf("command %#x after MaskINTx", cmd)
		}
		a, f := newFakeAlloc(t)
		d.allocs = append(d.allocs, a)
		r, err := a.Alloc(4096)
		if err != nil {
			t.Fatal(err)
		}
		if keep {
			d.KeepDMA()
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		if kept := f.unmapped == 0 && r.Bytes() != nil; kept != keep {
			t.Errorf("KeepDMA %v: memory kept %v (%d unmapped)", keep, kept, f.unmapped)
		}
	}
}
