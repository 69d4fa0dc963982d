package pci

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseIDs(t *testing.T) {
	f, err := os.Open("testdata/pci.ids")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	db, err := ParseIDs(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ got, want string }{
		{db.Vendor(0x8086), "Intel Corporation"},
		{db.Vendor(0xffff), "Illegal Vendor ID"},
		{db.Vendor(0x1234), ""},
		{db.Device(0x8086, 0x100e), "82540EM Gigabit Ethernet Controller"},
		{db.Device(0x8086, 0x1521), "I350 Gigabit Network Connection"},
		// A subsystem line (two tabs) is not a device of its own.
		{db.Device(0x8086, 0x8086), ""},
		{db.Device(0xffff, 0x100e), ""},
		{db.Class(0x020000), "Ethernet controller"},
		{db.Class(0x010601), "SATA controller"},
		// A subclass the file does not list falls back to its class.
		{db.Class(0x028000), "Network controller"},
		{db.Class(0x120000), "Processing accelerators"},
		{db.Class(0x030000), ""},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestParseIDsRejectsGarbage(t *testing.T) {
	for _, in := range []string{
		"8086  Intel\n\tzzzz  bad device\n",
		"C xx  bad class\n",
		"8086  Intel\n\t100e\n",
	} {
		if _, err := ParseIDs(strings.NewReader(in)); err == nil {
			t.Errorf("ParseIDs(%q) accepted it", in)
		}
	}
}

// The names the CLI prints come from pci.ids when there is one, from the
// built-in table when there is none, and from the table for what the file
// does not know.
func TestNamesPreferPCIIDs(t *testing.T) {
	t.Setenv(IDsEnv, "testdata/pci.ids")
	if got := DeviceName(0x8086, 0x100e); got != "82540EM Gigabit Ethernet Controller" {
		t.Errorf("with pci.ids: %q", got)
	}
	if got := DeviceName(0x8086, 0x10d3); got != deviceNames[vendorDevice{0x8086, 0x10d3}] {
		t.Errorf("device missing from pci.ids: %q, want the built-in name", got)
	}
	if got := ClassName(0x020000); got != "Ethernet controller" {
		t.Errorf("class: %q", got)
	}
	t.Setenv(IDsEnv, "none")
	if got := DeviceName(0x8086, 0x100e); got != "82540EM Gigabit Ethernet Controller (e1000)" {
		t.Errorf("without pci.ids: %q", got)
	}
	// A file that does not parse must not fail a command: built-in names.
	bad := filepath.Join(t.TempDir(), "pci.ids")
	if err := os.WriteFile(bad, []byte("C zz  broken\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(IDsEnv, bad)
	if got := VendorName(0x8086); got != "Intel Corporation" {
		t.Errorf("broken pci.ids: %q", got)
	}
}

// The system's own pci.ids, when installed, parses and names QEMU's NICs.
func TestSystemPCIIDs(t *testing.T) {
	t.Setenv(IDsEnv, "")
	db := systemIDs()
	if db == nil {
		t.Skip("no pci.ids installed (apt install pci.ids)")
	}
	for _, id := range []uint16{0x100e, 0x10d3, 0x10c9, 0x1521, 0x1533} {
		if db.Device(VendorIntel, id) == "" {
			t.Errorf("system pci.ids does not name 8086:%04x", id)
		}
	}
}
