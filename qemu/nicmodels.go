package qemu

// NICModels are the emulated NIC models the lab boots, in the order a
// front end lists them.
var NICModels = []NICModel{E1000, E1000E, IGB, VirtioNet}

// PCIID returns the PCI vendor and device ID QEMU gives the model's
// function, which is how a guest driver tells it apart; ok is false for a
// model the lab does not know.
func (m NICModel) PCIID() (vendor, device uint16, ok bool) {
	switch m {
	case E1000:
		return 0x8086, 0x100e, true
	case E1000E:
		return 0x8086, 0x10d3, true
	case IGB:
		return 0x8086, 0x10c9, true
	case VirtioNet:
		return 0x1af4, 0x1041, true
	}
	return 0, 0, false
}

// deviceProps are the -device properties the lab gives a model beyond its
// netdev, address and MAC: virtio-net is made a modern-only device (no
// legacy I/O BAR, ID 1af4:1041) that translates its DMA through the vIOMMU
// (VIRTIO_F_ACCESS_PLATFORM), as a userspace driver under VFIO needs.
func (m NICModel) deviceProps() string {
	if m == VirtioNet {
		return ",disable-legacy=on,iommu_platform=on,mq=on"
	}
	return ""
}
