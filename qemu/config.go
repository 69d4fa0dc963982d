package qemu

import (
	"fmt"
	"io"
	"time"
)

// NICModel is an emulated NIC model.
type NICModel string

const (
	E1000  NICModel = "e1000"  // Intel 82540EM, 8086:100e
	E1000E NICModel = "e1000e" // Intel 82574L, 8086:10d3
	IGB    NICModel = "igb"    // Intel 82576, 8086:10c9 (QEMU 8 and later)
	// VirtioNet is QEMU's virtio-net, booted modern-only behind the vIOMMU
	// (disable-legacy=on,iommu_platform=on): 1af4:1041.
	VirtioNet NICModel = "virtio-net-pci"
)

// NIC is one emulated NIC and its host-side peer.
type NIC struct {
	// Model is E1000 (the zero value means E1000), E1000E or IGB.
	Model NICModel
	// Addr is the PCI slot.function on bus 0, e.g. "03.0". The zero value
	// places NIC i at slot 3+i, so the first NIC is 0000:00:03.0.
	Addr string
	// MAC is the NIC's address. The zero value gives 52:54:00:12:34:5x with x = 6+i.
	MAC string
	// PCAP, when set, records the NIC's traffic in both directions to this
	// host file (QEMU's filter-dump).
	PCAP string
	// Mitigation sets the e1000's interrupt mitigation property; nil keeps QEMU's default (on).
	Mitigation *bool
	// RootPort puts the NIC behind its own PCIe root port (pcie-root-port at
	// Addr on bus 0), alone on the port's secondary bus, so that the guest
	// can reset it with a secondary bus reset: sysfs reset_method "bus", and
	// VFIO then offers VFIO_DEVICE_RESET. On bus 0 the e1000 has no reset
	// method at all and the e1000e only "pm", which QEMU 10.0 does not carry
	// to its registers (both checked in the lab). The guest sees the NIC at
	// 0000:NN:00.0, NN counting the root ports in slot order from 1
	// (Config.BDF).
	RootPort bool
	// Queues is the number of queues of the NIC's netdev, for a multiqueue
	// NIC (VirtioNet, which then offers Queues queue pairs). 0 and 1 mean
	// one: the host end is a UDP socket on loopback (-netdev dgram), which
	// has one queue whatever the device offers. From 2 the host end is a
	// tap of Queues queues (-netdev tap,fds=...), created by this process
	// in a network namespace of its own so that no host interface or
	// traffic is involved: the host's frames leave through a packet socket
	// on it, and the kernel's tun driver spreads them over the queues by
	// flow hash, so different flows reach different RX queues. Peer.Conn
	// is then nil and Peer.QEMUPort 0. It needs CAP_SYS_ADMIN and
	// CAP_NET_ADMIN (ErrNoNetAdmin); at most MaxTapQueues.
	Queues int
}

// Binding binds a guest PCI device to a driver before the commands run.
type Binding struct {
	BDF    string // e.g. 0000:00:03.0
	Driver string // vfio-pci or uio_pci_generic
}

// File is a host file copied into the initramfs.
type File struct {
	Host  string
	Guest string // absolute path in the guest, e.g. /bin/uiodrv
}

// Command is a guest program.
type Command struct {
	Args []string
	Env  []string
	// Background commands start and the next command starts at once; they
	// get SIGTERM (then SIGKILL after 5 s) when the last foreground command ends.
	Background bool
	// Timeout kills the command (zero: none besides the VM's).
	Timeout time.Duration
	// User, when set, runs the command as another user with its own
	// resource limits (nil: root, with the init's limits).
	User *User
}

// User is who a guest command runs as, for least-privilege tests.
type User struct {
	// UID and GID the command runs as, with no supplementary groups.
	UID, GID uint32
	// Own are glob patterns of guest paths the init chowns to UID:GID before
	// the command starts, e.g. "/dev/vfio/[0-9]*" for a user-owned VFIO group.
	Own []string
	// Rlimits are resource limits for the command, by name: "memlock",
	// "rtprio", "nice". The command starts with exactly these
	// soft and hard limits; the others are the init's.
	Rlimits map[string]Rlimit
}

// Rlimit is a soft and a hard resource limit (setrlimit(2)); math.MaxUint64
// is RLIM_INFINITY.
type Rlimit struct{ Soft, Hard uint64 }

