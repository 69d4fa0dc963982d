package uio

import (
	"encoding/binary"
	"fmt"
)

// /proc/self/pagemap holds one 64-bit entry per virtual 4 KiB page
// (Documentation/admin-guide/mm/pagemap.rst): bits 0-54 the page frame
// number, bit 63 "present". Without CAP_SYS_ADMIN the PFN reads as zero.
const (
	pagemapPath        = "/proc/self/pagemap"
	pagemapPFNMask     = 1<<55 - 1
	pagemapPresent     = 1 << 63
	pagemapEntryBytes  = 8
	pagemapPageSize    = 4096
	pagemapPageShift   = 12
	pagemapOffsetMask  = pagemapPageSize - 1
	pagemapSwappedFlag = 1 << 62
)

// parsePagemapEntry returns the physical address of the page an entry describes.
func parsePagemapEntry(e uint64) (uint64, error) {
	if e&pagemapPresent == 0 {
		if e&pagemapSwappedFlag != 0 {
			return 0, fmt.Errorf("%w: page swapped out (entry %#x)", ErrNoPhysAddr, e)
		}
		return 0, fmt.Errorf("%w: page not present (entry %#x)", ErrNoPhysAddr, e)
	}
	pfn := e & pagemapPFNMask
	if pfn == 0 {
		return 0, fmt.Errorf("%w: frame number reads as 0: run as root (CAP_SYS_ADMIN)", ErrNoPhysAddr)
	}
	return pfn << pagemapPageShift, nil
}

// virtToPhys translates a virtual address of this process through pagemap.
func virtToPhys(virt uintptr) (uint64, error) {
	fd, err := open(pagemapPath, 0)
	if err != nil {
		return 0, fmt.Errorf("uio: open %s: %w", pagemapPath, err)
	}
	defer closeFD(fd)
	var b [pagemapEntryBytes]byte
	off := int64(virt>>pagemapPageShift) * pagemapEntryBytes
	if n, err := pread(fd, b[:], off); err != nil || n != len(b) {
		return 0, fmt.Errorf("uio: read %s at %#x: %d bytes, %v", pagemapPath, off, n, err)
	}
	page, err := parsePagemapEntry(binary.NativeEndian.Uint64(b[:]))
	if err != nil {
		return 0, fmt.Errorf("uio: physical address of %#x: %w", virt, err)
	}
	return page | uint64(virt&pagemapOffsetMask), nil
}

// PhysAddr returns the physical address of mem[off], which must be resident
// (locked) memory of this process. It needs root.
func PhysAddr(mem []byte, off int) (uint64, error) {
	if off < 0 || off >= len(mem) {
		return 0, fmt.Errorf("uio: physical address: offset %d outside %d bytes", off, len(mem))
	}
	return virtToPhys(addrOf(mem) + uintptr(off))
}
