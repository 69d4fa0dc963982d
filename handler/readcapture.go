package handler

import (
	"errors"
	"fmt"
	"io"

	"github.com/gopacket/gopacket/pcapgo"
)

// ReadCapture reads a pcap file such as Capture writes and calls each with
// every record's bytes, in order, until the end of the file. The slice is
// valid during the call only. It returns how many records it read, and an
// error for a file that is not pcap or ends inside a record.
func ReadCapture(r io.Reader, each func(frame []byte)) (int, error) {
	pr, err := pcapgo.NewReader(r)
	if err != nil {
		return 0, fmt.Errorf("read pcap: %w", err)
	}
	n := 0
	for {
		data, _, err := pr.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("read pcap record %d: %w", n+1, err)
		}
		n++
		each(data)
	}
}
