// Package qemu is the uiodrv lab: QEMU with emulated e1000/e1000e/igb/virtio-net NICs and an
// optional vIOMMU, booted from Go, with a host-side packet peer per NIC.
//
// The pieces, each usable on its own:
//
//   - EnsureQEMU makes sure QEMU 8 or later is installed (the igb model): when
//     it is older or missing, EnableBackports adds an apt entry for Debian's
//     backports suite derived from the system's sources, and qemu-system-x86 is
//     installed from it under the lab lock (LockLab).
//   - StageKernel finds the kernel ABI that Debian's linux-image-amd64 depends
//     on, downloads its -unsigned image with apt-get download, unpacks it into
//     the cache ($XDG_CACHE_HOME/uiodrv) and indexes its modules and their
//     dependencies (read from each module's .modinfo section: Debian ships no
//     modules.dep). Nothing hard-codes a kernel version. Config.Kernel =
//     KernelBackports boots the backports suite's kernel instead (staged on
//     first use).
//   - StageSourceKernel builds the lab's kernel with iommufd and the VFIO
//     device cdev from Debian's linux-source-7.x (sid, through a private apt
//     list), tinyconfig plus kernelsrc.config, everything built in; cached
//     by source version and configuration hash. Config.Kernel = KernelSource
//     boots it; the guest init loads no modules there (Kernel.BuiltIn).
//   - Flows builds UDP/IPv4 frames over many distinct 5-tuples with per-flow
//     sequence numbers; FlowOrder checks that no flow was reordered.
//   - Config.Fetch copies guest files (a capture) back to the host.
//   - Start builds an initramfs with u-root's cpio writer (the guest init, the
//     modules the configuration needs, the files to run), boots QEMU (q35, TCG)
//     and returns a VM whose Peer(i) sends and receives Ethernet frames on NIC i
//     through a -netdev dgram UDP pair on loopback. A dgram netdev has one
//     queue; a NIC with Queues above 1 (virtio-net, which then offers that
//     many queue pairs) gets a multiqueue tap instead (-netdev tap,fds=...),
//     created in a private network namespace of the test process and read
//     through a packet socket: no host interface or traffic is involved.
//   - The guest init (package guestinit) mounts, loads modules, binds devices to
//     vfio-pci or uio_pci_generic, runs the configured commands and streams their
//     output and exit status back over the second serial port.
//
// Every boot has a timeout; QEMU runs in its own process group with
// PDEATHSIG=SIGKILL, and VM.Close kills and reaps it, so neither a hung guest
// nor an interrupted host program leaves a QEMU behind.
package qemu
