package uiodrv

import (
	"fmt"
	"runtime"
	"slices"

	"go.uber.org/zap"

	"github.com/uiodrv/uiodrv/deferral"
	"github.com/uiodrv/uiodrv/driver"
)

// Mode is the bottom half's deferral mechanism (deferral.Mode).
type Mode = deferral.Mode

// The bottom halves, as the kernel names them.
const (
	ModeTasklet   = deferral.ModeTasklet   // a tasklet on the top half's core
	ModeSoftirq   = deferral.ModeSoftirq   // a softirq vector of its own
	ModeWorkqueue = deferral.ModeWorkqueue // a work item on a bound workqueue
	ModeThreaded  = deferral.ModeThreaded  // a threaded-IRQ thread (SCHED_FIFO 50)
	ModeNAPI      = deferral.ModeNAPI      // NAPI polling with a budget
	ModeBusyPoll  = deferral.ModeBusyPoll  // no interrupts: a thread polls (DPDK's poll mode)
	ModeAdaptive  = deferral.ModeAdaptive  // interrupts when quiet, polling under load
)

// ParseMode reads a mode's name ("tasklet", "napi"...).
func ParseMode(s string) (Mode, error) { return deferral.ParseMode(s) }

// Config configures Open and NewPort. Its zero value runs one queue in
// tasklet mode on core 0 over VFIO with the family's ring sizes, and drops
// every frame (counted in Stats).
type Config struct {
	// Mode is the bottom half; the zero value is ModeTasklet.
	Mode Mode
	// Handler decides what happens to each received frame (see Handler).
	// nil drops every frame; the port still counts them.
	Handler Handler
	// Forward is the port that Forward verdicts leave by; nil drops them
	// (counted as TxDropped). Port.SetForward changes it later, which is
	// how two ports forward to each other.
	Forward *Port
	// CPUs is the core of each queue's top and bottom half, one entry per
	// queue (Device.Queues, 0 meaning 1); -1 leaves a queue unpinned. nil
	// puts queue q on core q modulo the number of cores.
	CPUs []int
	// Budget is the most frames one bottom-half poll hands to the handler,
	// 1..driver.MaxBudget; 0 means 64 (NAPI's weight).
	Budget int
	// RTPrio is the top half's SCHED_FIFO priority, 1..99; 0 leaves it
	// SCHED_OTHER.
	RTPrio int
	// Logger receives lifecycle and link events, never per-packet ones;
	// nil discards them.
	Logger *zap.Logger
	// Device configures the NIC: backend, queues, descriptor ring size,
	// interrupt throttling, MSI-X, promiscuous mode. Its zero value is one
	// queue over VFIO with the family's defaults. Its Poll field is set
	// from Mode (busy poll attaches no interrupt).
	Device driver.OpenOptions
}

// queues is how many queues the device is asked for.
func (c *Config) queues() int { return max(c.Device.Queues, 1) }

// check refuses what no device could run, before anything is opened, for a
// device of n queues. The model-specific limits (queues, ring sizes, MSI-X)
// are checked by the family (Found.Check) before its Open.
func (c *Config) check(n int) error {
	if !slices.Contains(deferral.Modes(), c.Mode) {
		return fmt.Errorf("%w: unknown mode %v", driver.ErrBadConfig, c.Mode)
	}
	if c.Budget < 0 || c.Budget > driver.MaxBudget {
		return fmt.Errorf("%w: budget %d outside 1..%d (0: the default)", driver.ErrBadConfig, c.Budget, driver.MaxBudget)
	}
	if c.RTPrio < 0 || c.RTPrio > 99 {
		return fmt.Errorf("%w: real-time priority %d outside 1..99 (0: SCHED_OTHER)", driver.ErrBadConfig, c.RTPrio)
	}
	if c.Device.Queues < 0 || c.Device.Queues > driver.MaxQueues {
		return fmt.Errorf("%w: %d queues outside 1..%d", driver.ErrBadConfig, c.Device.Queues, driver.MaxQueues)
	}
	if c.CPUs != nil && len(c.CPUs) != n {
		return fmt.Errorf("%w: %d CPUs for %d queues: give one per queue", driver.ErrBadConfig, len(c.CPUs), n)
	}
	for _, cpu := range c.CPUs {
		if cpu < -1 {
			return fmt.Errorf("%w: CPU %d: want a core number or -1", driver.ErrBadConfig, cpu)
		}
	}
	if c.Forward != nil && c.Forward.closed() {
		return fmt.Errorf("%w: forward port is closed", driver.ErrBadConfig)
	}
	return nil
}

// openOptions are Device with Poll set from Mode.
func (c *Config) openOptions() driver.OpenOptions {
	o := c.Device
	o.Poll = c.Mode == ModeBusyPoll
	return o
}

// portConfig is the core's configuration for a device with n queues.
func (c *Config) portConfig(n int) driver.Config {
	cpus := c.CPUs
	if cpus == nil {
		cpus = make([]int, n)
		for q := range cpus {
			cpus[q] = q % runtime.NumCPU()
		}
	}
	pc := driver.Config{
		Mode: c.Mode, Handler: c.Handler, IRQCPU: cpus[0], IRQCPUs: cpus, BHCPU: cpus[0],
		RTPrio: c.RTPrio, Budget: c.Budget, Logger: c.Logger,
	}
	if c.Forward != nil {
		pc.Forward = c.Forward.port
	}
	return pc
}
