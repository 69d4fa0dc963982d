package bench

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// The kernel's best real-time configuration, as a careful integrator sets it
// on a PREEMPT_RT kernel (or one booted with threadirqs): threaded NAPI on
// (/sys/class/net/IF/threaded), so that the receive work runs in a NAPI
// kthread the scheduler can rank instead of a softirq; the NIC's IRQ threads
// at SCHED_FIFO KernelBestIRQPrio and the NAPI threads at KernelBestNAPIPrio,
// both below the task (80); every one of them on the CPU the interrupt is
// steered to, the task's, as uiodrv's rows have their threads there, so that
// the rows compare like for like.
const (
	KernelBestIRQPrio  = 50
	KernelBestNAPIPrio = 49
)

// kernelBest applies the configuration to interface ifname, whose IRQs are
// irqs, with its IRQ threads on cpu and its NAPI threads on napiCPU, and reads each setting back. The notes say
// what was set and what the kernel reports, one per thread; err when
// something could not be set or does not read back as set.
func kernelBest(ifname string, irqs []string, cpu, napiCPU int) (notes []string, err error) {
	thr := "/sys/class/net/" + ifname + "/threaded"
	if err := os.WriteFile(thr, []byte("1"), 0); err != nil {
		return nil, fmt.Errorf("threaded NAPI: %w", err)
	}
	b, _ := os.ReadFile(thr)
	notes = append(notes, fmt.Sprintf("%s reads %q", thr, strings.TrimSpace(string(b))))
	var irqT, napiT []int
	comms := map[int]string{}
	paths, _ := filepath.Glob("/proc/[0-9]*/comm")
	for _, p := range paths {
		c, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		comm := strings.TrimSpace(string(c))
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		for _, n := range irqs {
			if strings.HasPrefix(comm, "irq/"+n+"-") {
				irqT = append(irqT, pid)
				comms[pid] = comm
			}
		}
		if strings.HasPrefix(comm, "napi/"+ifname+"-") {
			napiT = append(napiT, pid)
			comms[pid] = comm
		}
	}
	if len(irqT) == 0 {
		err = errors.Join(err, fmt.Errorf("no IRQ thread for IRQs %v (a kernel without PREEMPT_RT or threadirqs?)", irqs))
	}
	if len(napiT) == 0 {
		err = errors.Join(err, fmt.Errorf("no NAPI thread napi/%s-* after threaded=1", ifname))
	}
	// An IRQ thread's affinity is not the caller's to set (the kernel
	// refuses: PF_NO_SETAFFINITY); it follows its IRQ's, which the caller
	// steered to cpu, and the thread applies it when it next runs
	// (irq_thread_check_affinity). So it is only read back, and a mismatch
	// noted rather than refused.
	set := func(pid, prio int, irqThread bool, cpu int) error {
		a := &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_FIFO, Priority: uint32(prio)}
		if err := unix.SchedSetAttr(pid, a, 0); err != nil {
			return fmt.Errorf("%s (pid %d) SCHED_FIFO %d: %w", comms[pid], pid, prio, err)
		}
		var cs unix.CPUSet
		cs.Set(cpu)
		how := "set"
		if irqThread {
			how = "follows its IRQ's smp_affinity:"
		} else if err := unix.SchedSetaffinity(pid, &cs); err != nil {
			return fmt.Errorf("%s (pid %d) on CPU %d: %w", comms[pid], pid, cpu, err)
		}
		got, err := unix.SchedGetAttr(pid, 0)
		if err != nil {
			return fmt.Errorf("%s (pid %d) read back: %w", comms[pid], pid, err)
		}
		var gotCPUs unix.CPUSet
		if err := unix.SchedGetaffinity(pid, &gotCPUs); err != nil {
			return fmt.Errorf("%s (pid %d) read back affinity: %w", comms[pid], pid, err)
		}
		notes = append(notes, fmt.Sprintf("%s pid %d set SCHED_FIFO %d, cpus %s %d; reads policy %d prio %d cpus %s",
			comms[pid], pid, prio, how, cpu, got.Policy, got.Priority, cpuSetList(&gotCPUs)))
		if got.Policy != unix.SCHED_FIFO || int(got.Priority) != prio || !irqThread && gotCPUs != cs {
			return fmt.Errorf("%s (pid %d) does not read back as set", comms[pid], pid)
		}
		return nil
	}
	for _, pid := range irqT {
		err = errors.Join(err, set(pid, KernelBestIRQPrio, true, cpu))
	}
	for _, pid := range napiT {
		err = errors.Join(err, set(pid, KernelBestNAPIPrio, false, napiCPU))
	}
	return notes, err
}

// cpuSetList writes a CPU set as a list ("0", "0,1").
func cpuSetList(s *unix.CPUSet) string {
	var cs []string
	for i := 0; i < 1024; i++ {
		if s.IsSet(i) {
			cs = append(cs, strconv.Itoa(i))
		}
	}
	return strings.Join(cs, ",")
}

// kernelBestReadBack reads the class and affinity of the interface's IRQ and
// NAPI threads again (after a run: an IRQ thread takes its IRQ's affinity
// when it next runs), one note per thread.
func kernelBestReadBack(ifname string, irqs []string) []string {
	var notes []string
	paths, _ := filepath.Glob("/proc/[0-9]*/comm")
	for _, p := range paths {
		c, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		comm := strings.TrimSpace(string(c))
		mine := strings.HasPrefix(comm, "napi/"+ifname+"-")
		for _, n := range irqs {
			mine = mine || strings.HasPrefix(comm, "irq/"+n+"-")
		}
		if !mine {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		a, err1 := unix.SchedGetAttr(pid, 0)
		var cs unix.CPUSet
		err2 := unix.SchedGetaffinity(pid, &cs)
		if err := errors.Join(err1, err2); err != nil {
			notes = append(notes, fmt.Sprintf("%s pid %d: %v", comm, pid, err))
			continue
		}
		notes = append(notes, fmt.Sprintf("%s pid %d reads policy %d prio %d cpus %s", comm, pid, a.Policy, a.Priority, cpuSetList(&cs)))
	}
	return notes
}
