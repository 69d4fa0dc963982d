package virtio

// Regs is a register block of a virtio-pci device, accessed at the width of
// each field: virtio 1.2 4.1.3.1 requires the driver to access a field with
// exactly its own width (QEMU refuses or misreads wider accesses), which
// mmio.Regs' 32-bit accessors cannot do. Offsets are relative to the block
// a capability points at.
type Regs interface {
	Read8(off uint32) uint8
	Read16(off uint32) uint16
	Read32(off uint32) uint32
	Write8(off uint32, v uint8)
	Write16(off uint32, v uint16)
	Write32(off uint32, v uint32)
}

// Transport is how the driver reaches a modern virtio-pci device: its common
// configuration, notification area, and device-specific configuration
// (virtio 1.2 4.1.4). Open builds it from the capabilities in config space;
// a fake device provides its own.
type Transport struct {
	Common Regs
	Notify Regs
	// NotifyOffMultiplier scales a queue's queue_notify_off into Notify.
	NotifyOffMultiplier uint32
	Device              Regs
}
