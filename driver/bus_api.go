package driver

import "github.com/uiodrv/uiodrv/vfio"

// VFIOAPI picks the VFIO interface of BackendVFIO (BusOptions.VFIOAPI):
// vfio.APIAuto (the zero value), vfio.APIGroup or vfio.APICdev. An alias, so
// that NIC families can pass it on without importing vfio.
type VFIOAPI = vfio.API

// VFIOAPI returns the VFIO interface the bus was opened with (vfio.APIGroup
// or vfio.APICdev); vfio.APIAuto for UIO or a closed bus.
func (bus *Bus) VFIOAPI() VFIOAPI {
	if bus == nil || bus.vdev == nil {
		return vfio.APIAuto
	}
	return bus.vdev.API()
}
