package osthread

import (
	"sync"
	"testing"

	"github.com/uiodrv/uiodrv/internal/unix"
)

// TestGoNeverMainThread: goroutines started while the main goroutine is
// blocked (as in a test, or a program waiting on its ports) run on threads
// other than the main thread, which the runtime could not end.
func TestGoNeverMainThread(t *testing.T) {
	pid := unix.Getpid()
	const n = 200
	var wg sync.WaitGroup
	var mu sync.Mutex
	onMain := 0
	for range n {
		wg.Add(1)
		Go(func() {
			defer wg.Done()
			if unix.Gettid() == pid {
				mu.Lock()
				onMain++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if onMain != 0 {
		t.Fatalf("%d of %d goroutines ran on the main thread (tid %d)", onMain, n, pid)
	}
}
