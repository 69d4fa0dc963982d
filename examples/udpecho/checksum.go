package main

// checksum is the complement of the RFC 1071 sum of b (plus s): 0 for a
// header whose checksum field is right.
func checksum(s uint32, b []byte) uint16 {
	for ; len(b) >= 2; b = b[2:] {
		s += uint32(b[0])<<8 | uint32(b[1])
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

// udpChecksum is the checksum of udp with the IPv4 pseudo-header of ip.
func udpChecksum(ip, udp []byte) uint16 {
	s := uint32(17) + uint32(len(udp))
	s += uint32(^checksum(0, ip[12:20]))
	return checksum(s, udp)
}
