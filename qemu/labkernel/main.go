// Command labkernel stages lab guest kernels in the lab's cache. By default it
// stages the source-built kernel (qemu.KernelSource: Linux 7.x from Debian's
// linux-source package, with iommufd and the VFIO device cdev, everything
// built in), building it when the cache has no build of the current source
// version and configuration; it installs the build dependencies it lacks
// (qemu.KernelBuildPackages) with apt-get. -kernel names others from the
// lab's catalogue (comma-separated, e.g. 7.x,6.12-rt), each downloaded from
// Debian's packages the first time. A second run downloads and builds nothing.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/uiodrv/uiodrv/qemu"
)

func main() {
	names := flag.String("kernel", "source", "lab kernels to stage, comma-separated: "+strings.Join(qemu.KernelNames(), ", "))
	flag.Parse()
	var kernels []qemu.LabKernel
	for _, n := range strings.Split(*names, ",") {
		k, err := qemu.KernelByName(strings.TrimSpace(n))
		if err != nil {
			fmt.Fprintln(os.Stderr, "labkernel:", err)
			os.Exit(2)
		}
		kernels = append(kernels, k)
	}
	for _, lk := range kernels {
		start := time.Now()
		k, err := qemu.StageKernelSeries(lk.Series)
		if err != nil {
			fmt.Fprintln(os.Stderr, "labkernel:", err)
			os.Exit(1)
		}
		if lk.Series == qemu.KernelSource {
			fmt.Printf("lab kernel %s (%s, configuration %s) in %s, staged in %s\n",
				k.Version, k.Package, qemu.SourceConfigHash(), k.Root, time.Since(start).Round(time.Second))
			continue
		}
		fmt.Printf("lab kernel %s: %s (%s) in %s, staged in %s\n", lk.Name, k.Version, k.Package, k.Root, time.Since(start).Round(time.Second))
	}
}
