package bench

import (
	"fmt"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/qemu"
)

// LabNIC is one NIC of the bench boot.
type LabNIC struct {
	Model  qemu.NICModel
	Addr   string // slot.function, e.g. "03.0"
	MAC    string
	Kernel bool // driven by the guest kernel's driver (the peer), not uiodrv
	// Mitigation sets QEMU's interrupt mitigation property; nil keeps QEMU's default (on).
	Mitigation *bool
	// Queues is how many queues uiodrv runs on an igb or virtio-net NIC (0
	// means 1; the kernel's driver picks its own, one per vCPU).
	Queues int
	// Netdev is the number of queues of the NIC's QEMU netdev
	// (qemu.NIC.Queues): 0 or 1 is the lab's one-queue dgram peer; from 2
	// (virtio-net only) a multiqueue tap, which a virtio-net needs to offer
	// more than one queue pair.
	Netdev int
	// Flows, when above 0, makes the host send flow frames (UDP/IPv4) over
	// this many flows, for RSS to spread (Link.Flows).
	Flows int
}

// Name labels the NIC's rows: the model, with the queue count for a
// uiodrv NIC run with more than one ("igb 2q"), and with the queue count
// and "tap" for a NIC on a multiqueue tap ("virtio-net-pci 1q tap").
func (n LabNIC) Name() string {
	if n.Netdev > 1 {
		return fmt.Sprintf("%s %dq tap", n.Model, max(n.Queues, 1))
	}
	if !n.Kernel && n.Queues > 1 {
		return fmt.Sprintf("%s %dq", n.Model, n.Queues)
	}
	return string(n.Model)
}

// target is the NIC's entry in the guest plan.
func (n LabNIC) target() Target {
	t := Target{BDF: n.BDF(), Kernel: n.Kernel}
	if n.Model == qemu.IGB || n.Model == qemu.VirtioNet {
		t.Model, t.Queues, t.Flows = string(n.Model), max(n.Queues, 1), n.Flows > 0
	}
	return t
}

// BDF is the NIC's guest PCI address.
func (n LabNIC) BDF() string { return "0000:00:" + n.Addr }

// Driver is the guest driver the NIC is bound to.
func (n LabNIC) Driver(b driver.Backend) string {
	if n.Kernel && n.Model == qemu.VirtioNet {
		return "virtio-pci" // the lab loads virtio_pci and virtio_net with it
	}
	if n.Kernel {
		return string(n.Model) // the kernel's e1000, e1000e or igb driver
	}
	return b.Driver()
}

// DefaultNICs puts uiodrv and the kernel driver side by side for each model
// in one boot.
var DefaultNICs = []LabNIC{
	{Model: qemu.E1000, Addr: "03.0", MAC: "52:54:00:12:34:56"},
	{Model: qemu.E1000, Addr: "04.0", MAC: "52:54:00:12:34:57", Kernel: true},
	{Model: qemu.E1000E, Addr: "05.0", MAC: "52:54:00:12:34:58"},
	{Model: qemu.E1000E, Addr: "06.0", MAC: "52:54:00:12:34:59", Kernel: true},
}

// BenchFlows is how many flows the host sends to an igb NIC: enough that
// RSS's redirection table puts some on every queue.
const BenchFlows = 64

// IGBNICs are igb's rows: uiodrv with 1 queue and with 2 (a NIC each),
// and the guest kernel's igb, in the same boot, all fed the same flow frames.
// They sit two slots apart: QEMU reserves each igb's 8 SR-IOV VFs (VF
// offset 0x80, stride 2) 16 slots above it, two slots' worth of functions.
var IGBNICs = []LabNIC{
	{Model: qemu.IGB, Addr: "07.0", MAC: "52:54:00:12:34:5a", Queues: 1, Flows: BenchFlows},
	{Model: qemu.IGB, Addr: "09.0", MAC: "52:54:00:12:34:5b", Queues: 2, Flows: BenchFlows},
	{Model: qemu.IGB, Addr: "0b.0", MAC: "52:54:00:12:34:5c", Kernel: true, Flows: BenchFlows},
}

// VirtioNICs are virtio-net's rows: uiodrv and the guest kernel's
// virtio_net on QEMU's virtio-net-pci (modern, behind the vIOMMU), in the
// same boot; then uiodrv with 1 and with 2 queue pairs on NICs whose
// netdev is a 2-queue tap (VirtioTapNICs), fed the same flow frames, so
// that the two differ in the queues the driver runs and nothing else.
var VirtioNICs = append([]LabNIC{
	{Model: qemu.VirtioNet, Addr: "0d.0", MAC: "52:54:00:12:34:5d"},
	{Model: qemu.VirtioNet, Addr: "0e.0", MAC: "52:54:00:12:34:5e", Kernel: true},
}, VirtioTapNICs...)

// VirtioTapNICs are the virtio-net rows on a multiqueue tap, which needs
// CAP_NET_ADMIN (qemu.CheckTapPeer).
var VirtioTapNICs = []LabNIC{
	{Model: qemu.VirtioNet, Addr: "0f.0", MAC: "52:54:00:12:34:5f", Queues: 1, Netdev: 2, Flows: BenchFlows},
	{Model: qemu.VirtioNet, Addr: "10.0", MAC: "52:54:00:12:34:60", Queues: 2, Netdev: 2, Flows: BenchFlows},
}
