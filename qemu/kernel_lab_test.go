package qemu_test

import (
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
