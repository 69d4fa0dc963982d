package vfio

// Definitions from linux/vfio.h (uapi). Every ioctl is _IO(VFIO_TYPE, VFIO_BASE + n)
// with VFIO_TYPE ';' and VFIO_BASE 100: the size field is zero and the kernel
// reads each struct's argsz instead.

const (
	vfioType = ';'
	vfioBase = 100
)

func vfioIO(n uintptr) uintptr { return vfioType<<8 | (vfioBase + n) }

// ioctl request numbers.
var (
	ioctlGetAPIVersion       = vfioIO(0)  // VFIO_GET_API_VERSION
	ioctlCheckExtension      = vfioIO(1)  // VFIO_CHECK_EXTENSION
	ioctlSetIOMMU            = vfioIO(2)  // VFIO_SET_IOMMU
	ioctlGroupGetStatus      = vfioIO(3)  // VFIO_GROUP_GET_STATUS
	ioctlGroupSetContainer   = vfioIO(4)  // VFIO_GROUP_SET_CONTAINER
	ioctlGroupUnsetContainer = vfioIO(5)  // VFIO_GROUP_UNSET_CONTAINER
	ioctlGroupGetDeviceFD    = vfioIO(6)  // VFIO_GROUP_GET_DEVICE_FD
	ioctlDeviceGetInfo       = vfioIO(7)  // VFIO_DEVICE_GET_INFO
	ioctlDeviceGetRegionInfo = vfioIO(8)  // VFIO_DEVICE_GET_REGION_INFO
	ioctlDeviceGetIRQInfo    = vfioIO(9)  // VFIO_DEVICE_GET_IRQ_INFO
	ioctlDeviceSetIRQs       = vfioIO(10) // VFIO_DEVICE_SET_IRQS
	ioctlDeviceReset         = vfioIO(11) // VFIO_DEVICE_RESET
	ioctlIOMMUGetInfo        = vfioIO(12) // VFIO_IOMMU_GET_INFO
	ioctlIOMMUMapDMA         = vfioIO(13) // VFIO_IOMMU_MAP_DMA
	ioctlIOMMUUnmapDMA       = vfioIO(14) // VFIO_IOMMU_UNMAP_DMA
)

// APIVersion is VFIO_API_VERSION, the only version this package speaks.
const APIVersion = 0

// IOMMU types and extensions (VFIO_CHECK_EXTENSION, VFIO_SET_IOMMU).
const (
	Type1IOMMU   = 1 // VFIO_TYPE1_IOMMU
	Type1v2IOMMU = 3 // VFIO_TYPE1v2_IOMMU
)

// struct vfio_group_status flags.
const (
	groupFlagsViable       = 1 << 0 // VFIO_GROUP_FLAGS_VIABLE
	groupFlagsContainerSet = 1 << 1 // VFIO_GROUP_FLAGS_CONTAINER_SET
)

// struct vfio_device_info flags.
const (
	DeviceFlagsReset = 1 << 0 // VFIO_DEVICE_FLAGS_RESET: VFIO_DEVICE_RESET supported
	DeviceFlagsPCI   = 1 << 1 // VFIO_DEVICE_FLAGS_PCI
)

// Region indexes of a vfio-pci device (VFIO_PCI_*_REGION_INDEX).
const (
	RegionBAR0   = 0
	RegionBAR5   = 5
	RegionROM    = 6
	RegionConfig = 7
	RegionVGA    = 8
)

// struct vfio_region_info flags.
const (
	RegionFlagRead  = 1 << 0 // VFIO_REGION_INFO_FLAG_READ
	RegionFlagWrite = 1 << 1 // VFIO_REGION_INFO_FLAG_WRITE
	RegionFlagMmap  = 1 << 2 // VFIO_REGION_INFO_FLAG_MMAP
	RegionFlagCaps  = 1 << 3 // VFIO_REGION_INFO_FLAG_CAPS
)

// IRQ indexes of a vfio-pci device (VFIO_PCI_*_IRQ_INDEX).
const (
	IRQIndexINTx = 0
	IRQIndexMSI  = 1
	IRQIndexMSIX = 2
	IRQIndexErr  = 3
	IRQIndexReq  = 4
)

