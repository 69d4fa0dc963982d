// Command uiodrv-rtreport tabulates the real-time stage of several bench
// boots (the rt.json that uiodrv-bench writes next to its RESULTS.md): one
// table per mode, medians and ranges over repetitions, beside the idle floor
// and the kernel's own driver of the same boots.
//
//	go run ./bench/cmd/uiodrv-rtreport -out bench/rt /tmp/rt-a/rt.json /tmp/rt-b/rt.json
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/uiodrv/uiodrv/bench"
)

func main() {
	out := flag.String("out", "bench/rt", "folder for RESULTS.md")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: uiodrv-rtreport [-out DIR] rt.json...")
		os.Exit(2)
	}
	boots, err := bench.ReadRTBoots(flag.Args())
	if err != nil {
		fmt.Fprintln(os.Stderr, "uiodrv-rtreport:", err)
		os.Exit(1)
	}
	if err := bench.WriteRTResults(*out, boots); err != nil {
		fmt.Fprintln(os.Stderr, "uiodrv-rtreport:", err)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, "wrote", *out+"/RESULTS.md")
}
