package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/uiodrv/uiodrv/handler"

	"github.com/uiodrv/uiodrv/internal/safefile"

	"github.com/uiodrv/uiodrv/internal/testframe"
	"github.com/uiodrv/uiodrv/qemu"
)

// labGuestPcap is where the guest's uiodrv writes its capture (tmpfs).
const labGuestPcap = "/tmp/lab.pcap"

// checkPcapPath refuses a --pcap the host cannot create, before the boot.
func checkPcapPath(path string) error {
	if path == "" {
		return nil
	}
	// The capture replaces only a regular file (qemu's fetch writes it
	// through internal/safefile); say so before the boot.
	if st, err := os.Lstat(path); err == nil {
		if err := safefile.Replaceable(path, st); err != nil {
			return usagef("--pcap: %v; want a regular file: name a new file", err)
		}
	}
	dir := filepath.Dir(path)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return usagef("--pcap %s: folder %s does not exist", path, dir)
	}
	return nil
}

// pcapCheck is what a capture holds, checked against the frames sent.
type pcapCheck struct {
	frames  int // records in the file
	matched int // records equal, byte for byte, to a frame the host sent
	dup     int // sent frames recorded more than once
}

// checkPcap reads a capture and matches every record to the
// frame the host sent with that sequence number and timestamp.
func checkPcap(r io.Reader, tr *traffic) (pcapCheck, error) {
	var c pcapCheck
	seen := map[uint32]bool{}
	n, err := handler.ReadCapture(r, func(data []byte) {
		fr, ok, err := testframe.Check(data)
		seq := uint32(fr.Seq)
		if !ok || err != nil || fr != tr.spec(seq, fr.Stamp) || uint64(seq) >= tr.sent.Load() {
			return
		}
		if seen[seq] {
			c.dup++
			return
		}
		seen[seq] = true
		c.matched++
	})
	c.frames = n
	return c, err
}

// reportPcap checks the capture the lab copied back and says what it holds.
func reportPcap(res *qemu.Result, path string, tr *traffic, say func(string, ...any)) error {
	if len(res.Fetched) == 0 || res.Fetched[0].Err != "" {
		why := "not requested"
		if len(res.Fetched) > 0 {
			why = res.Fetched[0].Err
		}
		return fmt.Errorf("--pcap: the guest's capture did not reach %s: %s", path, why)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("--pcap: %w", err)
	}
	defer f.Close()
	c, err := checkPcap(f, tr)
	if err != nil {
		return fmt.Errorf("--pcap %s: %w", path, err)
	}
	say("capture: %s, %d bytes, %d frames; %d of the %d frames sent are in it byte for byte, %d recorded twice",
		path, res.Fetched[0].Size, c.frames, c.matched, tr.sent.Load(), c.dup)
	if c.matched == 0 {
		return fmt.Errorf("--pcap %s: none of the frames sent is in the capture", path)
	}
	return nil
}