// struct vfio_irq_info flags.
const (
	IRQInfoEventfd    = 1 << 0 // VFIO_IRQ_INFO_EVENTFD
	IRQInfoMaskable   = 1 << 1 // VFIO_IRQ_INFO_MASKABLE
	IRQInfoAutomasked = 1 << 2 // VFIO_IRQ_INFO_AUTOMASKED
	IRQInfoNoresize   = 1 << 3 // VFIO_IRQ_INFO_NORESIZE
)

// struct vfio_irq_set flags.
const (
	irqSetDataNone      = 1 << 0 // VFIO_IRQ_SET_DATA_NONE
	irqSetDataBool      = 1 << 1 // VFIO_IRQ_SET_DATA_BOOL
	irqSetDataEventfd   = 1 << 2 // VFIO_IRQ_SET_DATA_EVENTFD
	irqSetActionMask    = 1 << 3 // VFIO_IRQ_SET_ACTION_MASK
	irqSetActionUnmask  = 1 << 4 // VFIO_IRQ_SET_ACTION_UNMASK
	irqSetActionTrigger = 1 << 5 // VFIO_IRQ_SET_ACTION_TRIGGER
)

// struct vfio_iommu_type1_info flags and capability IDs.
const (
	iommuInfoPgsizes       = 1 << 0 // VFIO_IOMMU_INFO_PGSIZES
	iommuInfoCaps          = 1 << 1 // VFIO_IOMMU_INFO_CAPS
	iommuCapIOVARange      = 1      // VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE
	iommuCapMigration      = 2      // VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION
	iommuCapDMAAvail       = 3      // VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL
	dmaMapFlagRead         = 1 << 0 // VFIO_DMA_MAP_FLAG_READ
	dmaMapFlagWrite        = 1 << 1 // VFIO_DMA_MAP_FLAG_WRITE
	regionOffsetShift      = 40     // VFIO_PCI_INDEX_TO_OFFSET: index << 40
	sizeofIRQSetHeader     = 20     // sizeof(struct vfio_irq_set) without data[]
	sizeofIOMMUType1Info   = 24     // sizeof(struct vfio_iommu_type1_info)
	sizeofInfoCapHeader    = 8      // sizeof(struct vfio_info_cap_header)
	sizeofIOVARangeCapHead = 16     // sizeof(struct vfio_iommu_type1_info_cap_iova_range) without ranges
	sizeofIOVARange        = 16     // sizeof(struct vfio_iova_range)
)

// groupStatus is struct vfio_group_status.
type groupStatus struct {
	Argsz uint32
	Flags uint32
}

// deviceInfo is struct vfio_device_info (with cap_offset, Linux 5.x+; older
// kernels read only the first 16 bytes).
type deviceInfo struct {
	Argsz      uint32
	Flags      uint32
	NumRegions uint32
	NumIRQs    uint32
	CapOffset  uint32
	_          uint32
}

// regionInfo is struct vfio_region_info.
type regionInfo struct {
	Argsz     uint32
	Flags     uint32
	Index     uint32
	CapOffset uint32
	Size      uint64
	Offset    uint64
}

// irqInfo is struct vfio_irq_info.
type irqInfo struct {
	Argsz uint32
	Flags uint32
	Index uint32
	Count uint32
}

// irqSetHeader is struct vfio_irq_set without its flexible data[] member;
// the data (int32 eventfds or uint8 bools) follow it in one buffer.
type irqSetHeader struct {
	Argsz uint32
	Flags uint32
	Index uint32
	Start uint32
	Count uint32
}

// iommuType1Info is struct vfio_iommu_type1_info.
type iommuType1Info struct {
	Argsz       uint32
	Flags       uint32
	IOVAPgsizes uint64
	CapOffset   uint32
	_           uint32
}

// dmaMap is struct vfio_iommu_type1_dma_map.
type dmaMap struct {
	Argsz uint32
	Flags uint32
	Vaddr uint64
	IOVA  uint64
	Size  uint64
}

// dmaUnmap is struct vfio_iommu_type1_dma_unmap (without data[]).
type dmaUnmap struct {
	Argsz uint32
	Flags uint32
	IOVA  uint64
	Size  uint64
}

// regionOffset returns the file offset of a region in the device fd.
func regionOffset(index int) int64 { return int64(index) << regionOffsetShift }
