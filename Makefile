# uiodrv — see README.md. Every target installs what it needs.
SHELL    := /bin/bash
GO       ?= go
PKGS     := ./...
BIN      := bin/uiodrv
# The lab guest's PID 1 (qemu/labinit), which uiodrv lab looks for beside $(BIN).
LABINIT  := bin/uiodrv-labinit
GOFLAGS_STATIC := CGO_ENABLED=0

.PHONY: all build test unit labtest demo bench fuzz lint clean lab-setup soak lab-kernel-src labtest-cdev labtest-kernels

all: build

build:
	$(GOFLAGS_STATIC) $(GO) build -trimpath -o $(BIN) ./cmd/uiodrv
	$(GOFLAGS_STATIC) $(GO) build -trimpath -o $(LABINIT) ./qemu/labinit

# Installs QEMU >= 8 (qemu-system-x86 from Debian's backports suite, which it
# enables with an apt entry derived from the system's sources; apt-get under the
# lab lock) and stages the guest kernel (apt-get download) into
# $$XDG_CACHE_HOME/uiodrv; does nothing and downloads nothing when both are there.
lab-setup:
	$(GO) run ./qemu/labsetup

# Unit tests with the race detector, then the lab integration tests.
test: unit labtest

# bench/ is its own Go module (its plotting is no dependency of the library):
# the root's ./... does not reach it, so each target runs it too (go -C bench).
unit:
	$(GO) test -race -count=1 -skip '^TestLab' $(PKGS)
	$(GO) -C bench test -race -count=1 -skip '^TestLab' $(PKGS)
	$(GO) test -run '^$$' -fuzz '^FuzzCLI$$' -fuzztime 20s -parallel 1 ./cmd/uiodrv/

labtest: lab-setup
	{ $(GO) test -count=1 -timeout 30m -run 'TestLab' -skip '^TestLab(Cdev|Kernels)' -v $(PKGS); r=$$?; \
	  $(GO) -C bench test -count=1 -timeout 30m -run 'TestLab' -v $(PKGS) || r=1; exit $$r; } 2>&1 | tee .labtest.log | grep --line-buffered -E '^(=== RUN|--- |PASS|FAIL|ok|panic)|lab: kernel'; \
		status=$${PIPESTATUS[0]}; \
	if [ $$status -ne 0 ]; then echo '=== what failed (from .labtest.log; guest lines included):'; \
		grep -n -B12 -A8 -E -e '--- FAIL' -e '^panic' .labtest.log | grep -v -E '=== RUN|--- PASS|--- SKIP' | tail -150; fi; \
	exit $$status

# The lab's kernel built from Debian's source (linux-source-7.x from sid through
# a private apt list; tinyconfig + qemu/kernelsrc.config, everything built in):
# the only lab kernel with iommufd and the VFIO device cdev. Installs its build
# dependencies (build-essential bc bison flex libelf-dev libssl-dev) with
# apt-get; cached in $$XDG_CACHE_HOME/uiodrv/kernel/source by source version and
# configuration hash, so a second run builds nothing. docs/vfio-api.md.
lab-kernel-src:
	$(GO) run ./qemu/labkernel

# The iommufd/cdev lab tests (TestLabCdev*): uiodrv --vfio-api cdev on the
# source-built kernel (e1000, e1000e MSI-X, igb 2 queues, non-root; vfio's
# device-level checks), and auto on Debian's kernel, which has no iommufd.
labtest-cdev: lab-setup lab-kernel-src
	@start=$$(date +%s); \
	$(GO) test -count=1 -timeout 30m -run '^TestLabCdev' -v ./cmd/uiodrv/ ./vfio/ 2>&1 | tee .labtest-cdev.log | \
		grep --line-buffered -E '^(=== RUN|--- |PASS|FAIL|ok|panic)|lab: (kernel|source kernel)'; \
	status=$${PIPESTATUS[0]}; echo "labtest-cdev: $$(( $$(date +%s) - start )) s"; \
	if [ $$status -ne 0 ]; then grep -n -B12 -A8 -E -e '--- FAIL' -e '^panic' .labtest-cdev.log | tail -150; fi; \
	exit $$status

