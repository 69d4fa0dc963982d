package main

import "github.com/uiodrv/uiodrv/qemu"

// Exit codes, documented in --help.
const (
	exitOK      = 0 // the command did what it was asked
	exitFailure = 1 // a runtime failure: the device, the system or the lab said no
	exitUsage   = 2 // the command line is wrong; nothing was touched
)

var topUsage = `uiodrv — userspace NIC drivers on VFIO or UIO

Drives (family: model (PCI IDs)):
  ` + supportedNICs("\n  ") + `

Usage:
  uiodrv [run] --dev BDF [flags]     run the driver on a NIC (the default command)
  uiodrv list [--all]                list the machine's NICs and whether uiodrv can use them
  uiodrv bind --dev BDF [--driver vfio-pci|uio_pci_generic] [--force]
                                     hand the NIC to vfio-pci (or uio_pci_generic), recording its driver
  uiodrv unbind --dev BDF [--force]  give the NIC back to the driver it had before 'uiodrv bind'
  uiodrv pktgen --dev BDF --rate PPS --size N --count N
  uiodrv lab [--nic ` + labNICList() + `] [--mode M] [--backend vfio|uio] [--rate PPS] [--duration D]
                                     try it all in QEMU, no NIC needed
  uiodrv rt [--cpu N] [--period D] [--work D] [--prio N] [--duration D]   periodic real-time probe (cyclictest-like)
  uiodrv help COMMAND | --help | --version

Examples:
  uiodrv list
  uiodrv bind --dev 0000:00:03.0
  uiodrv --dev 0000:00:03.0 --mode workqueue --handler reflect
  uiodrv --dev 0000:00:03.0 --mode napi --handler capture --pcap rx.pcap --count 1000
  uiodrv --dev 0000:00:04.0 --queues 2 --irq-cpu 0,1 --mode napi   (a multi-queue NIC: RSS over 2 queues)
  uiodrv --dev 0000:00:03.0 --metrics 127.0.0.1:9100
  uiodrv unbind --dev 0000:00:03.0
  uiodrv lab --nic ` + string(qemu.NICModels[1]) + ` --mode threaded --rate 2000 --duration 10s

Modes: tasklet, softirq, workqueue, threaded, napi, busypoll, adaptive.

Exit status: 0 ok, 1 runtime failure (the message names the fix), 2 usage error
(nothing was touched).
`
