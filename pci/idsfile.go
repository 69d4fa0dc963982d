package pci

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
)

// Names come from the system's pci.ids, as lspci's do, when the file exists:
// it names every device a user may point uiodrv at, where the built-in table
// (ids.go) knows only what the lab emulates. The built-in table stays the
// fallback: the lab's initramfs and minimal hosts have no pci.ids.

// IDsEnv names a pci.ids file to use instead of the system's (lspci -i);
// "none" turns the file off so only the built-in table answers.
const IDsEnv = "UIODRV_PCI_IDS"

// IDsPaths are where Debian (pci.ids package), Fedora (hwdata) and older
// distributions install pci.ids; the first that exists is read.
var IDsPaths = []string{"/usr/share/misc/pci.ids", "/usr/share/hwdata/pci.ids", "/usr/share/pci.ids"}

// IDs is a parsed pci.ids database: vendor, device and class names.
type IDs struct {
	vendors map[uint16]string
	devices map[vendorDevice]string
	classes map[uint16]string // by class<<8 | subclass
	bare    map[uint8]string  // by class, for subclasses the file does not list
}

// ParseIDs reads the pci.ids format: "vvvv  name" vendor lines, tab-indented
// "dddd  name" device lines, doubly indented subsystem lines (skipped), and a
// "C cc  name" class section with tab-indented "ss  name" subclasses.
func ParseIDs(r io.Reader) (*IDs, error) {
	db := &IDs{
		vendors: make(map[uint16]string),
		devices: make(map[vendorDevice]string),
		classes: make(map[uint16]string),
		bare:    make(map[uint8]string),
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<16)
	var vendor, class int = -1, -1
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || line[0] == '#' || strings.HasPrefix(line, "\t\t") {
			continue
		}
		indented := line[0] == '\t'
		id, name, ok := strings.Cut(strings.TrimPrefix(line, "\t"), "  ")
		if !indented && strings.HasPrefix(line, "C ") {
			id, name, ok = strings.Cut(line[2:], "  ")
			c, err := strconv.ParseUint(id, 16, 8)
			if !ok || err != nil {
				return nil, fmt.Errorf("pci.ids line %d: bad class line %q", n, line)
			}
			class, vendor = int(c), -1
			db.bare[uint8(c)] = name
			continue
		}
		if !ok {
			return nil, fmt.Errorf("pci.ids line %d: no name in %q", n, line)
		}
		switch {
		case !indented && len(id) == 4:
			v, err := strconv.ParseUint(id, 16, 16)
			if err != nil {
				// Not a vendor: a table this parser does not use.
				vendor, class = -1, -1
				continue
			}
			vendor, class = int(v), -1
			db.vendors[uint16(v)] = name
		case indented && vendor >= 0 && len(id) == 4:
			d, err := strconv.ParseUint(id, 16, 16)
			if err != nil {
				return nil, fmt.Errorf("pci.ids line %d: bad device ID %q", n, id)
			}
			db.devices[vendorDevice{uint16(vendor), uint16(d)}] = name
		case indented && class >= 0 && len(id) == 2:
			s, err := strconv.ParseUint(id, 16, 8)
			if err != nil {
				return nil, fmt.Errorf("pci.ids line %d: bad subclass %q", n, id)
			}
			db.classes[uint16(class)<<8|uint16(s)] = name
		default:
			vendor, class = -1, -1 // a section this parser does not use
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("pci.ids: %w", err)
	}
	return db, nil
}

// Vendor returns the vendor's name, or "".
func (db *IDs) Vendor(v uint16) string { return db.vendors[v] }

// Device returns the device's name, or "".
func (db *IDs) Device(v, d uint16) string { return db.devices[vendorDevice{v, d}] }

// Class returns the name of a 24-bit class code's subclass, or of its class
// when the subclass is not listed, or "".
func (db *IDs) Class(class uint32) string {
	if n := db.classes[uint16(class>>8)]; n != "" {
		return n
	}
	return db.bare[uint8(class>>16)]
}

var idsCache struct {
	sync.Mutex
	path string
	db   *IDs
}

// systemIDs returns the pci.ids database named by IDsEnv or found at
// IDsPaths, or nil when there is none or it cannot be read: names are a
// convenience, so a broken file falls back to the built-in table instead of
// failing a command.
func systemIDs() *IDs {
	path := os.Getenv(IDsEnv)
	if path == "none" {
		return nil
	}
	if path == "" {
		for _, p := range IDsPaths {
			if _, err := os.Stat(p); err == nil {
				path = p
				break
			}
		}
		if path == "" {
			return nil
		}
	}
	idsCache.Lock()
	defer idsCache.Unlock()
	if idsCache.path == path {
		return idsCache.db
	}
	db, err := loadIDs(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(os.Stderr, "uiodrv: %v (using built-in names)\n", err)
	}
	idsCache.path, idsCache.db = path, db
	return db
}

func loadIDs(path string) (*IDs, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	db, err := ParseIDs(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return db, nil
}
