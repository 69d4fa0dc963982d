package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/internal/netif"
	"github.com/uiodrv/uiodrv/qemu/labtest"
)

// TestGuestSoakHelper is TestLabSoak's helper in the guest, a process apart
// from the driver. On SIGUSR1 it resets the NIC through sysfs (the kernel's
// pci_reset_function, as VFIO_DEVICE_RESET does, under the driver's feet);
// on SIGUSR2 it prints the driver's open fds (/proc), goroutines (its
// metrics endpoint) and threads; on SIGHUP the driver's goroutine stacks
// (its goroutine profile, one line per stack); on SIGTERM it ends.
func TestGuestSoakHelper(t *testing.T) {
	labtest.InGuest(t)
	bdf, metrics := os.Getenv("SOAK_BDF"), os.Getenv("SOAK_METRICS")
	dev := "/sys/bus/pci/devices/" + bdf
	if err := netif.Up("lo"); err != nil {
		t.Fatal(err)
	}
	sig := make(chan os.Signal, 8)
	signal.Notify(sig, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	method := readTrim(dev + "/reset_method")
	fmt.Printf("SOAK HELPER ready: %s reset_method %q\n", bdf, method)
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resets, probes, dumps := 0, 0, 0
	for s := range sig {
		switch s {
		case syscall.SIGUSR1:
			resets++
			began := time.Now()
			err := os.WriteFile(dev+"/reset", []byte("1"), 0)
			fmt.Printf("SOAK RESET %d: sysfs reset of %s (reset_method %q) took %v, error %v\n",
				resets, bdf, method, time.Since(began).Round(time.Millisecond), err)
		case syscall.SIGUSR2:
			probes++
			pid, fds, threads, kworkers, err := driverProc()
			m := map[string]float64{}
			if err == nil {
				m, err = scrape(client, "http://"+metrics+"/metrics")
			}
			fmt.Printf("SOAK PROBE %d: pid %d fds %d goroutines %.0f threads %d kworkers %d nic_rx_good %.0f error %v\n",
				probes, pid, fds, m["go_goroutines"], threads, kworkers, m["uiodrv_nic_rx_good_total"], err)
		case syscall.SIGHUP:
			dumps++
			st, err := fetchStacks(client, "http://"+metrics+"/debug/pprof/goroutine")
			for _, l := range st.lines() {
				fmt.Printf("SOAK STACK %d: %s\n", dumps, l)
			}
			fmt.Printf("SOAK STACKS %d: goroutines %d error %v\n", dumps, st.total(), err)
		default:
			fmt.Printf("SOAK HELPER done: %d resets, %d probes\n", resets, probes)
			return
		}
	}
}

func readTrim(p string) string {
	b, _ := os.ReadFile(p)
	return strings.TrimSpace(string(b))
}

// driverProc finds the driver (/bin/uiodrv, not this test binary) and
// counts its open fds, its threads, and among them the workqueue workers
// (deferral names them kworker/..., as the kernel does).
func driverProc() (pid, fds, threads, kworkers int, err error) {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		cmd, _ := os.ReadFile(d + "/cmdline")
		if !bytes.HasPrefix(cmd, []byte("/bin/uiodrv\x00")) {
			continue
		}
		pid, _ = strconv.Atoi(filepath.Base(d))
		ents, err := os.ReadDir(d + "/fd")
		if err != nil {
			return pid, 0, 0, 0, err
		}
		tasks, _ := filepath.Glob(d + "/task/[0-9]*")
		for _, task := range tasks {
			if strings.HasPrefix(readTrim(task+"/comm"), "kworker/") {
				kworkers++
			}
		}
		return pid, len(ents), len(tasks), kworkers, nil
	}
	return 0, 0, 0, 0, fmt.Errorf("no /bin/uiodrv process")
}

// scrape reads the driver's metrics (unlabelled and single-series ones).
func scrape(c *http.Client, url string) (map[string]float64, error) {
	m := map[string]float64{}
	resp, err := c.Get(url)
	if err != nil {
		return m, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "#") {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		if i < 0 {
			continue
		}
		name := l[:i]
		if j := strings.IndexByte(name, '{'); j >= 0 {
			name = name[:j]
		}
		if v, err := strconv.ParseFloat(l[i+1:], 64); err == nil {
			m[name] = v
		}
	}
	if _, ok := m["go_goroutines"]; !ok {
		return m, fmt.Errorf("%s: no go_goroutines (%v)", url, sc.Err())
	}
	return m, nil
}

// fetchStacks reads the driver's goroutine profile, folded by stack.
func fetchStacks(c *http.Client, url string) (goroutineStacks, error) {
	resp, err := c.Get(url + "?debug=1")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	return parseGoroutineProfile(string(b))
}
