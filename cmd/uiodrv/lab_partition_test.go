package main

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/uiodrv/uiodrv/driver"
	"github.com/uiodrv/uiodrv/internal/cpupart"
	"github.com/uiodrv/uiodrv/qemu"
	"github.com/uiodrv/uiodrv/qemu/labtest"
)

// docs/realtime.md's recipe for a deadline bottom half that stays on one
// CPU, run as written: uiodrv started inside a cgroup v2 cpuset partition of
// vCPU 1 on sid's PREEMPT_RT 7.x, where a deadline thread placed with @CPU
// alone migrated about once a period.

const (
	partitionDir = cpupart.Root + "/uiodrv-lab"
	partitionCPU = 1
)

// TestLabKernels7RTPartition: in the partition, uiodrv with the README's
// real-time flags and --irq-cpu 0 is refused with a usage error naming the
// allowed CPU (exit 2); with --irq-cpu and --bh-cpu left to their defaults
// (the partition's CPU) it reflects 1000 frames byte for byte, and every
// one of its threads, the deadline bottom half among them, was only ever
// seen on vCPU 1 and allowed no other.
func TestLabKernels7RTPartition(t *testing.T) {
	labtest.Require(t)
	series := stageLabKernel(t, "7.x-rt")
	bin := staticBinary(t)
	helper := labtest.TestBinary(t, "./cmd/uiodrv")
	rtFlags := []string{"--dev", labBDF, "--mode", "threaded", "--top-half", "thread",
		"--bh-sched", "deadline:200us/1ms@1", "--housekeeping-cpus", "1", "--rt-lock", "--handler", "reflect"}
	cfg := labConfig(bin, qemu.E1000, driver.BackendVFIO, 5*time.Minute)
	cfg.Kernel, cfg.CPUs = series, 2
	cfg.Files = append(cfg.Files, qemu.File{Host: helper, Guest: "/bin/uiodrv.test"})
	inPartition := func(args ...string) qemu.Command {
		return qemu.Command{
			Args: []string{"/bin/uiodrv.test", "-test.count=1", "-test.run", "^TestGuestPartitionRun$"},
			Env:  []string{"LAB_PARTITION_CPU=" + strconv.Itoa(partitionCPU), "LAB_RUN=" + strings.Join(append(slices.Clone(rtFlags), args...), "\x1f")},
		}
	}
	cfg.Commands = []qemu.Command{inPartition("--irq-cpu", "0", "--count", "1"), inPartition("--count", "1000")}
	vm, ctx := startLab(t, cfg)
	reflectIntact(t, ctx, vm, 0, 1, 1000)
	res, err := vm.Wait()
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	t.Logf("lab: kernel %s, boot %v, total %v", res.Kernel, res.Boot.Round(time.Millisecond), res.Total.Round(time.Millisecond))
	expect(t, res, 0, 0, "partition: "+partitionDir+" root", "--irq-cpu 0: not a CPU this process may use (allowed: 1",
		"partition: uiodrv exit 2")
	expect(t, res, 1, 0, "partition: "+partitionDir+" root", "rx        1000 frames", "every frame accounted for",
		"device released", "partition: uiodrv exit 0")
	threads, deadline := 0, 0
	for _, l := range res.Output[1] {
		var tid, policy int
		var name, seen, allowed string
		if _, err := fmt.Sscanf(l, "partition: thread %d %s policy %d seen on %s allowed %s", &tid, &name, &policy, &seen, &allowed); err != nil {
			continue
		}
		threads++
		if policy == 6 {
			deadline++
		}
		if seen != "1" || allowed != "1" {
			t.Errorf("uiodrv thread %d %s (policy %d) seen on CPUs %s, allowed %s; want 1 and 1", tid, name, policy, seen, allowed)
		}
	}
	if threads == 0 || deadline == 0 {
		t.Errorf("sampled %d uiodrv threads, %d of them SCHED_DEADLINE; want some of each:\n%s", threads, deadline, strings.Join(res.Output[1], "\n"))
	}
	t.Logf("uiodrv in a partition of vCPU %d: %d threads (%d SCHED_DEADLINE), each seen only on vCPU %d", partitionCPU, threads, deadline, partitionCPU)
}

// TestGuestPartitionRun runs in the guest: it enters the partition of
// LAB_PARTITION_CPU, runs /bin/uiodrv with LAB_RUN (arguments separated by
// 0x1f), samples its threads every 20 ms while it runs, and prints what it
// saw and uiodrv's exit status. It fails only when it could not do that.
func TestGuestPartitionRun(t *testing.T) {
	labtest.InGuest(t)
	cpu, err := strconv.Atoi(os.Getenv("LAB_PARTITION_CPU"))
	if err != nil {
		t.Fatal(err)
	}
	if err := cpupart.Enter(partitionDir, cpu); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("partition: %s %s, CPU %d\n", partitionDir, cpupart.State(partitionDir), cpu)
	cmd := exec.Command("/bin/uiodrv", strings.Split(os.Getenv("LAB_RUN"), "\x1f")...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	seen := map[int]*sampledThread{}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var werr error
wait:
	for {
		sampleThreads(cmd.Process.Pid, seen)
		select {
		case werr = <-done:
			break wait
		case <-tick.C:
		}
	}
	tids := make([]int, 0, len(seen))
	for tid := range seen {
		tids = append(tids, tid)
	}
	slices.Sort(tids)
	for _, tid := range tids {
		s := seen[tid]
		allowed := slices.Sorted(maps.Keys(s.allowed))
		fmt.Printf("partition: thread %d %s policy %d seen on %s allowed %s\n", tid, s.name, s.policy, cpuSetList(s.cpus), strings.Join(allowed, "|"))
	}
	code := 0
	if werr != nil {
		code = cmd.ProcessState.ExitCode()
	}
	fmt.Printf("partition: uiodrv exit %d\n", code)
}

// sampledThread is what the samples of one thread saw: the CPUs it was on,
// its last scheduling policy and its allowed CPUs.
type sampledThread struct {
	name    string
	policy  int
	cpus    map[int]bool
	allowed map[string]bool // every Cpus_allowed_list read
}

// sampleThreads reads each thread's last CPU (field 39 of stat) and policy
// (field 41) once.
func sampleThreads(pid int, seen map[int]*sampledThread) {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]) // f[0] is field 3
		if len(f) < 39 {
			continue
		}
		cpu, _ := strconv.Atoi(f[36])
		policy, _ := strconv.Atoi(f[38])
		st := seen[tid]
		if st == nil {
			st = &sampledThread{cpus: map[int]bool{}, allowed: map[string]bool{}}
			st.name = strings.ReplaceAll(readTrim(filepath.Join(dir, e.Name(), "comm")), " ", "_")
			seen[tid] = st
		}
		status, _ := os.ReadFile(filepath.Join(dir, e.Name(), "status"))
		for _, l := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(l, "Cpus_allowed_list:"); ok {
				st.allowed[strings.TrimSpace(v)] = true
			}
		}
		st.cpus[cpu] = true
		st.policy = policy
	}
}

func cpuSetList(m map[int]bool) string {
	var l []string
	for c := range m {
		l = append(l, strconv.Itoa(c))
	}
	slices.Sort(l)
	return strings.Join(l, ",")
}
