package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"github.com/uiodrv/uiodrv/bus"
)

const listUsage = `Usage: uiodrv list [--all]

Lists the machine's network controllers (every PCI device with --all): address,
vendor and device, bound driver, kernel interface, IOMMU group, the VFIO
interfaces (--vfio-api) that can open it now (group, cdev, or both), and whether
uiodrv can drive it now, after 'uiodrv bind', or not at all. It reads sysfs only
and changes nothing; on a machine without PCI NICs it says so.

Examples:
  uiodrv list
  uiodrv list --all

Flags:
`

func cmdList(e *env, args []string) int {
	var all bool
	var root string
	fs := pflag.NewFlagSet("list", pflag.ContinueOnError)
	fs.BoolVar(&all, "all", false, "list every PCI device, not only network controllers")
	fs.StringVar(&root, "sysfs", sysfsRoot, "sysfs mount point")
	_ = fs.MarkHidden("sysfs")
	if st, done := parseFlags(e, fs, "list", listUsage, args); done {
		return st
	}
	// A list that could not be written (a full disk, a closed file) must not
	// exit 0 as if it had been. A pipe whose reader has gone (uiodrv list |
	// head) ends the process with SIGPIPE before that, as it does ls: list
	// holds nothing that would need releasing.
	if err := writeList(e, bus.Sysfs{Root: root}, all); err != nil {
		return report(e.stderr, "list", fmt.Errorf("write the list: %w", err))
	}
	return exitOK
}

// errWriter keeps the first write error, and writes nothing after it.
type errWriter struct {
	w   io.Writer
	err error
}

func (w *errWriter) Write(b []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	n, err := w.w.Write(b)
	w.err = err
	return n, err
}

// writeList prints the table; what it cannot read it says. It returns the
// first error writing it.
func writeList(e *env, s bus.Sysfs, all bool) error {
	out := &errWriter{w: e.stdout}
	devs, err := s.List()
	if err != nil {
		fmt.Fprintf(out, "No PCI devices found (%v).\n", err)
		return out.err
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ADDRESS\tDEVICE\tDRIVER\tIF\tIOMMU\tVFIO-API\tUIODRV")
	n, drivable := 0, 0
	for _, d := range devs {
		if !all && !bus.IsNetwork(d.Class) {
			continue
		}
		n++
		drv := d.Driver
		if drv == "" {
			drv = "-"
		}
		grp := "-"
		if d.IOMMUGroup >= 0 {
			grp = fmt.Sprint(d.IOMMUGroup)
		}
		ifs := strings.Join(interfaces(s, d.Addr), ",")
		if ifs == "" {
			ifs = "-"
		}
		if _, err := lookupNIC(d.Vendor, d.DeviceID); err == nil {
			drivable++
		}
		fmt.Fprintf(tw, "%s\t%s %s [%04x:%04x]\t%s\t%s\t%s\t%s\t%s\n", d.Addr, d.VendorName(), d.DeviceName(),
			d.Vendor, d.DeviceID, drv, ifs, grp, vfioAPIs(s, d), usability(s, d))
	}
	tw.Flush()
	if drivable == 0 {
		fmt.Fprintln(out, "No NIC here is one uiodrv drives ("+familyNames()+"): try it on an emulated one with uiodrv lab (QEMU, no hardware needed).")
	}
	if n == 0 {
		if all {
			fmt.Fprintln(out, "No PCI devices found.")
		} else {
			fmt.Fprintln(out, "No network controllers found (uiodrv list --all shows every PCI device).")
		}
	}
	return out.err
}

// usability says whether uiodrv can drive d, and what it takes.
func usability(s bus.Sysfs, d *bus.Device) string {
	m, err := lookupNIC(d.Vendor, d.DeviceID)
	if err != nil {
		return "no: not a NIC uiodrv drives"
	}
	switch d.Driver {
	case "vfio-pci":
		if d.IOMMUGroup < 0 {
			return fmt.Sprintf("no: %v on vfio-pci without an IOMMU group", m)
		}
		return fmt.Sprintf("yes: %s, --backend vfio", describeNIC(m))
	case "uio_pci_generic":
		if uioPollOnly(m) {
			return fmt.Sprintf("yes: %s, --backend uio --mode busypoll only (its interrupts need vfio)", describeNIC(m))
		}
		return fmt.Sprintf("yes: %s, --backend uio", describeNIC(m))
	}
	after := fmt.Sprintf("after bind: %s, uio only: no IOMMU (uiodrv bind --dev %s --driver uio_pci_generic)", describeNIC(m), d.Addr)
	if d.IOMMUGroup >= 0 {
		after = fmt.Sprintf("after bind: %s (uiodrv bind --dev %s)", describeNIC(m), d.Addr)
	}
	if up := upInterfaces(s, d.Addr); len(up) > 0 {
		// bind refuses a NIC the machine may be using: say so first.
		return fmt.Sprintf("in use: %s is up (ip link set %s down first); %s", strings.Join(up, ","), up[0], after)
	}
	return after
}

// describeNIC names a model with what the run command can do with it.
func describeNIC(m nicModel) string {
	s := m.Model.Name
	if m.Model.MaxQueues > 1 {
		s += fmt.Sprintf(" (%s, --queues up to %d", m.Family.Name, m.Model.MaxQueues)
		if !m.Model.Verified {
			s += "; written from the datasheet, not verified on hardware"
		}
		s += ")"
	}
	return s
}

// interfaces returns the kernel network interfaces of a device (its net/ folder).
func interfaces(s bus.Sysfs, a bus.Addr) []string {
	// virtio-pci puts the interface one level down, under virtioN/net.
	dirs, _ := filepath.Glob(filepath.Join(s.DevicePath(a), "virtio*", "net"))
	var names []string
	for _, dir := range append([]string{filepath.Join(s.DevicePath(a), "net")}, dirs...) {
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			names = append(names, e.Name())
		}
	}
	return names
}
