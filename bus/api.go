package bus

import (
	"github.com/uiodrv/uiodrv/driver"
)

// VFIOAPI returns the VFIO interface the bus was opened with (VFIOGroup or
// VFIOCdev); VFIOAuto for UIO or a closed bus.
func (bus *Bus) VFIOAPI() driver.VFIOAPI {
	if bus == nil || bus.vdev == nil {
		return driver.VFIOAuto
	}
	return driver.VFIOAPI(bus.vdev.API())
}
