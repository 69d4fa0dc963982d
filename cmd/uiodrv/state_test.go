package main

import (
	"path/filepath"

	"github.com/uiodrv/uiodrv/bus"
)

// statePath is where bind records a's previous driver under dir.
func statePath(dir string, a bus.Addr) string { return filepath.Join(dir, a.String()+".driver") }
