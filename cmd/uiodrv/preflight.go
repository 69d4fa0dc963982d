package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/uiodrv/uiodrv/internal/unix"

	"github.com/uiodrv/uiodrv/bus"
	"github.com/uiodrv/uiodrv/deferral"
	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/rt"
)

// Preflight checks everything that can be checked without opening the
// device, in the order a user fixes them, so that a run that cannot work
// fails with the fix named and nothing changed. The backends check again
// when they open the device (and their errors map to the same fixes): the
// preflight only makes the common failures early and explicit.

// limits are the process's resource limits and capabilities that decide
// whether DMA memory can be locked and real-time priorities taken.
type limits struct {
	capIPCLock bool   // CAP_IPC_LOCK: RLIMIT_MEMLOCK does not apply
	capSysNice bool   // CAP_SYS_NICE: SCHED_FIFO and negative nice allowed
	memlock    uint64 // RLIMIT_MEMLOCK soft limit, bytes
	rtprio     uint64 // RLIMIT_RTPRIO soft limit
	nice       uint64 // RLIMIT_NICE soft limit (nice floor is 20-nice)
}

const (
	capIPCLock = 14 // CAP_IPC_LOCK, linux/capability.h
	capSysNice = 23 // CAP_SYS_NICE
)

// readLimits reads this process's limits and effective capabilities.
func readLimits() limits {
	var l limits
	get := func(res int) uint64 {
		var r unix.Rlimit
		if err := unix.Getrlimit(res, &r); err != nil {
			return 0
		}
		return r.Cur
	}
	l.memlock = get(unix.RLIMIT_MEMLOCK)
	l.rtprio = get(unix.RLIMIT_RTPRIO)
	l.nice = get(unix.RLIMIT_NICE)
	if f, err := os.Open("/proc/self/status"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "CapEff:"); ok {
				caps, _ := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
				l.capIPCLock = caps&(1<<capIPCLock) != 0
				l.capSysNice = caps&(1<<capSysNice) != 0
			}
		}
	}
	return l
}

// target is one device the command will open.
type target struct {
	addr      bus.Addr
	backend   driver.Backend
	hugepages bool    // VFIO DMA memory from hugepages (UIO always)
	ringSize  int     // NIC descriptors per ring; 0 means defaultRingSize
	queues    int     // RX/TX queue pairs; 0 means 1
	api       bus.API // VFIO interface (vfioapi.go); APIAuto before chooseAPI
}

// dmaBytes estimates the DMA memory a device needs: two descriptor rings
// per queue and the default buffer pool (2*RX + TX buffers of 2 KiB per
// queue).
func (t target) dmaBytes() uint64 {
	n := uint64(t.ringSize)
	if n == 0 {
		n = defaultRingSize
	}
	page := uint64(4096)
	if t.hugepages || t.backend == driver.BackendUIO {
		page = bus.HugePageSize
	}
	up := func(x uint64) uint64 { return (x + page - 1) / page * page }
	q := uint64(max(t.queues, 1))
	return 2*q*up(n*16) + up(3*q*n*2048)
}

// hugepagesNeeded is how many 2 MiB pages the device's DMA memory takes.
func (t target) hugepagesNeeded() uint64 {
	return (t.dmaBytes() + bus.HugePageSize - 1) / bus.HugePageSize
}

