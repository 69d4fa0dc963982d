package e1000_test

import (
	"bytes"
	"testing"

	"github.com/uiodrv/uiodrv/driver/e1000"
	"github.com/uiodrv/uiodrv/driver/intel"
)

func TestRxDescCodec(t *testing.T) {
	for _, tc := range []struct {
		name string
		d    e1000.RxDesc
		raw  []byte
	}{
		{"zero", e1000.RxDesc{}, make([]byte, 16)},
		{"posted", e1000.RxDesc{Addr: 0x1_1234_5800},
			[]byte{0x00, 0x58, 0x34, 0x12, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
		{"written back", e1000.RxDesc{Addr: 0x1000, Length: 60, Csum: 0xBEEF,
			Status: e1000.RXD_STAT_DD | e1000.RXD_STAT_EOP, Errors: e1000.RXD_ERR_CE, Special: 0x0064},
			[]byte{0x00, 0x10, 0, 0, 0, 0, 0, 0, 60, 0, 0xEF, 0xBE, 0x03, 0x01, 0x64, 0x00}},
		{"all ones", e1000.RxDesc{Addr: ^uint64(0), Length: 0xFFFF, Csum: 0xFFFF, Status: 0xFF, Errors: 0xFF, Special: 0xFFFF},
			bytes.Repeat([]byte{0xFF}, 16)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := make([]byte, 16)
			tc.d.Encode(b)
			if !bytes.Equal(b, tc.raw) {
				t.Errorf("Encode = % x, want % x", b, tc.raw)
			}
			var got e1000.RxDesc
			got.Decode(tc.raw)
			if got != tc.d {
				t.Errorf("Decode = %+v, want %+v", got, tc.d)
			}
		})
	}
}

func TestTxDescCodec(t *testing.T) {
	for _, tc := range []struct {
		name string
		d    e1000.TxDesc
		raw  []byte
	}{
		{"zero", e1000.TxDesc{}, make([]byte, 16)},
		{"frame", e1000.TxDesc{Addr: 0x1_1234_0800, Length: 1514,
			Cmd: e1000.TXD_CMD_EOP | e1000.TXD_CMD_IFCS | e1000.TXD_CMD_RS},
			[]byte{0x00, 0x08, 0x34, 0x12, 0x01, 0, 0, 0, 0xEA, 0x05, 0, 0x0B, 0, 0, 0, 0}},
		{"done with checksum and vlan", e1000.TxDesc{Addr: 0x2000, Length: 60, CSO: 24, Cmd: e1000.TXD_CMD_IC | e1000.TXD_CMD_VLE,
			Status: e1000.TXD_STAT_DD, CSS: 14, Special: 0x1234},
			[]byte{0x00, 0x20, 0, 0, 0, 0, 0, 0, 60, 0, 24, 0x44, 0x01, 14, 0x34, 0x12}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := make([]byte, 16)
			tc.d.Encode(b)
			if !bytes.Equal(b, tc.raw) {
				t.Errorf("Encode = % x, want % x", b, tc.raw)
			}
			var got e1000.TxDesc
			got.Decode(tc.raw)
			if got != tc.d {
				t.Errorf("Decode = %+v, want %+v", got, tc.d)
			}
		})
	}
	// The reserved upper nibble of the status byte is ignored.
	raw := make([]byte, 16)
	raw[12] = 0xF1
	var d e1000.TxDesc
	d.Decode(raw)
	if d.Status != e1000.TXD_STAT_DD {
		t.Errorf("status with reserved bits decoded as %#x, want DD", d.Status)
	}
}

func TestRegisterOffsets(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  e1000.Reg
		want e1000.Reg
	}{
		{"RDBAL(0)", e1000.RDBAL(0), 0x02800}, {"RDT(0)", e1000.RDT(0), 0x02818}, {"RDT(1)", e1000.RDT(1), 0x02918},
		{"TDBAL(0)", e1000.TDBAL(0), 0x03800}, {"TDT(0)", e1000.TDT(0), 0x03818}, {"TARC(0)", e1000.TARC(0), 0x03840},
		{"MTA(127)", intel.MTA(127), 0x053FC}, {"RAL(1)", intel.RAL(1), 0x05408}, {"RAH(0)", intel.RAH(0), 0x05404},
		{"EITR(2)", e1000.EITR(2), 0x000F0}, {"IVAR", e1000.IVAR, 0x000E4},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %#05x, want %#05x", tc.name, tc.got, tc.want)
		}
	}
}

func TestCauseString(t *testing.T) {
	for _, tc := range []struct {
		c    e1000.Cause
		want string
	}{
		{0, "0"},
		{e1000.ICR_LSC, "LSC"},
		{e1000.ICR_RXT0 | e1000.ICR_TXDW, "TXDW|RXT0"},
		{e1000.ICR_OTHER | 1<<30, "OTHER|0x40000000"},
	} {
		if got := tc.c.String(); got != tc.want {
			t.Errorf("Cause(%#x).String() = %q, want %q", uint32(tc.c), got, tc.want)
		}
	}
}
