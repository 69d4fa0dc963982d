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