// Config describes one boot of the lab.
type Config struct {
	// NICs are the emulated NICs; each gets a host peer (VM.Peer).
	NICs []NIC
	// IOMMU adds intel-iommu with interrupt remapping (needed by VFIO) and
	// boots the guest with intel_iommu=on. Off, the UIO lane.
	IOMMU bool
	// MemoryMiB is guest RAM; zero means 1024.
	MemoryMiB int
	// CPUs is the guest's vCPU count; zero means 2.
	CPUs int
	// Timeout bounds the whole boot, from QEMU start to power-off; zero means 3 minutes.
	Timeout time.Duration
	// BootTimeout bounds the time until the guest init is ready (modules
	// loaded, devices bound; normally 6-15 s); zero means 90 s, capped at Timeout.
	BootTimeout time.Duration
	// Modules are extra kernel modules to load (their dependencies come too).
	// Modules for the drivers named in Bind are added automatically.
	Modules []string
	// ModuleParams maps a module name to its parameters, "key=value ...".
	ModuleParams map[string]string
	// Bind lists devices to bind before the commands run.
	Bind []Binding
	// Hugepages is the number of 2 MiB hugepages to reserve (mounted at /mnt/huge).
	Hugepages int
	// Files are copied into the guest (executables keep their mode).
	Files []File
	// Commands run in order; the guest powers off after the last one.
	Commands []Command
	// Fetch are guest files copied back to the host (File.Guest to
	// File.Host) over the control channel after the last command ended, e.g.
	// a capture. Result.Fetched says what arrived.
	Fetch []File
	// QMP enables the QEMU monitor, needed by VM.SetLink.
	QMP bool
	// Kernel picks the guest kernel: KernelStable (the zero value, Debian 12's
	// 6.1), KernelBackports (6.12, staged on first use) or KernelSource
	// (7.x built from Debian's source with iommufd, built on first use).
	Kernel KernelSeries
	// Cmdline is appended to the kernel command line.
	Cmdline string
	// Halt lets idle vCPUs halt (HLT), as on real hardware. Without it a
	// guest of 2 or more vCPUs boots with NoHaltCmdline. The benchmarks set
	// it: spinning vCPUs share the host's cores with QEMU.
	Halt bool
	// Init is a static binary to run as PID 1; empty builds qemu/labinit with
	// the go tool (so the lab must run inside this module's source tree).
	Init string
	// Output, when set, receives every line the commands print, prefixed with
	// the command index (for live progress in tests and the CLI).
	Output io.Writer
}

func (c *Config) withDefaults() Config {
	d := *c
	if d.MemoryMiB == 0 {
		d.MemoryMiB = 1024
	}
	if d.CPUs == 0 {
		d.CPUs = 2
	}
	if d.Timeout == 0 {
		d.Timeout = 3 * time.Minute
	}
	if d.BootTimeout == 0 {
		d.BootTimeout = 90 * time.Second
	}
	if d.BootTimeout > d.Timeout {
		d.BootTimeout = d.Timeout
	}
	d.NICs = append([]NIC(nil), c.NICs...)
	for i := range d.NICs {
		if d.NICs[i].Model == "" {
			d.NICs[i].Model = E1000
		}
		if d.NICs[i].Addr == "" {
			d.NICs[i].Addr = fmt.Sprintf("%02x.0", 3+i)
		}
		if d.NICs[i].MAC == "" {
			d.NICs[i].MAC = fmt.Sprintf("52:54:00:12:34:%02x", 0x56+i)
		}
	}
	return d
}

// BDF returns the guest PCI address of NIC i, e.g. 0000:00:03.0.
func (c *Config) BDF(i int) string {
	d := c.withDefaults()
	if d.NICs[i].RootPort {
		// The guest numbers the bridges' secondary buses in slot order.
		bus := 1
		for j, n := range d.NICs {
			if j != i && n.RootPort && n.Addr < d.NICs[i].Addr {
				bus++
			}
		}
		return fmt.Sprintf("0000:%02x:00.0", bus)
	}
	return "0000:00:" + d.NICs[i].Addr
}

// driverModules are what each bindable driver needs loaded. vfio_iommu_type1
// is only a softdep of vfio-pci, so it is named explicitly.
var driverModules = map[string][]string{
	"vfio-pci":        {"vfio_iommu_type1", "vfio_pci"},
	"uio_pci_generic": {"uio_pci_generic"},
	"e1000":           {"e1000"},
	"e1000e":          {"e1000e"},
	"igb":             {"igb"},
	"virtio-pci":      {"virtio_pci", "virtio_net"}, // virtio_net drives the virtio device virtio_pci finds
}

// NoHaltCmdline keeps every vCPU out of HLT (idle=poll); a guest of 2 or
// more vCPUs boots with it unless Config.Halt. Under TCG, 2-vCPU boots now
// and then left one vCPU halted for good: QEMU's thread for it asleep, the
// guest's RCU reporting that a timer on that CPU never fired, the guest hung
// (igb and e1000 boots, in about one boot in five of an igb test that opens
// and closes a port 23 times). With vCPUs that never halt, none of 14 such
// boots hung. docs/lab.md, "When a boot or a test hangs".
const NoHaltCmdline = "idle=poll"
