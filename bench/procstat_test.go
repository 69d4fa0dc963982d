package bench

import (
	"os"
	"testing"
)

// TestParseProcStatNoAlloc: a query reply reads /proc/stat in the guest's
// handler, so parsing it allocates nothing (nor does CPUReader.Read).
func TestParseProcStatNoAlloc(t *testing.T) {
	b := []byte("cpu  100 5 50 800 20 3 2 10 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n")
	if a := testing.AllocsPerRun(100, func() {
		if _, _, ok := ParseProcStat(b); !ok {
			panic("not parsed")
		}
	}); a != 0 {
		t.Fatalf("ParseProcStat allocates %v", a)
	}
	if _, err := os.Stat("/proc/stat"); err != nil {
		t.Skip("no /proc/stat")
	}
	r, err := NewCPUReader()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, total := r.Read(); total == 0 {
		t.Fatal("CPUReader read no ticks")
	}
	if a := testing.AllocsPerRun(100, func() { r.Read() }); a != 0 {
		t.Fatalf("CPUReader.Read allocates %v", a)
	}
}

func TestParseProcStatFields(t *testing.T) {
	for _, c := range []struct {
		in          string
		busy, total uint64
		ok          bool
	}{
		{"cpu 1 2 3 4\n", 6, 10, true},                // the oldest kernels: four fields
		{"cpu\t1 2 3 4 5 6 7 8 9 10\n", 27, 36, true}, // guest fields ignored
		{"cpu 1 2 3\n", 0, 0, false},
		{"cpu 1 2 3 18446744073709551616\n", 0, 0, false}, // overflow
		{"cpux 1 2 3 4\n", 0, 0, false},
		{"cpu 1 2 -3 4\n", 0, 0, false},
		{"  \n", 0, 0, false},
	} {
		b, tot, ok := ParseProcStat([]byte(c.in))
		if b != c.busy || tot != c.total || ok != c.ok {
			t.Errorf("%q: %d %d %v, want %d %d %v", c.in, b, tot, ok, c.busy, c.total, c.ok)
		}
	}
}

func TestParseIPInReceives(t *testing.T) {
	snmp := "Ip: Forwarding DefaultTTL InReceives InHdrErrors\nIp: 2 64 12345 0\nIcmp: InMsgs\nIcmp: 3\n"
	if n, ok := parseIPInReceives([]byte(snmp)); !ok || n != 12345 {
		t.Fatalf("InReceives %d %v", n, ok)
	}
	for _, bad := range []string{"", "Ip: Forwarding\nIp: 1\n", "Icmp: InMsgs\nIcmp: 3\n"} {
		if _, ok := parseIPInReceives([]byte(bad)); ok {
			t.Errorf("%q parsed", bad)
		}
	}
	if _, ok := IPInReceives(); !ok {
		t.Log("no /proc/net/snmp here")
	}
}
