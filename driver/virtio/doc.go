// Package virtio drives virtio-net devices through the modern virtio-pci
// 1.x interface (virtio 1.2, sections 2, 3, 4.1 and 5.1): the NIC of QEMU,
// KVM and most clouds. It implements driver.NIC over split virtqueues and
// registers itself as the family "virtio" for PCI ID 1af4:1041.
//
// Contract:
//   - Only modern devices: a legacy one (ID 1af4:1000, no virtio vendor
//     capabilities, or no VIRTIO_F_VERSION_1) is refused before anything is
//     written to it (ErrLegacyDevice). Under VFIO the device must offer
//     VIRTIO_F_ACCESS_PLATFORM, so that it translates the driver's IOVAs
//     through the IOMMU (ErrNoAccessPlatform); more queue pairs than the
//     device's max_virtqueue_pairs are refused before DRIVER_OK.
//   - Negotiated: VERSION_1, ACCESS_PLATFORM, MAC, STATUS, and MQ with the
//     control queue when more than one pair is asked. Never mergeable RX
//     buffers, offloads or event index: every frame fits one 2 KiB buffer
//     and carries a zero 12-byte virtio-net header.
//   - Each frame is a two-descriptor chain, header then buffer, so the frame
//     starts at offset 0 of its pool buffer for the core. A virtqueue of N
//     descriptors (Options.RingSize, capped at the device's queue size)
//     holds N/2 frames.
//   - Interrupts: one MSI-X vector per queue pair and one for configuration
//     changes. SetIRQ is interrupt suppression (VIRTQ_AVAIL_F_NO_INTERRUPT);
//     enabling with work already used raises the vector from software.
//     There is no software-raised interrupt for the core (no Trigger): the
//     core's own software interrupt recovers a starved ring.
//   - Statistics are software counters: virtio has none in hardware. The
//     link is the STATUS field's, else up.
//   - Close resets the device (device_status 0, read back) before the rings
//     are freed, so the device never writes freed memory.
//
// The virtiotest package is a fake device for unit tests and the
// conformance kit.
package virtio
