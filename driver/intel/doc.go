// Package intel is the register vocabulary the Intel gigabit families share:
// the offsets and bits that are the same on the 8254x and 82574 (package
// e1000) and on the 82576, I350 and I210 (package igb), named after Linux's
// e1000_hw.h and e1000_regs.h without the E1000_ prefix. What differs
// between the families (per-queue ring registers, interrupt vector routing,
// the cause bits) stays in each family's regs.go.
package intel
