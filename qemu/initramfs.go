package qemu

import (
	"encoding/json"
	"fmt"
	"os"
	"path"

	"github.com/u-root/u-root/pkg/cpio"

	"github.com/uiodrv/uiodrv/qemu/internal/proto"
)

// initramfs is the content of the guest's root file system.
type initramfs struct {
	init    string // host path of PID 1
	config  proto.GuestConfig
	modules []ModuleFile
	files   []File
}

// write writes the initramfs as an uncompressed newc cpio archive (the kernel
// unpacks it without a decompressor, which is faster under TCG).
func (ir *initramfs) write(out string) error {
	f, err := os.Create(out)
	if err != nil {
		return fmt.Errorf("create initramfs: %w", err)
	}
	defer f.Close()
	var recs []cpio.Record
	for _, d := range []string{"proc", "sys", "dev", "tmp", "mnt", "bin", "lab"} {
		recs = append(recs, cpio.Directory(d, 0o755))
	}
	// The kernel opens /dev/console for PID 1's stdio before /init runs.
	recs = append(recs, cpio.CharDev("dev/console", 0o600, 5, 1))
	add := func(host, guest string, mode uint64) error {
		b, err := os.ReadFile(host)
		if err != nil {
			return fmt.Errorf("initramfs: %w", err)
		}
		recs = append(recs, cpio.StaticRecord(b, cpio.Info{Name: cpio.Normalize(guest), Mode: cpio.S_IFREG | mode}))
		return nil
	}
	if err := add(ir.init, "/init", 0o755); err != nil {
		return err
	}
	for _, m := range ir.modules {
		b, err := readModule(m.Host)
		if err != nil {
			return fmt.Errorf("initramfs: %w", err)
		}
		recs = append(recs, cpio.StaticRecord(b, cpio.Info{Name: cpio.Normalize(m.Guest), Mode: cpio.S_IFREG | 0o644}))
	}
	for _, fl := range ir.files {
		st, err := os.Stat(fl.Host)
		if err != nil {
			return fmt.Errorf("initramfs: %w", err)
		}
		if !path.IsAbs(fl.Guest) {
			return fmt.Errorf("initramfs: guest path %q is not absolute", fl.Guest)
		}
		if err := add(fl.Host, fl.Guest, uint64(st.Mode().Perm())); err != nil {
			return err
		}
	}
	cfg, err := json.Marshal(ir.config)
	if err != nil {
		return err
	}
	recs = append(recs, cpio.StaticFile(cpio.Normalize(proto.ConfigPath), string(cfg), 0o644))

	w := cpio.NewDedupWriter(cpio.Newc.Writer(f))
	if err := cpio.WriteRecordsAndDirs(w, recs); err != nil {
		return fmt.Errorf("write initramfs: %w", err)
	}
	if err := cpio.WriteTrailer(w); err != nil {
		return fmt.Errorf("write initramfs: %w", err)
	}
	return f.Close()
}
