package main

import (
	"fmt"
	"strings"

	"github.com/uiodrv/uiodrv/deferral"
	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/qemu"
)

// labNIC is an emulated NIC model the lab boots that a registered family
// drives.
type labNIC struct {
	qemu  qemu.NICModel
	found nicModel
}

// labNICs lists the lab's NIC models a registered family drives, in
// qemu.NICModels order; the lab offers no other.
func labNICs() []labNIC {
	var ns []labNIC
	for _, q := range qemu.NICModels {
		v, d, ok := q.PCIID()
		if !ok {
			continue
		}
		if m, err := lookupNIC(v, d); err == nil {
			ns = append(ns, labNIC{qemu: q, found: m})
		}
	}
	return ns
}

// labNICNames says which --nic values the lab takes, e.g. "a (M1) or b (M2)".
func labNICNames() string {
	var names []string
	for _, n := range labNICs() {
		names = append(names, fmt.Sprintf("%s (%s)", n.qemu, n.found))
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// checkLabNIC refuses a --nic the lab cannot boot or no family drives, and
// a --backend/--mode the model's family refuses, before anything boots.
func checkLabNIC(nic string, backend driver.Backend, mode deferral.Mode) error {
	for _, n := range labNICs() {
		if string(n.qemu) != nic {
			continue
		}
		o := driver.OpenOptions{Backend: backend, Poll: mode == deferral.ModeBusyPoll}
		if err := driver.CheckOptions(n.found.Family, n.found.Model, o); err != nil {
			return usagef("--nic %s --backend %v --mode %v: %v", nic, backend, mode, err)
		}
		return nil
	}
	return usagef("--nic %q: want %s", nic, labNICNames())
}

// labNICList is the --nic values, "a|b|c".
func labNICList() string {
	var names []string
	for _, n := range labNICs() {
		names = append(names, string(n.qemu))
	}
	return strings.Join(names, "|")
}
