package uio

import "context"

// The interrupt API is the same in uio and vfio (vfio/api_test.go checks the
// same interface), so a driver can hold either behind one interface.
var _ interface {
	Wait(context.Context) (uint64, error)
	Unmask() error
	Mask() error
	Fd() int
	Closed() bool
	Close() error
} = (*IRQ)(nil)
