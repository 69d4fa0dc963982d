package qemu_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/internal/netif"
	"github.com/uiodrv/uiodrv/internal/testframe"
	"github.com/uiodrv/uiodrv/qemu"
	"github.com/uiodrv/uiodrv/qemu/labtest"
)

// --- host side -------------------------------------------------------------

// TestLabVFIO boots with the vIOMMU, an e1000 at 03.0 and an e1000e at 04.0,
// both bound to vfio-pci, and checks what the guest sees.
func TestLabVFIO(t *testing.T) {
	res := labtest.Run(t, labtest.Options{
		Package: "./qemu",
		Run:     "^TestGuestVFIO$",
		VM: qemu.Config{
			IOMMU: true,
			NICs:  []qemu.NIC{{Model: qemu.E1000}, {Model: qemu.E1000E}},
			Bind: []qemu.Binding{
				{BDF: "0000:00:03.0", Driver: "vfio-pci"},
				{BDF: "0000:00:04.0", Driver: "vfio-pci"},
			},
		},
	})
	if res.Boot <= 0 || res.Kernel == "" {
		t.Fatalf("no boot report: kernel %q boot %v", res.Kernel, res.Boot)
	}
}

// TestLabUIOAndPeer boots without a vIOMMU: 03.0 bound to uio_pci_generic,
// 04.0 to the kernel's e1000 driver, through which the guest test exchanges
// frames with the host peer. Also checks that exit statuses reach the host.
func TestLabUIOAndPeer(t *testing.T) {
	vm := labtest.Start(t, labtest.Options{
		Package: "./qemu",
		Run:     "^TestGuest(UIO|Peer)$",
		VM: qemu.Config{
			NICs: []qemu.NIC{{Model: qemu.E1000}, {Model: qemu.E1000}},
			Bind: []qemu.Binding{
				{BDF: "0000:00:03.0", Driver: "uio_pci_generic"},
				{BDF: "0000:00:04.0", Driver: "e1000"},
			},
			Hugepages: 4,
		},
		Before: []qemu.Command{
			{Args: []string{"/bin/qemu.test", "-test.run", "^TestGuestExitCode$"}, Env: []string{"LAB_EXIT=3"}},
		},
	})
	peerEcho(t, vm, 1, 1)
	res := labtest.Finish(t, vm)
	if res.Exits[0].Code != 3 {
		t.Fatalf("exit status of the first guest command = %d, want 3", res.Exits[0].Code)
	}
}

// peerEcho exchanges frames with TestGuestPeer (guest command cmd) through
// NIC nic: the guest must echo the host's frame with the MACs swapped.
func peerEcho(t *testing.T, vm *qemu.VM, nic, cmd int) {
	t.Helper()
	peer := vm.Peer(nic)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := vm.WaitOutput(ctx, cmd, "peer: ready"); err != nil {
		t.Fatal(err)
	}
	// The guest echoes our frame with the MACs swapped. The e1000 ignores RX
	// for a second after its RCTL write, so resend until the echo comes.
	// Frames are test frames (internal/testframe): the guest's hello is
	// sequence number 0, the host's frame 1.
	frame := testframe.Build(make([]byte, testframe.MaxLen), echoFrame(1, peerNICMAC, peerHostMAC))
	var got []byte
	buf := make([]byte, 2048)
	for deadline := time.Now().Add(60 * time.Second); got == nil && time.Now().Before(deadline); {
		if err := peer.Send(frame); err != nil {
			t.Fatal(err)
		}
		for {
			n, err := peer.RecvInto(buf, time.Now().Add(300*time.Millisecond))
			if err != nil {
				break
			}
			f := buf[:n]
			if fr, ok, err := testframe.Check(f); ok && err == nil && fr == echoFrame(0, peerHostMAC, peerNICMAC) {
				t.Logf("hello from guest: %d bytes", n)
				continue
			}
			if testframe.Is(f) {
				got = append([]byte(nil), f...)
				break
			}
		}
	}
	if got == nil {
		t.Fatal("no echo from the guest")
	}
	want := append([]byte(nil), frame...)
	copy(want[0:6], frame[6:12])
	copy(want[6:12], frame[0:6])
	// The NIC may pad short frames; ours is long enough that it must not.
	if fr, _, err := testframe.Check(got); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("echo differs (%v, %+v):\n got % x\nwant % x", err, fr, got, want)
	}
}

