package igb

// SetProbe turns off the PHY auto-negotiation restart and RXCSUM.PCSD under
// RSS, for the lab test that shows QEMU needs them.
func SetProbe(noAutoneg, noPCSD bool) { probe.noAutoneg, probe.noPCSD = noAutoneg, noPCSD }
