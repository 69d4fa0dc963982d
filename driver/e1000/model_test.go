package e1000_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/uiodrv/uiodrv/driver/e1000"
)

func TestLookupModel(t *testing.T) {
	for _, tc := range []struct {
		vendor, device uint16
		want           e1000.Model
		name           string
	}{
		{0x8086, 0x100e, e1000.Model82540EM, "82540EM"},
		{0x8086, 0x100f, e1000.Model82545EM, "82545EM"},
		{0x8086, 0x100c, e1000.Model82544GC, "82544GC"},
		{0x8086, 0x10d3, e1000.Model82574L, "82574L"},
		{0x8086, 0x10d4, e1000.ModelUnknown, "unknown"}, // another 82574 ID we have not checked
		{0x8086, 0x1533, e1000.ModelUnknown, "unknown"}, // I210: igb, not e1000
		{0x10ec, 0x100e, e1000.ModelUnknown, "unknown"}, // right device ID, wrong vendor
	} {
		m, err := e1000.LookupModel(tc.vendor, tc.device)
		if m != tc.want || m.String() != tc.name {
			t.Errorf("LookupModel(%04x, %04x) = %v, want %v", tc.vendor, tc.device, m, tc.want)
		}
		if tc.want != e1000.ModelUnknown {
			if err != nil {
				t.Errorf("LookupModel(%04x, %04x): %v", tc.vendor, tc.device, err)
			}
			continue
		}
		if !errors.Is(err, e1000.ErrUnsupportedDevice) {
			t.Errorf("LookupModel(%04x, %04x) error %v does not wrap ErrUnsupportedDevice", tc.vendor, tc.device, err)
			continue
		}
		msg := err.Error()
		for _, want := range []string{
			strings.ToLower(strings.TrimSpace(hex4(tc.vendor) + ":" + hex4(tc.device))),
			"8086:100e 82540EM", "8086:10d3 82574L",
		} {
			if !strings.Contains(msg, want) {
				t.Errorf("error %q does not mention %q", msg, want)
			}
		}
	}
}

func hex4(v uint16) string {
	const h = "0123456789abcdef"
	return string([]byte{h[v>>12], h[v>>8&15], h[v>>4&15], h[v&15]})
}

func TestNewRefusesUnknownModel(t *testing.T) {
	dev, alloc := newFake(t, e1000.Model82540EM)
	if _, err := e1000.New(dev, alloc, mustPool(alloc), e1000.ModelUnknown, e1000.Options{}); !errors.Is(err, e1000.ErrUnsupportedDevice) {
		t.Fatalf("New(ModelUnknown) = %v, want ErrUnsupportedDevice", err)
	}
	if dev.Resets() != 1 {
		t.Fatal("New touched the device for an unknown model")
	}
}
