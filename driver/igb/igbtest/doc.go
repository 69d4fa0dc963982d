// Package igbtest is a fake igb-family register file (the 82576 as QEMU's
// igb presents it) for unit tests of driver/igb: enough of the NIC to run
// the conformance kit against the driver without QEMU. It receives frames
// into the posted advanced descriptors of the queue that RSS picks (through
// driver.RSS over the programmed RSSRK/RETA), transmits what the TX rings
// hold, raises MSI-X vectors as eventfd events through IVAR, EIMS, EIAC and
// EIAM, and records violations of the driver's invariants as it runs: a
// tail outside its ring, a tail written before the queue's enable bit, a
// tail equal to the head, a queue enabled without a ring, RSS without UDP
// hashing, a vector routed outside the MSI-X table.
//
// It is a model table over the kit's shared parts: the register file
// (drivertest.RegFile: registers, write log, violations, resets) and DMA
// memory from drivertest.MemAllocator at fake device addresses. It is never
// evidence that the driver works on a NIC: that is the lab test.
package igbtest
