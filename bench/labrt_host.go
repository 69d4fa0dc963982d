package bench

import (
	"fmt"
	"strings"

	"github.com/uiodrv/uiodrv/qemu"
)

// Host placements of the real-time scenario (LabOptions.RTHost): whether
// vCPU 0, the task's, gets a host core of its own (qemu.HostPlacement).
const (
	// HostShared leaves every host thread where the host scheduler puts it.
	HostShared = "shared"
	// HostPinned pins vCPU 0's QEMU thread alone to host CPU 0, and QEMU's
	// other threads and the bench process (the host peer) to host CPU 1.
	HostPinned = "pinned"
	// HostFIFO is HostPinned with vCPU 0's thread at host SCHED_FIFO
	// HostFIFOPrio, as RT-VM tuning guides do.
	HostFIFO = "fifo"
	// HostTimer pins vCPU 0's thread and QEMU's main loop, which fires the
	// guest's timers (and receives the frames), to host CPU 0, and the rest
	// (vCPU 1, QEMU's other threads, the host peer) to host CPU 1.
	HostTimer = "timer"
	// HostTimerNice is HostTimer with vCPU 0's thread at host nice
	// HostNice: when the guest wakes, its vCPU preempts the main loop's
	// frame delivery at once, as a NIC's DMA takes no CPU from a real
	// machine's task, yet a vCPU that never halts cannot starve the main
	// loop that fires its timers. The price: while vCPU 0 is busy the main
	// loop gets about 1% of the core, so rows whose packet work runs on
	// vCPU 0 lose frames before the NIC (softirq, tasklet, napi and
	// threaded FIFO 50 carried 55-80% of 20 kpps); it suits rows whose
	// work runs elsewhere, and floods.
	HostTimerNice = "timer-nice"
	// HostTimerQuiet is HostTimerNice with the host peer (the bench
	// process) at nice HostPeerNice: a flood as fast as the host sends then
	// takes the CPU the vCPUs leave, not half of vCPU 1's core while vCPU 1
	// may hold the global lock that vCPU 0 needs.
	HostTimerQuiet = "timer-quiet"
	// HostTimerIso is HostTimer on an isolated host core: every other host
	// thread that can move, the host's device interrupts and its unbound
	// workqueues leave host CPU 0 for the run (qemu.HostPlacement.Isolate),
	// as an RT-VM host's isolcpus and irqaffinity would keep them off it.
	HostTimerIso = "timer-iso"
	// HostTimerFIFO is HostTimer with vCPU 0 at host SCHED_FIFO HostFIFOPrio
	// and the main loop one above it.
	HostTimerFIFO = "timer-fifo"
	// HostRT pins nothing: vCPU 0's thread at host SCHED_FIFO HostFIFOPrio
	// and the main loop one above it, so that both run on whichever host
	// core is free the moment they wake.
	HostRT = "rt"
)

// hostPlacements maps each placement but HostShared to what it sets.
var hostPlacements = map[string]qemu.HostPlacement{
	HostPinned:     {VCPU0: 0, Rest: 1},
	HostFIFO:       {VCPU0: 0, Rest: 1, FIFO: HostFIFOPrio},
	HostTimer:      {VCPU0: 0, Rest: 1, MainLoop: true},
	HostTimerNice:  {VCPU0: 0, Rest: 1, MainLoop: true, Nice: HostNice},
	HostTimerQuiet: {VCPU0: 0, Rest: 1, MainLoop: true, Nice: HostNice, SelfNice: HostPeerNice},
	HostTimerIso:   {VCPU0: 0, Rest: 1, MainLoop: true, Isolate: true},
	HostTimerFIFO:  {VCPU0: 0, Rest: 1, FIFO: HostFIFOPrio, MainLoop: true, MainFIFO: HostFIFOPrio + 1},
	HostRT:         {NoPin: true, FIFO: HostFIFOPrio, MainLoop: true, MainFIFO: HostFIFOPrio + 1},
}

// HostFIFOPrio is vCPU 0's host SCHED_FIFO priority under HostFIFO: above
// every SCHED_OTHER thread, below the host's own kernel threads at 50+.
const HostFIFOPrio = 10

// HostNice is vCPU 0's host nice value under HostTimerNice.
const HostNice = -20

// HostPeerNice is the host peer's nice value under HostTimerQuiet.
const HostPeerNice = 19

// ParseHostPlacements reads a comma-separated list of host placements.
func ParseHostPlacements(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if _, ok := hostPlacements[f]; !ok && f != HostShared {
			return nil, fmt.Errorf("host placement %q: want %s, %s, %s, %s, %s, %s, %s, %s or %s", f,
				HostShared, HostPinned, HostFIFO, HostTimer, HostTimerNice, HostTimerQuiet, HostTimerIso, HostTimerFIFO, HostRT)
		}
		out = append(out, f)
	}
	return out, nil
}

// withHost runs each run once per host placement, one after the other, so
// that placements are interleaved as finely as the runs are.
func withHost(runs []rtRun, hosts []string) []rtRun {
	if len(hosts) == 0 {
		return runs
	}
	out := make([]rtRun, 0, len(runs)*len(hosts))
	for _, r := range runs {
		for _, h := range hosts {
			r.host = h
			out = append(out, r)
		}
	}
	return out
}

// hostPlacer switches the host placement between runs.
type hostPlacer struct {
	vm      *qemu.VM
	o       *LabOptions
	cur     string
	restore func() error
}

// set makes host the placement in force; "" and HostShared undo any.
func (h *hostPlacer) set(host string) error {
	if host == "" {
		host = HostShared
	}
	if host == h.cur {
		return nil
	}
	if err := h.undo(); err != nil {
		return err
	}
	if host == HostShared {
		return nil
	}
	p := hostPlacements[host]
	restore, err := h.vm.PlaceHost(p)
	if err != nil {
		return err
	}
	h.restore, h.cur = restore, host
	vcpus, _ := h.vm.VCPUThreads()
	h.o.logf("bench: rt host placement %s: vCPU threads %v, QEMU %d: %+v", host, vcpus, h.vm.PID(), p)
	return nil
}

// undo restores the host threads as they were.
func (h *hostPlacer) undo() error {
	h.cur = HostShared
	if h.restore == nil {
		return nil
	}
	err := h.restore()
	h.restore = nil
	h.o.logf("bench: rt host placement undone")
	return err
}
