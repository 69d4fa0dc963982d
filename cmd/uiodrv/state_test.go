package main

import (
	"path/filepath"

	"github.com/uiodrv/uiodrv/pci"
)

// statePath is where bind records a's previous driver under dir.
func statePath(dir string, a pci.Addr) string { return filepath.Join(dir, a.String()+".driver") }
