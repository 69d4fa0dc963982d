package vfio

import (
	"testing"
	"unsafe"
)

// The sizes and offsets below are those of linux/vfio.h on amd64 (and any
// LP64 target): a mismatch would corrupt the kernel's view of the argument.
func TestABISizes(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  uintptr
		want uintptr
	}{
		{"vfio_group_status", unsafe.Sizeof(groupStatus{}), 8},
		{"vfio_device_info", unsafe.Sizeof(deviceInfo{}), 24},
		{"vfio_region_info", unsafe.Sizeof(regionInfo{}), 32},
		{"vfio_region_info.size offset", unsafe.Offsetof(regionInfo{}.Size), 16},
		{"vfio_region_info.offset offset", unsafe.Offsetof(regionInfo{}.Offset), 24},
		{"vfio_irq_info", unsafe.Sizeof(irqInfo{}), 16},
		{"vfio_irq_set header", unsafe.Sizeof(irqSetHeader{}), sizeofIRQSetHeader},
		{"vfio_irq_set header const", sizeofIRQSetHeader, 20},
		{"vfio_iommu_type1_info", unsafe.Sizeof(iommuType1Info{}), sizeofIOMMUType1Info},
		{"vfio_iommu_type1_info const", sizeofIOMMUType1Info, 24},
		{"vfio_iommu_type1_info.iova_pgsizes offset", unsafe.Offsetof(iommuType1Info{}.IOVAPgsizes), 8},
		{"vfio_iommu_type1_info.cap_offset offset", unsafe.Offsetof(iommuType1Info{}.CapOffset), 16},
		{"vfio_iommu_type1_dma_map", unsafe.Sizeof(dmaMap{}), sizeofDMAMap},
		{"vfio_iommu_type1_dma_map const", sizeofDMAMap, 32},
		{"vfio_iommu_type1_dma_map.vaddr offset", unsafe.Offsetof(dmaMap{}.Vaddr), 8},
		{"vfio_iommu_type1_dma_map.iova offset", unsafe.Offsetof(dmaMap{}.IOVA), 16},
		{"vfio_iommu_type1_dma_unmap", unsafe.Sizeof(dmaUnmap{}), sizeofDMAUnmap},
		{"vfio_iommu_type1_dma_unmap const", sizeofDMAUnmap, 24},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %d, want %d", tc.name, tc.got, tc.want)
		}
	}
}

// The sizes and offsets of linux/iommufd.h and of the cdev structs of
// linux/vfio.h (Linux 7.2), amd64.
func TestIOMMUFDABISizes(t *testing.T) {
	for _, tc := range []struct {
		name      string
		got, want uintptr
	}{
		{"iommu_destroy", unsafe.Sizeof(iommuDestroy{}), sizeofIOMMUDestroy},
		{"iommu_destroy const", sizeofIOMMUDestroy, 8},
		{"iommu_ioas_alloc", unsafe.Sizeof(ioasAlloc{}), sizeofIOASAlloc},
		{"iommu_ioas_alloc const", sizeofIOASAlloc, 12},
		{"iommu_ioas_alloc.out_ioas_id offset", unsafe.Offsetof(ioasAlloc{}.OutIOASID), 8},
		{"iommu_ioas_iova_ranges", unsafe.Sizeof(ioasIOVARanges{}), sizeofIOASIOVARanges},
		{"iommu_ioas_iova_ranges const", sizeofIOASIOVARanges, 32},
		{"iommu_ioas_iova_ranges.allowed_iovas offset", unsafe.Offsetof(ioasIOVARanges{}.AllowedIOVAs), 16},
		{"iommu_ioas_iova_ranges.out_iova_alignment offset", unsafe.Offsetof(ioasIOVARanges{}.OutIOVAAlignment), 24},
		{"iommu_iova_range const", sizeofIOMMUIOVARange, 16},
		{"iommu_ioas_map", unsafe.Sizeof(ioasMap{}), sizeofIOASMap},
		{"iommu_ioas_map const", sizeofIOASMap, 40},
		{"iommu_ioas_map.user_va offset", unsafe.Offsetof(ioasMap{}.UserVA), 16},
		{"iommu_ioas_map.length offset", unsafe.Offsetof(ioasMap{}.Length), 24},
		{"iommu_ioas_map.iova offset", unsafe.Offsetof(ioasMap{}.IOVA), 32},
		{"iommu_ioas_unmap", unsafe.Sizeof(ioasUnmap{}), sizeofIOASUnmap},
		{"iommu_ioas_unmap const", sizeofIOASUnmap, 24},
		{"iommu_ioas_unmap.iova offset", unsafe.Offsetof(ioasUnmap{}.IOVA), 8},
		{"vfio_device_bind_iommufd", unsafe.Sizeof(deviceBindIOMMUFD{}), sizeofDeviceBindIOMMUFD},
		{"vfio_device_bind_iommufd const", sizeofDeviceBindIOMMUFD, 24},
		{"vfio_device_bind_iommufd.out_devid end", unsafe.Offsetof(deviceBindIOMMUFD{}.OutDevID) + 4, minsizeDeviceBindIOMMUFD},
		{"vfio_device_bind_iommufd.iommufd offset", unsafe.Offsetof(deviceBindIOMMUFD{}.IOMMUFD), 8},
		{"vfio_device_attach_iommufd_pt", unsafe.Sizeof(deviceAttachPT{}), sizeofDeviceAttachPT},
		{"vfio_device_attach_iommufd_pt const", sizeofDeviceAttachPT, 16},
		{"vfio_device_attach_iommufd_pt.pt_id offset", unsafe.Offsetof(deviceAttachPT{}.PTID), 8},
		{"vfio_device_detach_iommufd_pt", unsafe.Sizeof(deviceDetachPT{}), sizeofDeviceDetachPT},
		{"vfio_device_detach_iommufd_pt const", sizeofDeviceDetachPT, 12},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %d, want %d", tc.name, tc.got, tc.want)
		}
	}
}
