package bench

import "strings"

// bootName is a boot's kind in the tables: its extra command line
// (bootKind), "PREEMPT_RT" first on a real-time kernel, ", kernel best" when
// the kernel's row had its best real-time configuration.
func bootName(b *RTBoot) string {
	k := bootKind(b.Cmdline)
	if strings.Contains(b.Kernel, "-rt") {
		k = "PREEMPT_RT " + b.Kernel
		if strings.TrimSpace(b.Cmdline) != "" {
			k += " " + b.Cmdline
		}
	}
	if b.KernelBest {
		k += ", kernel best"
	}
	return k
}

// kernelBestOrIdle reports whether a boot had the kernel's best
// configuration or no-traffic runs.
func kernelBestOrIdle(boots []*RTBoot) bool {
	for _, b := range boots {
		for _, r := range b.RT {
			if b.KernelBest || r.Rate == noTraffic {
				return true
			}
		}
	}
	return false
}
