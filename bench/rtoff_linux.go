package bench

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// moveIRQ sets the kernel's affinity for the PCI device's interrupt line
// (its INTx, as vfio-pci's handler and the kernel's own driver request it)
// to one CPU, and returns the IRQ number.
func moveIRQ(bdf string, cpu int) (string, error) {
	b, err := os.ReadFile("/sys/bus/pci/devices/" + bdf + "/irq")
	if err != nil {
		return "", err
	}
	n := strings.TrimSpace(string(b))
	if err := os.WriteFile("/proc/irq/"+n+"/smp_affinity_list", []byte(strconv.Itoa(cpu)), 0); err != nil {
		return n, fmt.Errorf("move irq %s to CPU %d: %w", n, cpu, err)
	}
	return n, nil
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