// checkDevice checks that the device exists, is a supported NIC, is bound to
// the backend's driver, and (VFIO) sits in a usable IOMMU group.
func checkDevice(s bus.Sysfs, t target) (*bus.Device, error) {
	dev, err := s.Lookup(t.addr)
	if err != nil {
		return nil, err
	}
	if _, err := lookupNIC(dev.Vendor, dev.DeviceID); err != nil {
		return nil, fmt.Errorf("%s is %s %s [%04x:%04x], not a NIC uiodrv drives: %w",
			t.addr, dev.VendorName(), dev.DeviceName(), dev.Vendor, dev.DeviceID, err)
	}
	want := t.backend.Driver()
	if dev.Driver != want {
		if _, err := os.Stat(s.DriverPath(want)); err != nil {
			return nil, fmt.Errorf("%w: %s is missing, so %s cannot be bound to %s",
				errNoModule, s.DriverPath(want), t.addr, want)
		}
		cur := dev.Driver
		if cur == "" {
			cur = "no driver"
		}
		nb := bus.ErrVFIONotBound
		if t.backend == driver.BackendUIO {
			nb = bus.ErrUIONotBound
		}
		return nil, fmt.Errorf("%w: %s is bound to %s (uiodrv bind --dev %s --driver %s)", nb, t.addr, cur, t.addr, want)
	}
	if t.backend != driver.BackendVFIO {
		return dev, nil
	}
	if dev.IOMMUGroup < 0 {
		return nil, fmt.Errorf("%w: %s has no %s/iommu_group", bus.ErrNoIOMMUGroup, t.addr, s.DevicePath(t.addr))
	}
	members, err := s.GroupDevices(dev.IOMMUGroup)
	if err != nil {
		return nil, err
	}
	var others []string
	for _, a := range members {
		if a == t.addr {
			continue
		}
		drv, _ := s.CurrentDriver(a)
		if drv != "" && drv != "vfio-pci" && drv != "pcieport" {
			others = append(others, fmt.Sprintf("%s (bound to %s)", a, drv))
		}
	}
	if len(others) > 0 {
		return nil, fmt.Errorf("%w: IOMMU group %d also holds %s", bus.ErrGroupNotViable, dev.IOMMUGroup, strings.Join(others, ", "))
	}
	return dev, checkVFIONodes(s, t, dev.IOMMUGroup) // vfioapi.go: group or cdev nodes
}

// vfioDevDir is where the VFIO device nodes are (tests point it elsewhere).
var vfioDevDir = bus.DefaultVFIODir

// checkGroupFile opens and closes the VFIO container and group nodes, which
// changes nothing, to report a missing module, a permission problem or a
// group in use before the device is opened.
func checkGroupFile(dir string, group int) error {
	for _, p := range []string{filepath.Join(dir, "vfio"), filepath.Join(dir, strconv.Itoa(group))} {
		fd, err := unix.Open(p, unix.O_RDWR|unix.O_CLOEXEC, 0)
		switch {
		case err == nil:
			unix.Close(fd)
			continue
		case err == unix.EACCES || err == unix.EPERM:
			return fmt.Errorf("%w: open %s: %v", bus.ErrPermission, p, err)
		case err == unix.EBUSY:
			return fmt.Errorf("%w: open %s: %v", bus.ErrGroupBusy, p, err)
		case err == unix.ENOENT && filepath.Base(p) == "vfio":
			return fmt.Errorf("%w: open %s: %v", bus.ErrNoVFIO, p, err)
		case err == unix.ENOENT:
			return fmt.Errorf("%w: open %s: %v (the group node appears when vfio-pci binds a device of the group)", bus.ErrVFIONotBound, p, err)
		}
		return fmt.Errorf("open %s: %w", p, err)
	}
	return nil
}

