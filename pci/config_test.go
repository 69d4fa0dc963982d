package pci

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// memConfig is a 256-byte configuration space in memory.
type memConfig [256]byte

func (m *memConfig) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > int64(len(m)) {
		return 0, io.EOF
	}
	return copy(p, m[off:]), nil
}

func (m *memConfig) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > int64(len(m)) {
		return 0, io.ErrShortWrite
	}
	return copy(m[off:], p), nil
}

func TestConfigCommand(t *testing.T) {
	var m memConfig
	binary.LittleEndian.PutUint16(m[CfgCommand:], CmdINTxDisable|CmdIO)
	c := NewConfig(&m)
	if err := c.EnableBusMaster(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		step string
		do   func() error
		want uint16
	}{
		{"EnableBusMaster", func() error { return nil }, CmdINTxDisable | CmdIO | CmdMemory | CmdMaster},
		{"SetINTxDisabled(false)", func() error { return c.SetINTxDisabled(false) }, CmdIO | CmdMemory | CmdMaster},
		{"SetINTxDisabled(true)", func() error { return c.SetINTxDisabled(true) }, CmdINTxDisable | CmdIO | CmdMemory | CmdMaster},
		{"DisableBusMaster", c.DisableBusMaster, CmdINTxDisable | CmdIO | CmdMemory},
	} {
		if err := tc.do(); err != nil {
			t.Fatalf("%s: %v", tc.step, err)
		}
		if got := binary.LittleEndian.Uint16(m[CfgCommand:]); got != tc.want {
			t.Errorf("%s: command = %#04x, want %#04x", tc.step, got, tc.want)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read32(254); err == nil {
		t.Error("read past the end succeeded")
	}
}

func TestFindCapability(t *testing.T) {
	var m memConfig
	binary.LittleEndian.PutUint16(m[CfgStatus:], StatusCapList)
	m[CfgCapPtr] = 0xc8
	m[0xc8], m[0xc9] = CapPM, 0xd0
	m[0xd0], m[0xd1] = CapMSI, 0xe0
	m[0xe0], m[0xe1] = CapMSIX, 0x00
	c := NewConfig(&m)
	for _, tc := range []struct {
		id   uint8
		want int
	}{{CapPM, 0xc8}, {CapMSI, 0xd0}, {CapMSIX, 0xe0}, {CapExp, -1}} {
		off, err := c.FindCapability(tc.id)
		if tc.want < 0 {
			if !errors.Is(err, ErrNoCapability) {
				t.Errorf("cap %#x: %d, %v; want ErrNoCapability", tc.id, off, err)
			}
			continue
		}
		if err != nil || off != tc.want {
			t.Errorf("cap %#x at %#x, %v; want %#x", tc.id, off, err, tc.want)
		}
	}
	m[0xe1] = 0xc8 // a loop must end
	if _, err := c.FindCapability(CapExp); !errors.Is(err, ErrNoCapability) {
		t.Errorf("looping list: %v", err)
	}
}

func TestOpenConfigSysfs(t *testing.T) {
	s := fakeSysfs(t, nil, labDevs)
	a := MustParseAddr("0000:00:03.0")
	p := filepath.Join(s.DevicePath(a), "config")
	raw := make([]byte, 64)
	binary.LittleEndian.PutUint16(raw[0:], 0x8086)
	binary.LittleEndian.PutUint16(raw[2:], 0x100e)
	if err := os.WriteFile(p, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := s.OpenConfig(a)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := c.Read32(CfgVendorID); err != nil || v != 0x100e8086 {
		t.Errorf("Read32(0) = %#x, %v", v, err)
	}
	if err := c.EnableBusMaster(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	b, _ := os.ReadFile(p)
	if got := binary.LittleEndian.Uint16(b[CfgCommand:]); got != CmdMemory|CmdMaster {
		t.Errorf("command in file = %#x", got)
	}
}
