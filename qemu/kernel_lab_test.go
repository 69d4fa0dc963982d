package qemu_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uiodrv/uiodrv/qemu"
	"github.com/uiodrv/uiodrv/qemu/labtest"
)

// TestLabKernelModules stages the Debian kernel (downloading it the first
// time) and checks that module dependencies resolve in load order.
func TestLabKernelModules(t *testing.T) {
	labtest.Require(t)
	k, err := qemu.StageKernel()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kernel %s from %s", k.Version, k.Package)
	mods, err := k.ModuleClosure("vfio_iommu_type1", "vfio-pci", "uio_pci_generic")
	if err != nil {
		t.Fatal(err)
	}
	pos := map[string]int{}
	var names []string
	for i, m := range mods {
		if _, dup := pos[m.Name]; dup {
			t.Fatalf("%s listed twice", m.Name)
		}
		pos[m.Name] = i
		names = append(names, m.Name)
	}
	t.Logf("load order: %s", strings.Join(names, " "))
	for _, dep := range [][2]string{{"vfio", "vfio_pci_core"}, {"vfio_pci_core", "vfio_pci"}, {"uio", "uio_pci_generic"}, {"vfio", "vfio_iommu_type1"}} {
		a, okA := pos[dep[0]]
		b, okB := pos[dep[1]]
		if !okA || !okB || a > b {
			t.Errorf("%s must load before %s: %v", dep[0], dep[1], names)
		}
	}
	if _, err := k.ModuleClosure("no_such_module"); err == nil {
		t.Error("an unknown module resolved")
	}
}

// TestLabKernelBackports stages Debian's backports kernel (6.12 on Debian
// 12; downloaded the first time), boots it with the vIOMMU, and checks in
// the guest: the legacy VFIO group interface with 03.0 on vfio-pci; the
// modern interface (/dev/iommu, /dev/vfio/devices/vfioN) exactly as the
// kernel's own configuration says it was built; and the kernel's e1000
// driver on 04.0 passing a frame to and from the host peer.
func TestLabKernelBackports(t *testing.T) {
	labtest.Require(t)
	k, err := qemu.StageKernelSeries(qemu.KernelBackports)
	if err != nil {
		t.Fatal(err)
	}
	iommufd, err := k.Config("CONFIG_IOMMUFD")
	if err != nil {
		t.Fatal(err)
	}
	cdev, _ := k.Config("CONFIG_VFIO_DEVICE_CDEV")
	t.Logf("kernel %s from %s: CONFIG_IOMMUFD=%q CONFIG_VFIO_DEVICE_CDEV=%q", k.Version, k.Package, iommufd, cdev)
	if iommufd == "" {
		t.Logf("NOTE: Debian built %s without iommufd: no /dev/iommu and no VFIO device cdev; only the group/container API", k.Version)
	}
	var mods []string
	if iommufd == "m" {
		mods = append(mods, "iommufd")
	}
	flag := func(b bool) string {
		if b {
			return "1"
		}
		return "0"
	}
	vm := labtest.Start(t, labtest.Options{
		Package: "./qemu",
		Run:     "^TestGuest(Backports|Peer)$",
		Env:     []string{"LAB_IOMMUFD=" + flag(iommufd != ""), "LAB_VFIO_CDEV=" + flag(cdev == "y")},
		VM: qemu.Config{
			Kernel:  qemu.KernelBackports,
			IOMMU:   true,
			NICs:    []qemu.NIC{{Model: qemu.E1000}, {Model: qemu.E1000}},
			Modules: mods,
			Bind: []qemu.Binding{
				{BDF: "0000:00:03.0", Driver: "vfio-pci"},
				{BDF: "0000:00:04.0", Driver: "e1000"},
			},
		},
	})
	peerEcho(t, vm, 1, 0)
	res := labtest.Finish(t, vm)
	if res.Kernel != k.Version {
		t.Fatalf("guest runs kernel %q, want the backports kernel %s", res.Kernel, k.Version)
	}
}

func TestGuestBackports(t *testing.T) {
	labtest.InGuest(t)
	dir := checkDevice(t, "0000:00:03.0", "0x100e", "vfio-pci")
	g, err := os.Readlink(dir + "/iommu_group")
	if err != nil {
		t.Fatalf("03.0 has no IOMMU group: %v", err)
	}
	for _, node := range []string{"/dev/vfio/vfio", "/dev/vfio/" + filepath.Base(g)} {
		if _, err := os.Stat(node); err != nil {
			t.Errorf("legacy VFIO: %v", err)
		}
	}
	_, errIOMMU := os.Stat("/dev/iommu")
	cdevs, _ := filepath.Glob(dir + "/vfio-dev/vfio*")
	t.Logf("/dev/iommu: %v; vfio-dev entries of 03.0: %v", errIOMMU == nil, cdevs)
	if want := os.Getenv("LAB_IOMMUFD") == "1"; (errIOMMU == nil) != want {
		t.Errorf("/dev/iommu exists = %v, but the kernel config says iommufd = %v", errIOMMU == nil, want)
	}
	// 6.12 registers a vfio-dev/vfioN device in sysfs in any case; the
	// character device behind it exists only with CONFIG_VFIO_DEVICE_CDEV.
	if len(cdevs) != 1 {
		t.Fatalf("vfio-dev entries of 03.0: %v, want one", cdevs)
	}
	node := "/dev/vfio/devices/" + filepath.Base(cdevs[0])
	_, errNode := os.Stat(node)
	t.Logf("%s exists: %v", node, errNode == nil)
	if want := os.Getenv("LAB_VFIO_CDEV") == "1"; (errNode == nil) != want {
		t.Errorf("%s exists = %v, but the kernel config says VFIO_DEVICE_CDEV = %v", node, errNode == nil, want)
	}
}
