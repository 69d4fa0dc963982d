package qemu

import (
	"fmt"
	"net"
	"path"
	"path/filepath"
	"strconv"

	"github.com/uiodrv/uiodrv/qemu/internal/proto"
)

// Staging a boot: the guest initramfs and the QEMU command line.

func (vm *VM) buildInitramfs(k *Kernel) (string, error) {
	cfg := vm.cfg
	init := cfg.Init
	if init == "" {
		init = filepath.Join(vm.dir, "labinit")
		if err := BuildStatic("./qemu/labinit", init); err != nil {
			return "", fmt.Errorf("build guest init: %w", err)
		}
	}
	want := append([]string(nil), cfg.Modules...)
	for _, b := range cfg.Bind {
		mods, ok := driverModules[b.Driver]
		if !ok {
			return "", fmt.Errorf("lab: unknown driver %q to bind %s (known: vfio-pci, uio_pci_generic, e1000, e1000e, igb, virtio-pci)", b.Driver, b.BDF)
		}
		want = append(want, mods...)
	}
	mods, err := k.ModuleClosure(want...)
	if err != nil {
		return "", err
	}
	ir := initramfs{init: init, modules: mods, files: cfg.Files}
	for _, m := range mods {
		ir.config.Modules = append(ir.config.Modules, proto.Module{Name: m.Name, Path: m.Guest, Params: cfg.ModuleParams[m.Name]})
	}
	ir.config.Hugepages = cfg.Hugepages
	for _, b := range cfg.Bind {
		ir.config.Bind = append(ir.config.Bind, proto.Binding{BDF: b.BDF, Driver: b.Driver})
	}
	for _, c := range cfg.Commands {
		pc := proto.Command{Args: c.Args, Env: c.Env, Background: c.Background, TimeoutMs: c.Timeout.Milliseconds()}
		if u := c.User; u != nil {
			pc.User = &proto.User{UID: u.UID, GID: u.GID, Own: u.Own, Rlimits: map[string][2]uint64{}}
			for k, v := range u.Rlimits {
				pc.User.Rlimits[k] = [2]uint64{v.Soft, v.Hard}
			}
		}
		ir.config.Commands = append(ir.config.Commands, pc)
	}
	for _, f := range cfg.Fetch {
		if !path.IsAbs(f.Guest) || f.Host == "" {
			return "", fmt.Errorf("lab: fetch %q to %q: want an absolute guest path and a host path", f.Guest, f.Host)
		}
		ir.config.Fetch = append(ir.config.Fetch, f.Guest)
	}
	out := filepath.Join(vm.dir, "initrd.cpio")
	return out, ir.write(out)
}

