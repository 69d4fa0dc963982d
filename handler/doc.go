// Package handler holds ready-made packet handlers for a uiodrv port: Count
// (frames per protocol, decoded with gopacket), Reflect (MACs swapped, sent
// back), ForwardAll (to the port's forward port), Capture (a pcap file) and
// Chain (several in order, each seeing the verdicts of the ones before).
//
// Contracts: Count, Reflect, ForwardAll and Chain allocate nothing per
// frame once warm; every handler may be called concurrently from several
// queues' bottom halves and never keeps a frame's Data past the call. Handlers that hold resources implement
// driver.Closer and are closed by the port. This is the only package of
// the framework that imports gopacket and pcapgo.
package handler
