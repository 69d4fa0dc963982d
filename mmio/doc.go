// Package mmio is the one small type through which drivers touch device
// registers: Read32/Write32 plus SetBits, ClearBits and WaitBits.
//
// Memory-mapped registers are not memory: a read can have side effects
// (the e1000's ICR and statistics registers clear on read), and the compiler
// must neither merge, reorder nor elide accesses. BAR does every read as a
// 32-bit atomic load (a plain MOV on amd64) and every write as a plain 32-bit
// store through a volatile-like pointer. It never uses atomic.StoreUint32,
// which on amd64 compiles to XCHG: XCHG also *reads* the register and so
// clears read-to-clear registers (see shared/FACTS.md).
package mmio
