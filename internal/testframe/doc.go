// Package testframe builds and checks the UDP/IPv4 test frames that the lab
// tests, the conformance kit, the CLI's lab traffic and the bench send: one
// wire format and one checker for all of them.
//
// A test frame is Ethernet, IPv4 without options and UDP, then a small tag
// and a payload pattern:
//
//	offset  size
//	0       6   destination MAC (not checked: a reflector swaps the MACs)
//	6       6   source MAC (not checked)
//	12      2   EtherType 0x0800
//	14      20  IPv4: 10.1.(flow>>8).(flow&255) > 10.2.0.1, UDP, DF, TTL 64,
//	            header checksum set
//	34      8   UDP: source port SrcPortBase+flow%SrcPorts, destination port Port,
//	            checksum set (RFC 768), so a changed seq or stamp is caught
//	42      2   magic "UT"
//	44      8   sequence number
//	52      8   stamp: free for the sender (a send time, say); 0 if unused
//	60      -   pattern: byte j is a function of j, the flow and the
//	            sequence number
//
// Each flow is a distinct 5-tuple (its source address and port both vary),
// something for receive-side scaling to spread over queues. Check verifies
// every byte from offset 12 against the frame Build makes from the frame's
// own flow, sequence number, stamp and length, so a flipped byte anywhere
// after the MACs is caught, and a frame carrying another frame's payload too.
//
// The header layer alone (PutHeaders, ParseHeaders) carries protocols that
// rewrite their payload in place (the bench's query replies): the same
// 5-tuples with UDP checksum 0, which IPv4 allows and Check never accepts.
//
// Build and Check allocate nothing, except Check's error for an altered frame.
package testframe
