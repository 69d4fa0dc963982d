package bench

import (
	"fmt"
	"github.com/uiodrv/uiodrv/bus"
	"path/filepath"
	"strings"

	"github.com/uiodrv/uiodrv/deferral"
	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/driver/e1000"
	"github.com/uiodrv/uiodrv/driver/igb"
	"github.com/uiodrv/uiodrv/driver/virtio"
	"github.com/uiodrv/uiodrv/mmio"
)

// openBenchDevice opens a uiodrv target: driver/igb for igb targets (with
// their queue count; RSS by default when more than one), driver/virtio for
// virtio-net (with its queue pairs), driver/e1000 otherwise. regs returns the register accesses counted so far.
func openBenchDevice(plan *GuestPlan, tg Target, mode deferral.Mode) (dev driver.Opened, regs func() mmio.Accesses, err error) {
	poll := mode == deferral.ModeBusyPoll
	if tg.Model == "igb" {
		d, err := igb.Open(tg.BDF, igb.OpenOptions{Access: bus.Access{Backend: plan.Backend, CountRegs: true}, Poll: poll, NIC: igb.Options{Queues: max(tg.Queues, 1), Promisc: true}})
		if err != nil {
			return nil, nil, err
		}
		return d, d.RegAccesses, nil
	}
	if tg.Model == "virtio-net-pci" {
		// QEMU's virtio-net is promiscuous from reset; it has no registers
		// worth counting (its notifications are the NIC's extra counter).
		d, err := virtio.Open(tg.BDF, virtio.OpenOptions{Poll: poll, NIC: virtio.Options{Queues: max(tg.Queues, 1)}})
		if err != nil {
			return nil, nil, err
		}
		return d, nil, nil
	}
	// Promisc: the host sends to DstMAC (proto.go), as to the kernel peer.
	// CountRegs: every register access is counted (the traps per
	// frame): over the run (regs, regs_per_frame on BENCH DONE) and
	// over the throughput repetitions alone (PhaseMarks' tput_regs*).
	// MSIX: the e1000e interrupts as the guest kernel's e1000e driver does
	// (MSI-X, one vector per cause), where INTx costs a VFIO unmask ioctl per
	// interrupt; QEMU's e1000 has INTx only.
	msix := tg.Model == "e1000e" && !poll && plan.Backend == driver.BackendVFIO
	d, err := e1000.Open(tg.BDF, e1000.OpenOptions{Access: bus.Access{Backend: plan.Backend, CountRegs: true}, Poll: poll, NIC: e1000.Options{Promisc: true, MSIX: msix}})
	if err != nil {
		return nil, nil, err
	}
	return d, d.RegAccesses, nil
}

// regFields snapshots the run's register accesses; its result gives
// them as BENCH DONE fields for the frames received (regs and
// regs_per_frame; "" when regs is nil).
func regFields(regs func() mmio.Accesses) func(rx uint64) string {
	if regs == nil {
		return func(uint64) string { return "" }
	}
	n := regs().Total()
	return func(rx uint64) string {
		pf := 0.0
		if rx > 0 {
			pf = float64(n) / float64(rx)
		}
		return fmt.Sprintf(" regs=%d regs_per_frame=%.4f", n, pf)
	}
}

// queueFields are the per-queue counters of a port with more than one
// queue, as BENCH DONE fields: q<i>_rx, q<i>_tx and q<i>_irqs.
func queueFields(st driver.Stats) string {
	if len(st.Queues) < 2 {
		return ""
	}
	var b strings.Builder
	for i, q := range st.Queues {
		fmt.Fprintf(&b, " q%d_rx=%d q%d_tx=%d q%d_irqs=%d", i, q.RxPackets, i, q.TxPackets, i, q.IRQs)
	}
	return b.String()
}

// kernelQueues is the kernel interface's RX queue count, as a BENCH DONE
// field.
func kernelQueues(ifname string) string {
	qs, _ := filepath.Glob("/sys/class/net/" + ifname + "/queues/rx-*")
	if len(qs) == 0 {
		return ""
	}
	return fmt.Sprintf(" queues=%d", len(qs))
}
