package vfio

// Definitions from linux/iommufd.h and the cdev part of linux/vfio.h (uapi,
// Linux 6.6 and later). iommufd's ioctls share VFIO's type ';' and number
// from IOMMUFD_CMD_BASE 0x80; like VFIO's they are _IO (size field zero) and
// the kernel reads each struct's leading size/argsz field instead.

const iommufdCmdBase = 0x80 // IOMMUFD_CMD_BASE

func iommufdIO(n uintptr) uintptr { return vfioType<<8 | (iommufdCmdBase + n) }

// ioctl request numbers.
var (
	ioctlIOMMUDestroy          = iommufdIO(0) // IOMMU_DESTROY
	ioctlIOMMUIOASAlloc        = iommufdIO(1) // IOMMU_IOAS_ALLOC
	ioctlIOMMUIOASIOVARanges   = iommufdIO(4) // IOMMU_IOAS_IOVA_RANGES
	ioctlIOMMUIOASMap          = iommufdIO(5) // IOMMU_IOAS_MAP
	ioctlIOMMUIOASUnmap        = iommufdIO(6) // IOMMU_IOAS_UNMAP
	ioctlDeviceBindIOMMUFD     = vfioIO(18)   // VFIO_DEVICE_BIND_IOMMUFD
	ioctlDeviceAttachIOMMUFDPT = vfioIO(19)   // VFIO_DEVICE_ATTACH_IOMMUFD_PT
	ioctlDeviceDetachIOMMUFDPT = vfioIO(20)   // VFIO_DEVICE_DETACH_IOMMUFD_PT
)

// enum iommufd_ioas_map_flags.
const (
	ioasMapFixedIOVA = 1 << 0 // IOMMU_IOAS_MAP_FIXED_IOVA
	ioasMapWriteable = 1 << 1 // IOMMU_IOAS_MAP_WRITEABLE
	ioasMapReadable  = 1 << 2 // IOMMU_IOAS_MAP_READABLE
)

// Sizes of the fixed structs, checked by TestIOMMUFDABISizes.
const (
	sizeofIOMMUDestroy       = 8
	sizeofIOASAlloc          = 12
	sizeofIOASIOVARanges     = 32
	sizeofIOMMUIOVARange     = 16
	sizeofIOASMap            = 40
	sizeofIOASUnmap          = 24
	sizeofDeviceBindIOMMUFD  = 24
	sizeofDeviceAttachPT     = 16
	sizeofDeviceDetachPT     = 12
	minsizeDeviceBindIOMMUFD = 16 // offsetofend(out_devid): what 6.6-7.0 kernels read
)

// iommuDestroy is struct iommu_destroy.
type iommuDestroy struct {
	Size uint32
	ID   uint32
}

// ioasAlloc is struct iommu_ioas_alloc.
type ioasAlloc struct {
	Size      uint32
	Flags     uint32
	OutIOASID uint32
}

// ioasIOVARanges is struct iommu_ioas_iova_ranges; AllowedIOVAs points at an
// array of NumIOVAs struct iommu_iova_range (two uint64: start, last).
type ioasIOVARanges struct {
	Size             uint32
	IOASID           uint32
	NumIOVAs         uint32
	_                uint32
	AllowedIOVAs     uint64
	OutIOVAAlignment uint64
}

// ioasMap is struct iommu_ioas_map.
type ioasMap struct {
	Size   uint32
	Flags  uint32
	IOASID uint32
	_      uint32
	UserVA uint64
	Length uint64
	IOVA   uint64
}

// ioasUnmap is struct iommu_ioas_unmap.
type ioasUnmap struct {
	Size   uint32
	IOASID uint32
	IOVA   uint64
	Length uint64
}

// deviceBindIOMMUFD is struct vfio_device_bind_iommufd.
type deviceBindIOMMUFD struct {
	Argsz        uint32
	Flags        uint32
	IOMMUFD      int32
	OutDevID     uint32
	TokenUUIDPtr uint64 // VFIO_DEVICE_BIND_FLAG_TOKEN only (SR-IOV VF tokens); unused
}

// deviceAttachPT is struct vfio_device_attach_iommufd_pt.
type deviceAttachPT struct {
	Argsz uint32
	Flags uint32
	PTID  uint32
	PASID uint32
}

// deviceDetachPT is struct vfio_device_detach_iommufd_pt.
type deviceDetachPT struct {
	Argsz uint32
	Flags uint32
	PASID uint32
}
