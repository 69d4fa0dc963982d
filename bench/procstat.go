package bench

import (
	"bytes"
	"os"
)

// ParseProcStat reads the aggregate "cpu" line of /proc/stat: busy is every
// field but idle and iowait, total every field (USER_HZ ticks, all CPUs).
// It allocates nothing: a query reply calls it in the guest's packet
// handler (Server.CPU).
func ParseProcStat(b []byte) (busy, total uint64, ok bool) {
	line, _, _ := bytes.Cut(b, []byte{'\n'})
	name, rest, ok := nextField(line)
	if !ok || string(name) != "cpu" { // compared without a conversion
		return 0, 0, false
	}
	// user nice system idle iowait irq softirq steal guest guest_nice;
	// guest and guest_nice are already included in user and nice.
	n := 0
	for ; n < 8; n++ {
		var f []byte
		if f, rest, ok = nextField(rest); !ok {
			break
		}
		v, ok := parseUint(f)
		if !ok {
			return 0, 0, false
		}
		total += v
		if n != 3 && n != 4 {
			busy += v
		}
	}
	if n < 4 {
		return 0, 0, false
	}
	return busy, total, true
}

// nextField splits off the first space-separated field of b.
func nextField(b []byte) (field, rest []byte, ok bool) {
	b = bytes.TrimLeft(b, " \t")
	if len(b) == 0 {
		return nil, nil, false
	}
	i := bytes.IndexAny(b, " \t")
	if i < 0 {
		return b, nil, true
	}
	return b[:i], b[i:], true
}

// parseUint parses decimal digits (no sign) without overflow.
func parseUint(b []byte) (uint64, bool) {
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' || v > (^uint64(0)-9)/10 {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, len(b) > 0
}

// IPInReceives returns the IPv4 datagrams the kernel's stack has taken in
// (Ip InReceives of /proc/net/snmp, all interfaces); ok is false if it
// cannot be read. The kernel peer reports its delta: bench frames dropped
// before the IPv4 stack (PACKET_OTHERHOST, proto.go) leave it flat.
func IPInReceives() (n uint64, ok bool) {
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return 0, false
	}
	return parseIPInReceives(b)
}

func parseIPInReceives(b []byte) (uint64, bool) {
	var names [][]byte
	for line := range bytes.Lines(b) {
		f := bytes.Fields(line)
		if len(f) == 0 || string(f[0]) != "Ip:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		for i, name := range names {
			if string(name) == "InReceives" && i < len(f) {
				return parseUint(f[i])
			}
		}
		return 0, false
	}
	return 0, false
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
// It allocates nothing.
func (r *CPUReader) Read() (busy, total uint64) {
	n, _ := r.f.ReadAt(r.buf, 0)
	busy, total, _ = ParseProcStat(r.buf[:n])
	return busy, total
}

// Close closes /proc/stat.
func (r *CPUReader) Close() error { return r.f.Close() }
