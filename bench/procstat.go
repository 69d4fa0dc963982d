package bench

import (
	"bytes"
	"os"
	"strconv"
)

// ParseProcStat reads the aggregate "cpu" line of /proc/stat: busy is every
// field but idle and iowait, total every field (USER_HZ ticks, all CPUs).
func ParseProcStat(b []byte) (busy, total uint64, ok bool) {
	line, _, _ := bytes.Cut(b, []byte{'\n'})
	fields := bytes.Fields(line)
	if len(fields) < 5 || string(fields[0]) != "cpu" {
		return 0, 0, false
	}
	// user nice system idle iowait irq softirq steal guest guest_nice;
	// guest and guest_nice are already included in user and nice.
	for i, f := range fields[1:] {
		if i >= 8 {
			break
		}
		v, err := strconv.ParseUint(string(f), 10, 64)
		if err != nil {
			return 0, 0, false
		}
		total += v
		if i != 3 && i != 4 {
			busy += v
		}
	}
	return busy, total, true
}

// CPUReader reads /proc/stat into a buffer it keeps, for query replies.
type CPUReader struct {
	f   *os.File
	buf []byte
}

// NewCPUReader opens /proc/stat.
func NewCPUReader() (*CPUReader, error) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return nil, err
	}
	return &CPUReader{f: f, buf: make([]byte, 4096)}, nil
}

// Read returns the busy and total ticks; zeros if /proc/stat cannot be read.
func (r *CPUReader) Read() (busy, total uint64) {
	n, _ := r.f.ReadAt(r.buf, 0)
	busy, total, _ = ParseProcStat(r.buf[:n])
	return busy, total
}

// Close closes /proc/stat.
func (r *CPUReader) Close() error { return r.f.Close() }
