package vfio

import (
	"encoding/binary"
	"reflect"
	"testing"
)

// The numbers from linux/vfio.h (_IO(';', 100+n)), as listed in shared/FACTS.md.
func TestIoctlNumbers(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  uintptr
		want uintptr
	}{
		{"VFIO_GET_API_VERSION", ioctlGetAPIVersion, 0x3B64},
		{"VFIO_CHECK_EXTENSION", ioctlCheckExtension, 0x3B65},
		{"VFIO_SET_IOMMU", ioctlSetIOMMU, 0x3B66},
		{"VFIO_GROUP_GET_STATUS", ioctlGroupGetStatus, 0x3B67},
		{"VFIO_GROUP_SET_CONTAINER", ioctlGroupSetContainer, 0x3B68},
		{"VFIO_GROUP_UNSET_CONTAINER", ioctlGroupUnsetContainer, 0x3B69},
		{"VFIO_GROUP_GET_DEVICE_FD", ioctlGroupGetDeviceFD, 0x3B6A},
		{"VFIO_DEVICE_GET_INFO", ioctlDeviceGetInfo, 0x3B6B},
		{"VFIO_DEVICE_GET_REGION_INFO", ioctlDeviceGetRegionInfo, 0x3B6C},
		{"VFIO_DEVICE_GET_IRQ_INFO", ioctlDeviceGetIRQInfo, 0x3B6D},
		{"VFIO_DEVICE_SET_IRQS", ioctlDeviceSetIRQs, 0x3B6E},
		{"VFIO_DEVICE_RESET", ioctlDeviceReset, 0x3B6F},
		{"VFIO_IOMMU_GET_INFO", ioctlIOMMUGetInfo, 0x3B70},
		{"VFIO_IOMMU_MAP_DMA", ioctlIOMMUMapDMA, 0x3B71},
		{"VFIO_IOMMU_UNMAP_DMA", ioctlIOMMUUnmapDMA, 0x3B72},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %#x, want %#x", tc.name, tc.got, tc.want)
		}
	}
	if regionOffset(RegionConfig) != 7<<40 {
		t.Errorf("config region offset = %#x", regionOffset(RegionConfig))
	}
}

func TestIRQSetBuf(t *testing.T) {
	for _, tc := range []struct {
		name                string
		flags               uint32
		index, start, count int
		fds                 []int32
		want                []uint32
	}{
		{"INTx eventfd", irqSetDataEventfd | irqSetActionTrigger, IRQIndexINTx, 0, 1, []int32{7},
			[]uint32{24, 0x24, 0, 0, 1, 7}},
		{"unmask", irqSetDataNone | irqSetActionUnmask, IRQIndexINTx, 0, 1, nil,
			[]uint32{20, 0x11, 0, 0, 1}},
		{"MSI-X 3 vectors", irqSetDataEventfd | irqSetActionTrigger, IRQIndexMSIX, 0, 3, []int32{9, 10, 11},
			[]uint32{32, 0x24, 2, 0, 3, 9, 10, 11}},
		{"detach vector 2", irqSetDataEventfd | irqSetActionTrigger, IRQIndexMSIX, 2, 1, []int32{-1},
			[]uint32{24, 0x24, 2, 2, 1, 0xffffffff}},
		{"disable", irqSetDataNone | irqSetActionTrigger, IRQIndexMSI, 0, 0, nil,
			[]uint32{20, 0x21, 1, 0, 0}},
	} {
		var d Device
		for _, b := range []struct {
			how string
			buf []byte
		}{
			{"irqSetBuf", irqSetBuf(tc.flags, tc.index, tc.start, tc.count, tc.fds)},
			{"irqSetArg", d.irqSetArg(tc.flags, tc.index, tc.start, tc.count, tc.fds)},
		} {
			var got []uint32
			for i := 0; i+4 <= len(b.buf); i += 4 {
				got = append(got, binary.LittleEndian.Uint32(b.buf[i:]))
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s %s: %v, want %v", b.how, tc.name, got, tc.want)
			}
		}
	}
}

