// Command labsetup installs what the lab needs on a Debian machine and
// stages the guest kernel in the cache:
//
//   - qemu-system-x86 at version 8 or later (the igb NIC model): when the
//     installed emulator is older or missing, Debian's backports suite is
//     enabled with an apt sources entry derived from the system's own entry
//     for the release (/etc/apt/sources.list.d/uiodrv-backports.sources) and
//     the package is installed from it with apt-get (through sudo when not
//     root), holding the lab lock so that no lab boot runs meanwhile;
//   - the -unsigned image of the kernel that linux-image-amd64 depends on,
//     through apt-get download.
//
// The backports kernel (qemu.KernelBackports) is staged only when a boot
// asks for it. A second run changes nothing and downloads nothing.
package main

import (
	"fmt"
	"os"

	"github.com/uiodrv/uiodrv/qemu"
)

func main() {
	if err := qemu.EnsureQEMU(); err != nil {
		fmt.Fprintln(os.Stderr, "labsetup:", err)
		os.Exit(1)
	}
	v, _, err := qemu.QEMUVersion()
	if err != nil {
		fmt.Fprintln(os.Stderr, "labsetup:", err)
		os.Exit(1)
	}
	k, err := qemu.StageKernel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "labsetup:", err)
		os.Exit(1)
	}
	cache, _ := qemu.CacheDir()
	fmt.Printf("lab ready: %s %s, guest kernel %s (%s) in %s\n", qemu.QEMUBinary, v, k.Version, k.Package, cache)
}
