// Command labkernel stages the lab's source-built guest kernel
// (qemu.KernelSource: Linux 7.x from Debian's linux-source package, with
// iommufd and the VFIO device cdev, everything built in) in the lab's cache,
// building it when the cache has no build of the current source version and
// configuration. It installs the build dependencies it lacks
// (qemu.KernelBuildPackages) with apt-get. A second run builds nothing.
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/uiodrv/uiodrv/qemu"
)

func main() {
	start := time.Now()
	k, err := qemu.StageSourceKernel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "labkernel:", err)
		os.Exit(1)
	}
	fmt.Printf("lab kernel %s (%s, configuration %s) in %s, staged in %s\n",
		k.Version, k.Package, qemu.SourceConfigHash(), k.Root, time.Since(start).Round(time.Second))
}
