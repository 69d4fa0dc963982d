package bench

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// deviceIRQs lists the kernel's IRQ numbers for a PCI device: its MSI or
// MSI-X vectors while they are enabled (msi_irqs), else its INTx line.
func deviceIRQs(bdf string) ([]string, error) {
	dir := "/sys/bus/pci/devices/" + bdf
	if ents, err := os.ReadDir(dir + "/msi_irqs"); err == nil && len(ents) > 0 {
		var out []string
		for _, e := range ents {
			out = append(out, e.Name())
		}
		sort.Strings(out)
		return out, nil
	}
	b, err := os.ReadFile(dir + "/irq")
	if err != nil {
		return nil, err
	}
	return []string{strings.TrimSpace(string(b))}, nil
}

// steerIRQs sets the affinity of every interrupt of the PCI device (as
// vfio-pci's handlers or the kernel's own driver requested them) to one CPU,
// and returns a note naming them with the CPU each is delivered to now.
func steerIRQs(bdf string, cpu int) (string, error) {
	irqs, err := deviceIRQs(bdf)
	if err != nil {
		return "", err
	}
	var note []string
	for _, n := range irqs {
		if _, err := os.Stat("/proc/irq/" + n); errors.Is(err, fs.ErrNotExist) {
			// Nothing requested it (a polling run attaches no
			// interrupt): there is no delivery to steer.
			note = append(note, n+"@none")
			continue
		}
		if err := os.WriteFile("/proc/irq/"+n+"/smp_affinity_list", []byte(strconv.Itoa(cpu)), 0); err != nil {
			return "", fmt.Errorf("move irq %s to CPU %d: %w", n, cpu, err)
		}
		eff, _ := os.ReadFile("/proc/irq/" + n + "/effective_affinity_list")
		note = append(note, n+"@"+strings.TrimSpace(string(eff)))
	}
	return "irqs " + strings.Join(note, ","), nil
}

// pinProcess moves every thread of this process to cpu and returns how many
// it moved. A SCHED_DEADLINE thread refuses a mask narrower than its root
// domain and stays where the kernel keeps it; that refusal is expected.
func pinProcess(cpu int) int {
	ents, _ := os.ReadDir("/proc/self/task")
	var set unix.CPUSet
	set.Set(cpu)
	moved := 0
	for _, e := range ents {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if unix.SchedSetaffinity(tid, &set) == nil {
			moved++
		}
	}
	return moved
}
