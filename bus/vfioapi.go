package bus

import "github.com/uiodrv/uiodrv/vfio"

// The VFIO interface a device is opened with, for a front end that chooses
// it before Open (driver.VFIOAPI carries the same values into Options).
type (
	// API is group/container (APIGroup) or iommufd with the device cdev
	// (APICdev); APIAuto takes the cdev where both nodes exist.
	API = vfio.API
	// APIs says which interfaces can open a device now, and why not.
	APIs = vfio.APIs
	// VFIOOptions says where to look: the sysfs tree, /dev/vfio,
	// /dev/iommu, and the API asked for.
	VFIOOptions = vfio.Options
)

const (
	APIAuto  = vfio.APIAuto
	APIGroup = vfio.APIGroup
	APICdev  = vfio.APICdev
)

const (
	// DefaultVFIODir is the VFIO device folder (/dev/vfio).
	DefaultVFIODir = vfio.DefaultDevDir
	// DefaultIOMMUDev is iommufd's device node (/dev/iommu).
	DefaultIOMMUDev = vfio.DefaultIOMMUDev
)

// ParseAPI parses "auto", "group" or "cdev" (and their synonyms).
func ParseAPI(s string) (API, error) { return vfio.ParseAPI(s) }

// SelectAPI resolves opts.API for the device at bdf from sysfs and /dev,
// opening nothing, and says why it chose that API.
func SelectAPI(bdf string, opts *VFIOOptions) (API, string, error) {
	return vfio.SelectAPI(bdf, opts)
}

// AvailableAPIs says which VFIO interfaces can open the device at bdf now.
func AvailableAPIs(bdf string, opts *VFIOOptions) (APIs, error) { return vfio.Available(bdf, opts) }

// CdevName is the name of the device's VFIO cdev (vfioN) in sysfs.
func CdevName(s Sysfs, a Addr) (string, error) { return vfio.CdevName(s, a) }
