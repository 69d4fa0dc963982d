package qemu

import (
	"encoding/base64"
	"fmt"

	"github.com/uiodrv/uiodrv/internal/safefile"
	"github.com/uiodrv/uiodrv/qemu/internal/proto"
)

// fetch collects the pieces of a Config.Fetch file and writes it to its
// host path when the guest says it is complete. Only the control reader
// goroutine calls it.
func (vm *VM) fetch(m proto.Msg) {
	idx := -1
	for i, f := range vm.cfg.Fetch {
		if f.Guest == m.M {
			idx = i
			break
		}
	}
	if idx < 0 {
		vm.update(func() { vm.res.Log = append(vm.res.Log, "fetch: unrequested file "+m.M) })
		return
	}
	st := vm.fetching[m.M]
	if st == nil {
		st = &fetchState{}
		vm.fetching[m.M] = st
	}
	if m.K == proto.KindFile {
		b, err := base64.StdEncoding.DecodeString(m.D)
		if err != nil && st.err == "" {
			st.err = fmt.Sprintf("bad piece from the guest: %v", err)
		}
		st.data = append(st.data, b...)
		return
	}
	delete(vm.fetching, m.M)
	data, errText := st.data, m.Err
	if errText == "" {
		errText = st.err
	}
	if errText == "" {
		if err := writeHost(vm.cfg.Fetch[idx].Host, data); err != nil {
			errText = err.Error()
		}
	}
	vm.update(func() {
		f := &vm.res.Fetched[idx]
		f.Err = errText
		if errText == "" {
			f.Size = int64(len(data))
		}
	})
}

// writeHost writes a fetched file the safe way for a lab run as root
// (internal/safefile): never through a symbolic link, mode 0600, into a
// temporary file beside the target that replaces it only once complete;
// only a regular file with one name is replaced.
func writeHost(path string, data []byte) error {
	f, err := safefile.Create(path, true)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Abort()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := f.Commit(); err != nil {
		f.Abort()
		return err
	}
	return f.Close()
}

type fetchState struct {
	data []byte
	err  string
}
