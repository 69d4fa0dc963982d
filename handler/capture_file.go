package handler

import (
	"bufio"
	"fmt"
	"os"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"go.uber.org/zap"
)

// NewCaptureFile is NewCapture on a file the caller opened (the CLI opens it
// before the device, with O_NOFOLLOW, O_EXCL and mode 0600). It writes the
// pcap file header; the Capture owns f from then on and closes it, also when
// the header cannot be written.
func NewCaptureFile(f *os.File) (*Capture, error) {
	bw := bufio.NewWriterSize(f, 256<<10)
	w := pcapgo.NewWriter(bw)
	if err := w.WriteFileHeader(65536, layers.LinkTypeEthernet); err != nil {
		f.Close()
		return nil, fmt.Errorf("capture %s: %w", f.Name(), err)
	}
	// A Capture used outside a port never gets SetLogger: its first write
	// error must still be countable, not a nil logger's panic.
	return &Capture{f: f, path: f.Name(), bw: bw, w: w, log: zap.NewNop()}, nil
}
