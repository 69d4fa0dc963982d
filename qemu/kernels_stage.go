package qemu

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// downloadKernelPackages downloads pkgs through the private apt setup,
// unpacks them into one tree and lays it out as openKernel reads it; root
// is replaced only once all of that worked.
func downloadKernelPackages(apt suiteApt, root string, pkgs []string) error {
	if err := EnsurePackages(map[string]string{"dpkg-deb": "dpkg", "apt-get": "apt"}); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(root), "download-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command("apt-get", append(append(apt.args(), "download"), pkgs...)...)
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("apt-get download %s (%s): %w: %s", strings.Join(pkgs, " "), apt.suite, err, tail(string(out), 500))
	}
	debs, _ := filepath.Glob(filepath.Join(tmp, "*.deb"))
	if len(debs) != len(pkgs) {
		return fmt.Errorf("apt-get download %s: expected %d .deb files, found %v", strings.Join(pkgs, " "), len(pkgs), debs)
	}
	unpack := filepath.Join(tmp, "root")
	var names []string
	for _, d := range debs {
		if out, err := exec.Command("dpkg-deb", "-x", d, unpack).CombinedOutput(); err != nil {
			return fmt.Errorf("dpkg-deb -x %s: %w: %s", d, err, out)
		}
		names = append(names, filepath.Base(d))
		os.Remove(d) // the modules' .deb alone is ~110 MB
	}
	if err := layoutKernelTree(unpack); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(unpack, ".staged"), []byte(strings.Join(names, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	_ = os.RemoveAll(root)
	if err := os.Rename(unpack, root); err != nil {
		return fmt.Errorf("stage kernel: %w", err)
	}
	return nil
}

// layoutKernelTree gives an unpacked kernel the layout openKernel and
// Kernel.Config read: boot/vmlinuz-VER, boot/config-VER and
// lib/modules/VER. Debian's 6.1 packages have it already; later ones put
// the modules under usr/lib/modules, and from 7.x the image and config
// too (usr/lib/modules/VER/vmlinuz and config): those are moved.
func layoutKernelTree(root string) error {
	usrMods := filepath.Join(root, "usr", "lib", "modules")
	vers, _ := os.ReadDir(usrMods)
	for _, v := range vers {
		if !v.IsDir() {
			continue
		}
		ver := v.Name()
		src := filepath.Join(usrMods, ver)
		for from, to := range map[string]string{"vmlinuz": "vmlinuz-", "config": "config-", "System.map": "System.map-"} {
			p := filepath.Join(src, from)
			if _, err := os.Lstat(p); err != nil {
				continue
			}
			if err := os.MkdirAll(filepath.Join(root, "boot"), 0o755); err != nil {
				return err
			}
			if err := os.Rename(p, filepath.Join(root, "boot", to+ver)); err != nil {
				return fmt.Errorf("lay out kernel tree: %w", err)
			}
		}
		dst := filepath.Join(root, "lib", "modules", ver)
		if _, err := os.Lstat(dst); err == nil {
			return fmt.Errorf("lay out kernel tree: both %s and %s exist", src, dst)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.Rename(src, dst); err != nil {
			return fmt.Errorf("lay out kernel tree: %w", err)
		}
	}
	images, _ := filepath.Glob(filepath.Join(root, "boot", "vmlinuz-*"))
	if len(images) != 1 {
		return errors.New("lay out kernel tree: expected one kernel image (boot/vmlinuz-* or usr/lib/modules/*/vmlinuz), found " + fmt.Sprint(images))
	}
	return nil
}
