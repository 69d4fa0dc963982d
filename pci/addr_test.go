package pci

import (
	"errors"
	"strings"
	"testing"
)

func TestParseAddr(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Addr
		ok   bool
	}{
		{"0000:00:03.0", Addr{0, 0, 3, 0}, true},
		{"00:03.0", Addr{0, 0, 3, 0}, true},
		{"abcd:ef:1f.7", Addr{0xabcd, 0xef, 0x1f, 7}, true},
		{"ABCD:EF:1F.7", Addr{0xabcd, 0xef, 0x1f, 7}, true},
		{"0001:02:00.1", Addr{1, 2, 0, 1}, true},
		{"", Addr{}, false},
		{"00:03", Addr{}, false},
		{"0:03.0", Addr{}, false},
		{"000:00:03.0", Addr{}, false},
		{"0000:00:20.0", Addr{}, false}, // device > 0x1f
		{"0000:00:03.8", Addr{}, false}, // function > 7
		{"0000:00:03.10", Addr{}, false},
		{"0000:0g:03.0", Addr{}, false},
		{"x000:00:03.0", Addr{}, false},
		{"0000:00:03.0:1", Addr{}, false},
		{"0000:00:3.0", Addr{}, false},
		{"eth0", Addr{}, false},
	} {
		got, err := ParseAddr(tc.in)
		if tc.ok {
			if err != nil || got != tc.want {
				t.Errorf("ParseAddr(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
			continue
		}
		if !errors.Is(err, ErrBadAddress) {
			t.Errorf("ParseAddr(%q) err = %v, want ErrBadAddress", tc.in, err)
			continue
		}
		// The error shows the expected form and the input.
		if msg := err.Error(); !strings.Contains(msg, "0000:00:03.0") || !strings.Contains(msg, tc.in) {
			t.Errorf("ParseAddr(%q) error %q does not show the form and the input", tc.in, msg)
		}
	}
}

func TestAddrStringRoundTrip(t *testing.T) {
	for _, a := range []Addr{{0, 0, 3, 0}, {0xffff, 0xff, 0x1f, 7}, {0x10, 0x2, 0x1, 1}} {
		got, err := ParseAddr(a.String())
		if err != nil || got != a {
			t.Errorf("ParseAddr(%q) = %v, %v; want %v", a.String(), got, err, a)
		}
	}
	if s := (Addr{0, 0, 3, 0}).String(); s != "0000:00:03.0" {
		t.Errorf("String = %q", s)
	}
}

func FuzzParseAddr(f *testing.F) {
	for _, s := range []string{"0000:00:03.0", "00:03.0", "ffff:ff:1f.7", ":", "00:00.", "0000:00:00.0\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAddr(s)
		if err != nil {
			return
		}
		b, err := ParseAddr(a.String())
		if err != nil || a != b {
			t.Fatalf("round trip of %q: %v -> %q -> %v, %v", s, a, a.String(), b, err)
		}
	})
}
