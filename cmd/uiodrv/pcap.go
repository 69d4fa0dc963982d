package main

import (
	"errors"
	"fmt"

	"github.com/uiodrv/uiodrv/internal/safefile"
)

// errPcapExists: --pcap names a file that exists and --pcap-overwrite is not given.
var errPcapExists = errors.New("pcap file exists")

// openPcap opens the capture file the safe way for a process that may run
// as root (internal/safefile): a new file is created exclusively, never
// through a symbolic link, mode 0600 (frames can hold anything). With
// --pcap-overwrite an existing regular file is not touched: frames go to a
// temporary file beside it, renamed over it once the device runs
// (prepared.commitPcap). Anything but a regular file with one name is
// refused, and the message says what it is.
func openPcap(path string, overwrite bool) (*safefile.File, error) {
	f, err := safefile.Create(path, overwrite)
	switch {
	case errors.Is(err, safefile.ErrExists):
		return nil, fmt.Errorf("%w: --pcap %s: it exists; pass --pcap-overwrite to replace it, or name a new file", errPcapExists, path)
	case errors.Is(err, safefile.ErrNotRegular):
		return nil, fmt.Errorf("--pcap: %w; want a regular file: name a new file", err)
	case err != nil:
		return nil, fmt.Errorf("--pcap: %w", err)
	}
	return f, nil
}
