// Package all links in every driver family uiodrv ships; each registers
// itself with driver.Register from its init function. A new family adds one
// import line here.
package all

import (
	_ "github.com/uiodrv/uiodrv/driver/e1000"  // 8254x, 82574L
	_ "github.com/uiodrv/uiodrv/driver/igb"    // 82576, I350, I210/I211
	_ "github.com/uiodrv/uiodrv/driver/virtio" // virtio-net (modern virtio-pci 1.x)
)
