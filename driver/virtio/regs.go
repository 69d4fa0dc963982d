package virtio

// Register layouts of a modern virtio-pci device (virtio 1.2, section 4.1.4
// "Virtio Structure PCI Capabilities"), named after Linux's
// include/uapi/linux/virtio_pci.h and virtio_net.h without the prefix.

// Vendor-specific PCI capability (virtio 1.2 4.1.4).
const (
	CapVendor = 0x09 // PCI_CAP_ID_VNDR

	// cfg_type of a virtio_pci_cap
	CapCommonCfg = 1 // VIRTIO_PCI_CAP_COMMON_CFG
	CapNotifyCfg = 2 // VIRTIO_PCI_CAP_NOTIFY_CFG
	CapISRCfg    = 3 // VIRTIO_PCI_CAP_ISR_CFG
	CapDeviceCfg = 4 // VIRTIO_PCI_CAP_DEVICE_CFG

	// offsets inside a virtio_pci_cap
	capCfgType             = 3  // u8
	capBAR                 = 4  // u8
	capOffset              = 8  // le32
	capLength              = 12 // le32
	capNotifyOffMultiplier = 16 // le32, notify capability only
)

// Common configuration structure (virtio 1.2 4.1.4.3), offsets and widths.
const (
	CommonDFSelect    = 0x00 // device_feature_select, le32 RW
	CommonDF          = 0x04 // device_feature, le32 RO
	CommonGFSelect    = 0x08 // driver_feature_select, le32 RW
	CommonGF          = 0x0C // driver_feature, le32 RW
	CommonMSIXConfig  = 0x10 // config_msix_vector, le16 RW
	CommonNumQueues   = 0x12 // num_queues, le16 RO
	CommonStatus      = 0x14 // device_status, u8 RW
	CommonCfgGen      = 0x15 // config_generation, u8 RO
	CommonQSelect     = 0x16 // queue_select, le16 RW
	CommonQSize       = 0x18 // queue_size, le16 RW
	CommonQMSIXVector = 0x1A // queue_msix_vector, le16 RW
	CommonQEnable     = 0x1C // queue_enable, le16 RW
	CommonQNotifyOff  = 0x1E // queue_notify_off, le16 RO
	CommonQDescLo     = 0x20 // queue_desc, le64 RW (two le32)
	CommonQDescHi     = 0x24
	CommonQAvailLo    = 0x28 // queue_driver, le64 RW
	CommonQAvailHi    = 0x2C
	CommonQUsedLo     = 0x30 // queue_device, le64 RW
	CommonQUsedHi     = 0x34
)

// Device status bits (virtio 1.2 2.1).
const (
	StatusAcknowledge = 1    // VIRTIO_CONFIG_S_ACKNOWLEDGE
	StatusDriver      = 2    // VIRTIO_CONFIG_S_DRIVER
	StatusDriverOK    = 4    // VIRTIO_CONFIG_S_DRIVER_OK
	StatusFeaturesOK  = 8    // VIRTIO_CONFIG_S_FEATURES_OK
	StatusNeedsReset  = 0x40 // VIRTIO_CONFIG_S_NEEDS_RESET
	StatusFailed      = 0x80 // VIRTIO_CONFIG_S_FAILED
)

// MSIXNoVector in a msix_vector field means no interrupt (VIRTIO_MSI_NO_VECTOR).
const MSIXNoVector = 0xFFFF

// Feature bits (virtio 1.2 5.1.3 and 6).
const (
	FNetMAC         = 5  // VIRTIO_NET_F_MAC: config space has the MAC
	FNetMrgRxBuf    = 15 // VIRTIO_NET_F_MRG_RXBUF (not negotiated)
	FNetStatus      = 16 // VIRTIO_NET_F_STATUS: config space has link status
	FNetCtrlVQ      = 17 // VIRTIO_NET_F_CTRL_VQ: control virtqueue
	FNetMQ          = 22 // VIRTIO_NET_F_MQ: several queue pairs
	FRingEventIdx   = 29 // VIRTIO_RING_F_EVENT_IDX (not negotiated)
	FVersion1       = 32 // VIRTIO_F_VERSION_1
	FAccessPlatform = 33 // VIRTIO_F_ACCESS_PLATFORM: DMA through the IOMMU
)

// Network device configuration (virtio 1.2 5.1.4).
const (
	NetCfgMAC        = 0 // mac[6]
	NetCfgStatus     = 6 // le16
	NetCfgMaxVQPairs = 8 // le16, with VIRTIO_NET_F_MQ

	NetSLinkUp = 1 // VIRTIO_NET_S_LINK_UP
)

// Control virtqueue (virtio 1.2 5.1.6.5).
const (
	CtrlClassMQ      = 4 // VIRTIO_NET_CTRL_MQ
	CtrlMQVQPairsSet = 0 // VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET
	CtrlOK           = 0 // VIRTIO_NET_OK
)

// NetHdrSize is struct virtio_net_hdr_v1's size: with VERSION_1 the header
// always has num_buffers (virtio 1.2 5.1.6).
const NetHdrSize = 12

// Split virtqueue layout (virtio 1.2 2.7).
const (
	DescSize      = 16 // struct virtq_desc: addr le64, len le32, flags le16, next le16
	DescFNext     = 1  // VIRTQ_DESC_F_NEXT
	DescFWrite    = 2  // VIRTQ_DESC_F_WRITE: device writes the buffer
	AvailFNoIntr  = 1  // VIRTQ_AVAIL_F_NO_INTERRUPT
	UsedFNoNotify = 1  // VIRTQ_USED_F_NO_NOTIFY
	UsedElemSize  = 8  // struct virtq_used_elem: id le32, len le32
)

// PCI IDs (virtio 1.2 4.1.2).
const (
	VendorRedHat    = 0x1af4
	DeviceNetModern = 0x1041 // 0x1040 + device type 1
	DeviceNetLegacy = 0x1000 // transitional or legacy network device
)
