// Command labsetup installs what the lab needs on a Debian machine and
// stages the guest kernel in the cache: qemu-system-x86 through apt-get
// (with sudo when not root) and the -unsigned image of the kernel that
// linux-image-amd64 depends on, through apt-get download. A second run
// downloads nothing.
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
	k, err := qemu.StageKernel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "labsetup:", err)
		os.Exit(1)
	}
	cache, _ := qemu.CacheDir()
	fmt.Printf("lab ready: %s, guest kernel %s (%s) in %s\n", qemu.QEMUBinary, k.Version, k.Package, cache)
}
