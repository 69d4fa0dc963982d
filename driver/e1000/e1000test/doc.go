// Package e1000test provides a fake e1000 device model for unit tests of the
// e1000 driver and of the code built on it, over the kit's shared parts: the
// register file (drivertest.RegFile: registers, write log, violations,
// resets) and DMA memory from drivertest.MemAllocator. It never touches
// hardware.
//
// Device implements mmio.Regs with the register behaviour the driver relies
// on: CTRL.RST self-clearing (and resetting the other registers), ICR clear
// on read (write 1 to clear on an 82574 in MSI-X mode), ICS setting ICR bits,
// IMS/IMC, statistics clear on read, RAL/RAH loaded with the MAC address,
// EERD reads of a small EEPROM, and STATUS link up. It also plays the NIC's
// side of the rings: Receive DMA-writes a frame into the next RX descriptor
// and Transmit consumes TX descriptors up to TDT, through the allocator's
// memory. Device checks the driver's invariants as it goes (RDT never equal
// to RDH, tails inside the ring) and reports violations from Violations.
//
// Device is safe for concurrent use, so tests may run the RX and TX
// paths in different goroutines under the race detector.
package e1000test