// TestUnmaskAllocatesNothing: the INTx unmask runs after every interrupt,
// so building its argument and the call around it allocate nothing (the
// ioctl itself is left out: a closed Device stops before it).
func TestUnmaskAllocatesNothing(t *testing.T) {
	d := &Device{}
	if a := testing.AllocsPerRun(100, func() {
		_ = d.irqSetArg(irqSetDataNone|irqSetActionUnmask, IRQIndexINTx, 0, 1, nil)
	}); a != 0 {
		t.Errorf("the unmask's argument: %v allocations per call, want 0", a)
	}
	d.closed = true
	if a := testing.AllocsPerRun(100, func() { _ = d.UnmaskINTx() }); a != 0 {
		t.Errorf("UnmaskINTx up to its ioctl: %v allocations per call, want 0", a)
	}
}

// iommuInfoBuf builds what the kernel returns: the fixed struct, then an
// IOVA range capability and a DMA-avail capability.
func iommuInfoBuf(ranges []IOVARange, avail uint32) []byte {
	le := binary.LittleEndian
	buf := make([]byte, 24)
	le.PutUint32(buf[4:], iommuInfoPgsizes|iommuInfoCaps)
	le.PutUint64(buf[8:], 0x40201000) // 4K, 2M, 1G
	le.PutUint32(buf[16:], 24)
	rc := make([]byte, 16+16*len(ranges))
	le.PutUint16(rc[0:], iommuCapIOVARange)
	le.PutUint16(rc[2:], 1)
	le.PutUint32(rc[4:], uint32(24+len(rc)))
	le.PutUint32(rc[8:], uint32(len(ranges)))
	for i, r := range ranges {
		le.PutUint64(rc[16+16*i:], r.Start)
		le.PutUint64(rc[24+16*i:], r.End)
	}
	buf = append(buf, rc...)
	ac := make([]byte, 12)
	le.PutUint16(ac[0:], iommuCapDMAAvail)
	le.PutUint32(ac[8:], avail)
	buf = append(buf, ac...)
	le.PutUint32(buf[0:], uint32(len(buf)))
	return buf
}

func TestParseIOMMUInfo(t *testing.T) {
	ranges := []IOVARange{{0, 0xfedfffff}, {0xfef00000, 0x7fffffffff}}
	info, err := parseIOMMUInfo(iommuInfoBuf(ranges, 65535))
	if err != nil {
		t.Fatal(err)
	}
	if info.PageSizes != 0x40201000 || info.MinPageSize() != 4096 {
		t.Errorf("page sizes %#x min %d", info.PageSizes, info.MinPageSize())
	}
	if !reflect.DeepEqual(info.Ranges, ranges) {
		t.Errorf("ranges %v, want %v", info.Ranges, ranges)
	}
	if info.DMAAvail != 65535 {
		t.Errorf("DMA avail %d", info.DMAAvail)
	}

	// A capability pointing outside the buffer is an error, not a panic.
	bad := iommuInfoBuf(ranges, 1)
	binary.LittleEndian.PutUint32(bad[16:], uint32(len(bad)))
	if _, err := parseIOMMUInfo(bad); err == nil {
		t.Error("capability offset outside the buffer accepted")
	}
	bad = iommuInfoBuf(ranges, 1)
	binary.LittleEndian.PutUint32(bad[24+8:], 1000) // 1000 ranges
	if _, err := parseIOMMUInfo(bad); err == nil {
		t.Error("range count overrunning the buffer accepted")
	}
	// No capabilities: no ranges, DMA avail unknown.
	plain := iommuInfoBuf(nil, 0)[:24]
	binary.LittleEndian.PutUint32(plain[4:], iommuInfoPgsizes)
	info, err = parseIOMMUInfo(plain)
	if err != nil || info.Ranges != nil || info.DMAAvail != -1 {
		t.Errorf("plain info = %+v, %v", info, err)
	}
}

func FuzzParseIOMMUInfo(f *testing.F) {
	f.Add(iommuInfoBuf([]IOVARange{{0, 1 << 30}}, 10))
	f.Add(make([]byte, 24))
	f.Fuzz(func(t *testing.T, b []byte) { parseIOMMUInfo(b) })
}
