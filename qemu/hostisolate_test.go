package qemu

import "testing"

func TestCPUListWithout(t *testing.T) {
	for _, c := range []struct {
		in   string
		cpu  int
		want string
	}{
		{"0-1", 0, "1"},
		{"0-3", 2, "0,1,3"},
		{"0,2-3", 0, "2,3"},
		{"1", 0, "1"},
		{"0", 0, ""},
		{"0-1", -1, "0,1"},
		{"x", 0, ""},
		{"3-1", 0, ""},
	} {
		if got := cpuListWithout(c.in, c.cpu); got != c.want {
			t.Errorf("cpuListWithout(%q, %d) = %q, want %q", c.in, c.cpu, got, c.want)
		}
	}
}

func TestHexMaskWithout(t *testing.T) {
	for _, c := range []struct {
		in   string
		cpu  int
		want string
		ok   bool
	}{
		{"3", 0, "2", true},
		{"3", 1, "1", true},
		{"1", 0, "", false},
		{"ff,00000001", 0, "ff,0", true},
		{"ff,00000001", 32, "fe,00000001", true},
		{"zz", 0, "", false},
		{"3", 64, "", false},
	} {
		got, ok := hexMaskWithout(c.in, c.cpu)
		if got != c.want || ok != c.ok {
			t.Errorf("hexMaskWithout(%q, %d) = %q %v, want %q %v", c.in, c.cpu, got, ok, c.want, c.ok)
		}
	}
}

func TestStatStartTicks(t *testing.T) {
	// A command name with spaces and a ')' of its own.
	line := "4242 (a b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 5 6 0 0 20 0 1 0 987654 12345 67 18446744073709551615"
	got, err := statStartTicks(line)
	if err != nil || got != 987654 {
		t.Fatalf("statStartTicks = %d, %v; want 987654", got, err)
	}
	if _, err := statStartTicks("4242 (x) S 1"); err == nil {
		t.Fatal("short stat line accepted")
	}
}