// TestLabTimeout boots a guest whose command never ends: the lab must kill
// QEMU at the timeout, say so, and leave no process behind.
func TestLabTimeout(t *testing.T) {
	labtest.Require(t)
	bin := labtest.TestBinary(t, "./qemu")
	unlock := labtest.Lock(t)
	defer unlock()
	start := time.Now()
	vm, err := qemu.Start(context.Background(), qemu.Config{
		Timeout:  20 * time.Second,
		Files:    []qemu.File{{Host: bin, Guest: "/bin/qemu.test"}},
		Commands: []qemu.Command{{Args: []string{"/bin/qemu.test", "-test.run", "^TestGuestHang$"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	t.Logf("QEMU command line: %s", vm.Command())
	_, err = vm.Wait()
	if !errors.Is(err, qemu.ErrTimeout) {
		t.Fatalf("Wait = %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d > 50*time.Second {
		t.Fatalf("timeout took %v, want about 20s (plus start-up)", d)
	}
	if pid := vm.PID(); syscall.Kill(pid, 0) == nil {
		t.Fatalf("QEMU (pid %d) still exists after the timeout", pid)
	}
}

var (
	peerNICMAC  = [6]byte{0x52, 0x54, 0x00, 0x12, 0x34, 0x57} // NIC 1's MAC
	peerHostMAC = [6]byte{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}
)

// echoFrame is the peer exchange's frame seq (0: the guest's hello, 1: the
// host's frame, 214 bytes, on flow 1).
func echoFrame(seq uint64, dst, src [6]byte) testframe.Frame {
	n := 214
	if seq == 0 {
		n = testframe.MinLen
	}
	return testframe.Frame{Dst: dst, Src: src, Flow: 1, Seq: seq, Len: n}
}

// --- guest side ------------------------------------------------------------

func readSysfs(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func checkDevice(t *testing.T, bdf, device, driver string) string {
	t.Helper()
	dir := "/sys/bus/pci/devices/" + bdf
	if v := readSysfs(t, dir+"/vendor"); v != "0x8086" {
		t.Errorf("%s vendor = %s, want 0x8086", bdf, v)
	}
	if d := readSysfs(t, dir+"/device"); d != device {
		t.Errorf("%s device = %s, want %s", bdf, d, device)
	}
	link, err := os.Readlink(dir + "/driver")
	if err != nil || filepath.Base(link) != driver {
		t.Errorf("%s driver = %q (%v), want %s", bdf, link, err, driver)
	}
	return dir
}

func TestGuestVFIO(t *testing.T) {
	labtest.InGuest(t)
	for _, d := range []struct{ bdf, id string }{{"0000:00:03.0", "0x100e"}, {"0000:00:04.0", "0x10d3"}} {
		dir := checkDevice(t, d.bdf, d.id, "vfio-pci")
		g, err := os.Readlink(dir + "/iommu_group")
		if err != nil {
			t.Fatalf("%s has no IOMMU group: %v", d.bdf, err)
		}
		node := "/dev/vfio/" + filepath.Base(g)
		if _, err := os.Stat(node); err != nil {
			t.Errorf("%s: %v", d.bdf, err)
		}
		t.Logf("%s: group node %s", d.bdf, node)
	}
	if _, err := os.Stat("/dev/vfio/vfio"); err != nil {
		t.Error(err)
	}
}

func TestGuestUIO(t *testing.T) {
	labtest.InGuest(t)
	checkDevice(t, "0000:00:03.0", "0x100e", "uio_pci_generic")
	names, _ := filepath.Glob("/sys/bus/pci/devices/0000:00:03.0/uio/uio*")
	if len(names) != 1 {
		t.Fatalf("uio entries for 03.0: %v", names)
	}
	if _, err := os.Stat("/dev/" + filepath.Base(names[0])); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("/sys/bus/pci/devices/0000:00:03.0/iommu_group"); err == nil {
		t.Error("03.0 has an IOMMU group in the UIO lane (no vIOMMU expected)")
	}
	if n := readSysfs(t, "/proc/sys/vm/nr_hugepages"); n != "4" {
		t.Errorf("nr_hugepages = %s, want 4", n)
	}
}

func TestGuestExitCode(t *testing.T) {
	labtest.InGuest(t)
	if os.Getenv("LAB_EXIT") == "3" {
		fmt.Println("exiting with status 3")
		os.Exit(3)
	}
}

func TestGuestHang(t *testing.T) {
	labtest.InGuest(t)
	time.Sleep(time.Hour) // not select{}: Go would report the deadlock and exit
}

// TestGuestPeer brings up the kernel e1000 driver's interface for 04.0,
// sends a frame to the host and echoes the host's frame with MACs swapped.
// LAB_PEER_BDF, LAB_PEER_DEVICE and LAB_PEER_DRIVER pick another NIC.
func TestGuestPeer(t *testing.T) {
	labtest.InGuest(t)
	bdf, id, drv := envOr("LAB_PEER_BDF", "0000:00:04.0"), envOr("LAB_PEER_DEVICE", "0x100e"), envOr("LAB_PEER_DRIVER", "e1000")
	dir := checkDevice(t, bdf, id, drv)
	ifs, _ := filepath.Glob(dir + "/net/*")
	if len(ifs) != 1 {
		t.Fatalf("net interfaces of %s: %v", bdf, ifs)
	}
	rxq, _ := filepath.Glob(ifs[0] + "/queues/rx-*")
	vecs, _ := filepath.Glob(dir + "/msi_irqs/*")
	t.Logf("%s (%s): %d RX queues, %d MSI/MSI-X vectors", filepath.Base(ifs[0]), drv, len(rxq), len(vecs))
	if min := envOr("LAB_PEER_MIN_RXQ", "1"); len(rxq) < int(min[0]-'0') {
		t.Errorf("%d RX queues, want at least %s", len(rxq), min)
	}
	ifi, err := net.InterfaceByName(filepath.Base(ifs[0]))
	if err != nil {
		t.Fatal(err)
	}
	if err := netif.Up(ifi.Name); err != nil {
		t.Fatal(err)
	}
	// Frames sent before the driver reports carrier are dropped by the qdisc.
	carrier := "/sys/class/net/" + ifi.Name + "/carrier"
	for start := time.Now(); ; time.Sleep(50 * time.Millisecond) {
		if b, _ := os.ReadFile(carrier); strings.TrimSpace(string(b)) == "1" {
			t.Logf("%s carrier up after %v", ifi.Name, time.Since(start).Round(time.Millisecond))
			break
		}
		if time.Since(start) > 20*time.Second {
			t.Fatalf("%s: no carrier after 20s", ifi.Name)
		}
	}
	// Test frames are UDP/IPv4: the socket takes IPv4 and echoes the first
	// test frame (testframe.Is) that arrives.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, int(netif.Htons(unix.ETH_P_IP)))
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	sa := &unix.SockaddrLinklayer{Protocol: netif.Htons(unix.ETH_P_IP), Ifindex: ifi.Index}
	if err := unix.Bind(fd, sa); err != nil {
		t.Fatal(err)
	}
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 1})
	var mac [6]byte
	copy(mac[:], ifi.HardwareAddr)
	hello := testframe.Build(make([]byte, testframe.MinLen), echoFrame(0, peerHostMAC, mac))
	fmt.Println("peer: ready")
	buf := make([]byte, 2048)
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); {
		_ = unix.Sendto(fd, hello, 0, sa)
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil || !testframe.Is(buf[:n]) {
			continue
		}
		f := append([]byte(nil), buf[:n]...)
		var m [6]byte
		copy(m[:], f[0:6])
		copy(f[0:6], f[6:12])
		copy(f[6:12], m[:])
		if err := unix.Sendto(fd, f, 0, sa); err != nil {
			t.Fatal(err)
		}
		t.Logf("echoed a %d-byte frame", n)
		return
	}
	t.Fatal("no frame from the host")
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// TestLabBootHang: a guest that is not ready within BootTimeout is killed and
// reported as ErrBootHang, and StartReady tries exactly once more.
func TestLabBootHang(t *testing.T) {
	labtest.Require(t)
	unlock := labtest.Lock(t)
	defer unlock()
	retries := 0
	start := time.Now()
	// No boot finishes in 2 s under TCG.
	_, err := qemu.StartReady(context.Background(), qemu.Config{BootTimeout: 2 * time.Second, Timeout: time.Minute},
		func(error) { retries++ })
	if !errors.Is(err, qemu.ErrBootHang) {
		t.Fatalf("StartReady = %v, want ErrBootHang", err)
	}
	if retries != 1 {
		t.Fatalf("retried %d times, want 1", retries)
	}
	t.Logf("two hung boots reported in %v", time.Since(start).Round(time.Millisecond))
}

// TestLabIGB boots an emulated 82576 (-device igb, QEMU 8 and later) at
// 04.0 with the guest kernel's own igb driver: it must bind, bring the link
// up with more than one RX queue (2 vCPUs) and exchange frames with the host peer.
func TestLabIGB(t *testing.T) {
	vm := labtest.Start(t, labtest.Options{
		Package: "./qemu",
		Run:     "^TestGuestPeer$",
		Env: []string{"LAB_PEER_BDF=0000:00:04.0", "LAB_PEER_DEVICE=0x10c9", "LAB_PEER_DRIVER=igb",
			"LAB_PEER_MIN_RXQ=2"},
		VM: qemu.Config{
			NICs: []qemu.NIC{{Model: qemu.E1000}, {Model: qemu.IGB}},
			Bind: []qemu.Binding{{BDF: "0000:00:04.0", Driver: "igb"}},
		},
	})
	peerEcho(t, vm, 1, 0)
	labtest.Finish(t, vm)
	// A wait for a line the finished guest never printed says so at once.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := vm.WaitOutput(ctx, 0, "a line never printed"); !errors.Is(err, qemu.ErrFinished) {
		t.Errorf("WaitOutput after the guest finished = %v, want ErrFinished", err)
	}
}