func (vm *VM) qemuArgs(k *Kernel, initrd string) ([]string, error) {
	cfg := vm.cfg
	for i, n := range cfg.NICs {
		if err := n.checkQueues(); err != nil {
			return nil, fmt.Errorf("lab: NIC %d: %w", i, err)
		}
	}
	// no_timer_check: under TCG on a loaded host the guest's check that the
	// IO-APIC timer ticks (check_timer) can miss its window and panic the
	// boot ("timer doesn't work through Interrupt-remapped IO-APIC"); the
	// lab needs the LAPIC timer only, so the check only costs failed boots.
	cmdline := "console=ttyS0 panic=-1 quiet loglevel=4 tsc=reliable no_timer_check"
	args := []string{
		"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-machine", "q35", "-accel", "tcg,thread=multi", "-cpu", "max",
		"-smp", strconv.Itoa(cfg.CPUs), "-m", strconv.Itoa(cfg.MemoryMiB),
		"-kernel", k.Vmlinuz, "-initrd", initrd,
		"-chardev", "file,id=con,path=" + filepath.Join(vm.dir, "console.log"), "-serial", "chardev:con",
		"-chardev", "socket,id=ctl,path=" + filepath.Join(vm.dir, "ctl.sock"), "-serial", "chardev:ctl",
	}
	if cfg.IOMMU {
		// The vIOMMU must come before the devices it translates for.
		args = append(args, "-device", "intel-iommu,intremap=on")
		cmdline += " intel_iommu=on"
	}
	for i, n := range cfg.NICs {
		p, err := n.newPeer()
		if err != nil {
			return nil, fmt.Errorf("lab: NIC %d: %w", i, err)
		}
		vm.peers = append(vm.peers, p)
		id := fmt.Sprintf("n%d", i)
		// QEMU gets ExtraFiles as fds 3, 4, ... in order.
		args = append(args, "-netdev", netdevArg(id, p, 3+len(vm.extraFiles)))
		vm.extraFiles = append(vm.extraFiles, p.tapQueues()...)
		dev := fmt.Sprintf("%s,netdev=%s,addr=%s,mac=%s", n.Model, id, n.Addr, n.MAC)
		if n.RootPort {
			args = append(args, "-device", fmt.Sprintf("pcie-root-port,id=rp%d,chassis=%d,slot=%d,addr=%s", i, i+1, i+1, n.Addr))
			dev = fmt.Sprintf("%s,netdev=%s,bus=rp%d,addr=00.0,mac=%s", n.Model, id, i, n.MAC)
		}
		if n.Mitigation != nil {
			dev += fmt.Sprintf(",mitigation=%v", *n.Mitigation)
		}
		dev += n.Model.deviceProps()
		args = append(args, "-device", dev)
		if n.PCAP != "" {
			args = append(args, "-object", fmt.Sprintf("filter-dump,id=f%d,netdev=%s,file=%s", i, id, n.PCAP))
		}
	}
	if cfg.QMP {
		vm.qmpPath = filepath.Join(vm.dir, "qmp.sock")
		args = append(args, "-qmp", "unix:"+vm.qmpPath+",server=on,wait=off")
	}
	if cfg.Hugepages > 0 {
		// Reserved by the kernel at boot, before memory fragments: asked for
		// later (nr_hugepages), a 1 GiB guest sometimes got only one 2 MiB page.
		cmdline += fmt.Sprintf(" hugepagesz=2M hugepages=%d", cfg.Hugepages)
	}
	if cfg.CPUs > 1 && !cfg.Halt {
		cmdline += " " + NoHaltCmdline
	}
	if cfg.Cmdline != "" {
		cmdline += " " + cfg.Cmdline
	}
	return append(args, "-append", cmdline), nil
}

// checkQueues refuses a queue count the lab cannot give the NIC's netdev.
func (n NIC) checkQueues() error {
	switch {
	case n.Queues < 0 || n.Queues > MaxTapQueues:
		return fmt.Errorf("Queues %d: want 0 to %d", n.Queues, MaxTapQueues)
	case n.Queues > 1 && n.Model != VirtioNet:
		return fmt.Errorf("Queues %d on %s: only %s takes a multiqueue netdev in the lab", n.Queues, n.Model, VirtioNet)
	}
	return nil
}

// newPeer makes the NIC's host end: a dgram peer, or a tap peer for a
// netdev of several queues.
func (n NIC) newPeer() (*Peer, error) {
	if n.Queues > 1 {
		return newTapPeer(n.Queues)
	}
	return newPeer()
}

// netdevArg is the -netdev value of NIC id whose host end is p; a tap
// peer's queue fds are firstFD, firstFD+1, ... in QEMU.
func netdevArg(id string, p *Peer, firstFD int) string {
	if q := p.tapQueues(); q != nil {
		fds := ""
		for i := range q {
			if i > 0 {
				fds += ":"
			}
			fds += strconv.Itoa(firstFD + i)
		}
		// vhost=off: the queues are served by QEMU's own thread, as every
		// other netdev of the lab is (vhost-net would need /dev/vhost-net
		// and moves the datapath into the host kernel).
		return fmt.Sprintf("tap,id=%s,fds=%s,vhost=off", id, fds)
	}
	return fmt.Sprintf(
		"dgram,id=%s,local.type=inet,local.host=127.0.0.1,local.port=%d,remote.type=inet,remote.host=127.0.0.1,remote.port=%d",
		id, p.qemu.Port, p.conn.LocalAddr().(*net.UDPAddr).Port)
}
