// Package virtiotest is a fake modern virtio-net device for unit tests and
// for the conformance kit: the common configuration, notification and device
// configuration blocks of virtio-pci on the kit's shared register file, and
// split virtqueues walked in the kit's fake DMA memory. Receive plays the
// device taking an avail RX chain and filling a used entry; Transmit walks
// the avail TX chains. It records what a device would refuse (a notification
// before DRIVER_OK, a queue set up while enabled, a TX header that is not
// zero, used entries the driver could not have posted) as violations.
//
// Unlike QEMU's virtio-net on one netdev, which receives into the first
// queue pair only, the fake spreads flows over the active pairs by the
// core's RSS hash, as a device with VIRTIO_NET_F_RSS would, so that every
// queue's RX path is exercised.
package virtiotest