// checkMemory checks that the DMA memory of the targets can be locked
// (VFIO pins it against RLIMIT_MEMLOCK) and that hugepages are reserved.
func checkMemory(s bus.Sysfs, l limits, ts []target) error {
	var lock, huge uint64
	for _, t := range ts {
		if t.backend == driver.BackendVFIO {
			lock += t.dmaBytes()
		}
		if t.hugepages || t.backend == driver.BackendUIO {
			huge += t.hugepagesNeeded()
		}
	}
	if lock > 0 && !l.capIPCLock && l.memlock != unix.RLIM_INFINITY && l.memlock < lock {
		return fmt.Errorf("%w: VFIO pins %d KiB of DMA memory but RLIMIT_MEMLOCK is %d KiB and the process lacks CAP_IPC_LOCK",
			errRLimitMemlock, lock>>10, l.memlock>>10)
	}
	if huge > 0 {
		root := s.Root
		if root == "" {
			root = bus.DefaultSysfsRoot
		}
		p := filepath.Join(root, "kernel/mm/hugepages/hugepages-2048kB/free_hugepages")
		b, err := os.ReadFile(p)
		free, perr := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		if err != nil || perr != nil {
			return fmt.Errorf("%w: cannot read %s (%v): 2 MiB hugepages unsupported?", errNoHugepages, p, err)
		}
		if free < huge {
			return fmt.Errorf("%w: %d free 2 MiB hugepages (%s), %d needed", errNoHugepages, free, p, huge)
		}
	}
	return nil
}

// checkSched checks that the priorities asked for can be taken: SCHED_FIFO
// for the top half (rtPrio) and the threaded mode's IRQ thread, nice -20
// for workqueue workers.
func checkSched(l limits, mode deferral.Mode, rtPrio, threadPrio int) error {
	if l.capSysNice {
		return nil
	}
	need := uint64(rtPrio)
	if mode == deferral.ModeThreaded && threadPrio >= 0 {
		tp := threadPrio
		if tp == 0 {
			tp = deferral.DefaultIRQThreadPrio
		}
		need = max(need, uint64(tp))
	}
	if need > 0 && l.rtprio < need {
		return fmt.Errorf("%w: SCHED_FIFO priority %d asked (--rt-prio, or the threaded mode's IRQ thread) but RLIMIT_RTPRIO is %d and the process lacks CAP_SYS_NICE",
			rt.ErrRTNotPermitted, need, l.rtprio)
	}
	if mode == deferral.ModeWorkqueue && l.nice < 40 {
		return fmt.Errorf("%w: workqueue workers run at nice -20 but RLIMIT_NICE is %d and the process lacks CAP_SYS_NICE",
			rt.ErrNiceNotPermitted, l.nice)
	}
	return nil
}

// parseCPU checks a --irq-cpu/--bh-cpu value against the CPUs this process
// may run on; -1 means unpinned.
func parseCPU(flag string, cpu int) error {
	if cpu == -1 {
		return nil
	}
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return fmt.Errorf("sched_getaffinity: %w", err)
	}
	if cpu < 0 || cpu >= 1024 || !set.IsSet(cpu) {
		return usagef("--%s %d: not a CPU this process may use (allowed: %s; -1 leaves it unpinned)", flag, cpu, cpuList(&set))
	}
	return nil
}

// cpuList formats a CPU set like the kernel does ("0-3,6").
func cpuList(set *unix.CPUSet) string {
	var parts []string
	for i := 0; i < 1024; i++ {
		if !set.IsSet(i) {
			continue
		}
		j := i
		for j+1 < 1024 && set.IsSet(j+1) {
			j++
		}
		if j == i {
			parts = append(parts, strconv.Itoa(i))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", i, j))
		}
		i = j
	}
	return strings.Join(parts, ",")
}

// processCPUs are the CPUs this process may run on, ascending ([0] when
// the kernel will not say).
func processCPUs() []int {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return []int{0}
	}
	var cpus []int
	for c := 0; c < 1024; c++ {
		if set.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	if len(cpus) == 0 {
		return []int{0}
	}
	return cpus
}

// defaultCPUs are the CPUs the defaults of --irq-cpu and --bh-cpu name:
// the first CPU this process may use and the next one (the first again when
// there is only one). On a machine that lets it use every CPU they are 0 and
// 1; inside a cpuset, or a partition of one CPU as docs/realtime.md sets up,
// they are CPUs of its own, so that a flag left out is never refused.
func defaultCPUs() (irq, bh int) {
	cpus := processCPUs()
	if len(cpus) < 2 {
		return cpus[0], cpus[0]
	}
	return cpus[0], cpus[1]
}
