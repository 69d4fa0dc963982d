package main

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// failWriter fails every write, as a full disk does.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, syscall.ENOSPC }

// TestListWriteError: a list that cannot be written exits 1 and says why,
// instead of 0 with nothing (or half a table) written.
func TestListWriteError(t *testing.T) {
	var errOut strings.Builder
	code := cliMain([]string{"list", "--sysfs", t.TempDir()}, failWriter{}, &errOut)
	if code != exitFailure || !strings.Contains(errOut.String(), "uiodrv list: write the list: no space left on device") {
		t.Errorf("exit %d, stderr %q; want 1 naming the write error", code, errOut.String())
	}
}

// TestListPipeClosed: 'uiodrv list | head' where head has gone: the
// process ends by SIGPIPE (as ls does) and prints no error of its own. It
// runs this test binary as the CLI with stdout a pipe closed at the far end.
func TestListPipeClosed(t *testing.T) {
	if os.Getenv("UIODRV_LIST_CHILD") == "1" {
		os.Exit(cliMain([]string{"list", "--all"}, os.Stdout, os.Stderr))
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	cmd := exec.Command(os.Args[0], "-test.run", "^TestListPipeClosed$")
	cmd.Env = append(os.Environ(), "UIODRV_LIST_CHILD=1")
	cmd.Stdout = w
	var errOut strings.Builder
	cmd.Stderr = &errOut
	err = cmd.Run()
	w.Close()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("list into a closed pipe: %v, want death by SIGPIPE", err)
	}
	ws := ee.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGPIPE || errOut.Len() != 0 {
		t.Errorf("list into a closed pipe: %v, stderr %q; want killed by SIGPIPE, nothing printed", err, errOut.String())
	}
}
