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
)

// HostFIFOPrio is vCPU 0's host SCHED_FIFO priority under HostFIFO: above
// every SCHED_OTHER thread, below the host's own kernel threads at 50+.
const HostFIFOPrio = 10

// ParseHostPlacements reads a comma-separated list of host placements.
func ParseHostPlacements(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	var out []string
	for _, f := range strings.Split(s, ",") {
		switch f = strings.TrimSpace(f); f {
		case HostShared, HostPinned, HostFIFO:
			out = append(out, f)
		default:
			return nil, fmt.Errorf("host placement %q: want %s, %s or %s", f, HostShared, HostPinned, HostFIFO)
		}
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
	p := qemu.HostPlacement{VCPU0: 0, Rest: 1}
	if host == HostFIFO {
		p.FIFO = HostFIFOPrio
	}
	restore, err := h.vm.PlaceHost(p)
	if err != nil {
		return err
	}
	h.restore, h.cur = restore, host
	vcpus, _ := h.vm.VCPUThreads()
	h.o.logf("bench: rt host placement %s: vCPU threads %v, vCPU 0 alone on host CPU %d (FIFO %d), the rest on %d",
		host, vcpus, p.VCPU0, p.FIFO, p.Rest)
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
