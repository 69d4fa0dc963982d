package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/bus"
)

// readBAR0 reads a 32-bit register of bdf's BAR0 through sysfs resource0.
func readBAR0(bdf string, off int) (uint32, error) {
	fd, err := unix.Open("/sys/bus/pci/devices/"+bdf+"/resource0", unix.O_RDONLY|unix.O_SYNC|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	m, err := unix.Mmap(fd, 0, 0x20000, unix.PROT_READ, unix.MAP_SHARED) // BAR0 is 128 KiB
	if err != nil {
		return 0, err
	}
	defer unix.Munmap(m)
	return binary.LittleEndian.Uint32(m[off:]), nil
}

// In-guest checks of TestGuestCLIErrors that need a running uiodrv: its
// stdout reader going away, and a second signal while it closes.

// startGuest starts /bin/uiodrv and waits until it is ready; the rest of its
// stdout is drained in the background unless keep.
func startGuest(t *testing.T, args ...string) (*exec.Cmd, io.ReadCloser, *bytes.Buffer, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command("/bin/uiodrv", args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	ready := make(chan bool, 1)
	go func() {
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "uiodrv: ready") {
				ready <- true
				return
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			cmd.Wait()
			t.Fatalf("uiodrv %v ended before it was ready:\n%s", args, stderr.String())
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("uiodrv %v: not ready after 60 s", args)
	}
	return cmd, stdout, &stderr, sc
}

// uiodrv ... | head: the reader of stdout goes away, the next statistics
// line meets EPIPE (SIGPIPE), and uiodrv closes the device and exits 0.
func guestClosedPipe(t *testing.T, b string) {
	cmd, stdout, stderr, sc := startGuest(t, "--dev", labBDF, b, "--mode", "tasklet", "--settle", "0", "--stats-every", "200ms")
	if !sc.Scan() { // one statistics line, as head would read
		t.Errorf("closed pipe: no statistics line")
	}
	stdout.Close()
	err := cmd.Wait()
	t.Logf("closed pipe: %v\n%s", err, stderr.String())
	if err != nil || !strings.Contains(stderr.String(), "device released") {
		t.Errorf("uiodrv with its stdout reader gone: %v, want exit 0 and the device released", err)
	}
}

// A second signal while the port closes exits at once, bus mastering off.
func guestSecondSignal(t *testing.T, b string) {
	cmd, stdout, stderr, _ := startGuest(t, "--dev", labBDF, b, "--mode", "tasklet", "--settle", "0")
	go io.Copy(io.Discard, stdout)
	// Two different signals: Go coalesces a signal that is already pending.
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	t.Logf("second signal: %v\n%s", err, stderr.String())
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 || !strings.Contains(stderr.String(), "exiting at once;") ||
		!strings.Contains(stderr.String(), "bus mastering off on "+labBDF) {
		t.Errorf("two signals: %v, want exit 1 and bus mastering turned off", err)
	}
	if b == "--backend=uio" {
		// uio_pci_generic keeps the NIC's state: RX must be off too, or
		// the next run's window before its reset lets the NIC write
		// through the old ring (RCTL 0x100, RCTL.EN bit 1).
		if !strings.Contains(stderr.String(), "RX and TX off on "+labBDF) {
			t.Errorf("two signals on UIO: RX not stopped:\n%s", stderr.String())
		}
		if rctl, err := readBAR0(labBDF, 0x100); err != nil {
			t.Errorf("read RCTL: %v", err)
		} else if rctl&2 != 0 {
			t.Errorf("RCTL %#x after the forced exit: RX still enabled", rctl)
		}
	}
	cfg, err := os.ReadFile("/sys/bus/pci/devices/" + labBDF + "/config")
	if err != nil || len(cfg) < 8 {
		t.Fatalf("read config space: %v", err)
	}
	if cmdReg := binary.LittleEndian.Uint16(cfg[bus.CfgCommand:]); cmdReg&bus.CmdMaster != 0 {
		t.Errorf("command register %#04x after the forced exit: bus master still on", cmdReg)
	}
}
