package main

import (
	"bufio"
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/uiodrv/uiodrv/internal/safefile"
)

// TestRefusedInputs walks docs/refused-inputs.md: each row's command line
// runs on the fuzz world's fake machine, must exit with its table's status,
// say the quoted text, and touch nothing (no open, no sysfs write, no
// capture file, no boot, no probe). The capture file is made by the real
// openPcap here, so its refusals are the real ones; only a file it made
// would count as touched.
func TestRefusedInputs(t *testing.T) {
	fh, err := os.Open("../../docs/refused-inputs.md")
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	code, rows := -1, 0
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## Usage errors (exit 2)"):
			code = exitUsage
		case strings.HasPrefix(line, "## Refused by the machine (exit 1)"):
			code = exitFailure
		case strings.HasPrefix(line, "| `uiodrv"):
			cells := strings.Split(strings.Trim(line, "| "), " | ")
			if len(cells) != 2 || code < 0 {
				t.Fatalf("malformed row: %s", line)
			}
			cmd := strings.TrimSuffix(strings.TrimPrefix(cells[0], "`uiodrv"), "`")
			want := strings.TrimSpace(cells[1])
			rows++
			t.Run(strings.TrimSpace(cmd), func(t *testing.T) {
				w := newFuzzWorld(t)
				createPcap = func(path string, overwrite bool) (*safefile.File, error) {
					f, err := openPcap(path, overwrite)
					if err == nil {
						w.touch("pcap made " + path)
					}
					return f, err
				}
				args := w.confine(strings.Fields(cmd))
				var o, e bytes.Buffer
				got := cliMain(args, &o, &e)
				if got != code || !strings.Contains(e.String(), want) || len(w.touched) > 0 {
					t.Errorf("uiodrv %s: exit %d, touched %v, stderr:\n%s\nwant exit %d, nothing touched and %q", cmd, got, w.touched, e.String(), code, want)
				}
			})
		}
	}
	if rows < 30 {
		t.Errorf("only %d rows read from docs/refused-inputs.md", rows)
	}
}