# uiodrv's lab tests on the lab's newer kernels (TestLabKernels*): e1000
# reflect and e1000e with MSI-X, and igb with 2 queues, on Debian sid's 7.x;
# e1000 reflect on the PREEMPT_RT kernels, Debian 13's 6.12 and sid's 7.x; and
# docs/realtime.md's recipe on sid's PREEMPT_RT 7.x: uiodrv with a deadline
# bottom half in a cgroup v2 cpuset partition of vCPU 1.
# Stages the kernels first (Debian's binary packages through a private apt list
# per suite, about 125 MB each, cached in $$XDG_CACHE_HOME/uiodrv/kernel/NAME) and reports the wall
# time of staging and of the tests. make test skips them.
LAB_KERNELS ?= 7.x,7.x-rt,6.12-rt
labtest-kernels: lab-setup
	@start=$$(date +%s); \
	$(GO) run ./qemu/labkernel -kernel $(LAB_KERNELS) || exit 1; \
	staged=$$(date +%s); echo "labtest-kernels: kernels staged in $$(( staged - start )) s"; \
	$(GO) test -count=1 -timeout 30m -run '^TestLabKernels' -v ./cmd/uiodrv/ 2>&1 | tee .labtest-kernels.log | \
		grep --line-buffered -E '^(=== RUN|--- |PASS|FAIL|ok|panic)|lab: kernel'; \
	status=$${PIPESTATUS[0]}; end=$$(date +%s); \
	echo "labtest-kernels: $$(( end - start )) s (staging $$(( staged - start )) s, tests $$(( end - staged )) s)"; \
	if [ $$status -ne 0 ]; then grep -n -B12 -A8 -E -e '--- FAIL' -e '^panic' .labtest-kernels.log | tail -150; fi; \
	exit $$status

# The 30-minute soak (TestLabSoak; make test runs its 90-second version): reflect
# at 500 frames/s, link down/up every 10 s through QMP, a handler panic every
# 100,000 frames, a reset under the driver halfway, SIGSTOP/SIGCONT every 30 s;
# every frame accounted for, fds as at the start, no goroutine stack grown
# (README, the soak). Its summary goes to .soak.txt. SOAK_NOLOCK=1 runs it
# without the host-wide lab lock (beside other lab boots, which it then slows),
# SOAK_CPUS the guest's vCPUs.
SOAK_DURATION ?= 30m
SOAK_RATE     ?= 500
SOAK_CPUS     ?= 2
SOAK_NOLOCK   ?=
soak: lab-setup
	CI=true UIODRV_SOAK_DURATION=$(SOAK_DURATION) UIODRV_SOAK_RATE=$(SOAK_RATE) UIODRV_SOAK_PANIC_EVERY=100000 \
		UIODRV_SOAK_CPUS=$(SOAK_CPUS) UIODRV_SOAK_NOLOCK=$(SOAK_NOLOCK) UIODRV_SOAK_REPORT=$(CURDIR)/.soak.txt \
		$(GO) test -count=1 -timeout 0 -run '^TestLabSoak$$' -v ./cmd/uiodrv/ 2>&1 | tee .soak.log; \
		status=$${PIPESTATUS[0]}; cat .soak.txt 2>/dev/null; exit $$status

demo: lab-setup build
	./$(BIN) lab --nic e1000 --mode workqueue

# Writes bench/RESULTS.md, bench/plots/*.png and bench/profiles/*.pprof; the e1000/e1000e boot holds the
# lab ~15 minutes (RTT 20000 x 3 per target), the igb boot ~8, plus the go test -bench stage and lab-lock waits.
bench: lab-setup
	$(GO) -C bench run ./cmd/uiodrv-bench
	$(GO) -C bench run ./cmd/uiodrv-bench -out bench/igb -nics igb -modes napi,threaded,busypoll -gobench=false -hostrt=false

# The host-speed benchmark of the core packet path (driver.BenchmarkHostSpeed over
# drivertest.Loop, no QEMU), two revisions side by side, interleaved: about 8
# minutes of runs at the defaults, plus two builds. HOSTSPEED_OLD=HOSTSPEED_NEW
# measures the noise; HOSTSPEED_FLAGS passes more (-from REV, -out DIR). See
# bench/hostspeed/README.md.
HOSTSPEED_OLD   ?= a2e72df
HOSTSPEED_NEW   ?= HEAD
HOSTSPEED_COUNT ?= 6
HOSTSPEED_FLAGS ?=
.PHONY: hostspeed
hostspeed:
	$(GO) -C bench run ./hostspeed -old $(HOSTSPEED_OLD) -new $(HOSTSPEED_NEW) -count $(HOSTSPEED_COUNT) $(HOSTSPEED_FLAGS)

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzSPSC -fuzztime 15s ./ring/
	$(GO) test -run '^$$' -fuzz FuzzCount -fuzztime 15s ./handler/
	$(GO) test -run '^$$' -fuzz FuzzRxDesc -fuzztime 15s ./driver/e1000/
	$(GO) test -run '^$$' -fuzz FuzzParseIOMMUInfo -fuzztime 15s ./vfio/
	$(GO) test -run '^$$' -fuzz FuzzParseAddr -fuzztime 15s ./pci/
	$(GO) test -run '^$$' -fuzz '^FuzzCLI$$' -fuzztime 60s -parallel 1 ./cmd/uiodrv/

lint:
	$(GO) vet $(PKGS)
	$(GO) -C bench vet $(PKGS)
	$(GO) tool staticcheck $(PKGS)

clean:
	rm -rf bin .labtest.log .labtest-cdev.log .labtest-kernels.log .soak.log .soak.txt
	$(GO) clean -testcache
