package main

import (
	"errors"
	"net"
	"net/http"
	"runtime/pprof"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/uiodrv/uiodrv/driver"
)

// portCollector exports a port's counters from the latest snapshot the run
// loop took (so a scrape never touches the NIC itself).
type portCollector struct {
	snap   func() *driver.Stats
	labels prometheus.Labels
	descs  map[string]*prometheus.Desc
}

var counterMetrics = []struct {
	name, help string
	get        func(*driver.Stats) uint64
}{
	{"rx_packets_total", "Frames taken off the NIC.", func(s *driver.Stats) uint64 { return s.RxPackets }},
	{"rx_bytes_total", "Bytes taken off the NIC.", func(s *driver.Stats) uint64 { return s.RxBytes }},
	{"processed_total", "Frames the handler saw.", func(s *driver.Stats) uint64 { return s.Processed }},
	{"tx_packets_total", "Frames queued for transmission.", func(s *driver.Stats) uint64 { return s.TxPackets }},
	{"tx_bytes_total", "Bytes queued for transmission.", func(s *driver.Stats) uint64 { return s.TxBytes }},
	{"tx_dropped_total", "Frames the handler wanted sent that found the TX ring full.", func(s *driver.Stats) uint64 { return s.TxDropped }},
	{"irqs_total", "Top-half runs (interrupts).", func(s *driver.Stats) uint64 { return s.IRQs }},
	{"spurious_irqs_total", "Interrupts with no cause.", func(s *driver.Stats) uint64 { return s.Spurious }},
	{"bh_runs_total", "Bottom-half runs.", func(s *driver.Stats) uint64 { return s.BHRuns }},
	{"handler_panics_total", "Handler panics recovered.", func(s *driver.Stats) uint64 { return s.Panics }},
	{"tx_invalid_total", "Transmit or forward verdicts on empty or oversize frames (counted, never sent).", func(s *driver.Stats) uint64 { return s.TxInvalid }},
	{"link_ups_total", "Link-up events.", func(s *driver.Stats) uint64 { return s.LinkUps }},
	{"link_downs_total", "Link-down events.", func(s *driver.Stats) uint64 { return s.LinkDowns }},
	{"resets_total", "Device hangs (or resets under the driver) the watchdog found and re-initialised.", func(s *driver.Stats) uint64 { return s.Resets }},
	{"nic_rx_good_total", "Good frames received, NIC counter rx_packets (the NIC's good-packets-received register).", func(s *driver.Stats) uint64 { return s.HW.RxPackets }},
	{"nic_tx_good_total", "Good frames transmitted, NIC counter tx_packets (GPTC).", func(s *driver.Stats) uint64 { return s.HW.TxPackets }},
	{"nic_rx_missed_total", "Frames missed for a full RX FIFO, NIC counter rx_missed (MPC).", func(s *driver.Stats) uint64 { return s.HW.RxMissed }},
	{"nic_rx_no_buffer_total", "Frames received with no descriptor, NIC counter rx_no_buffer (RNBC).", func(s *driver.Stats) uint64 { return s.HW.RxNoBuffer }},
}

func newPortCollector(snap func() *driver.Stats, dev, mode string) *portCollector {
	c := &portCollector{snap: snap, labels: prometheus.Labels{"dev": dev, "mode": mode}, descs: map[string]*prometheus.Desc{}}
	for _, m := range counterMetrics {
		c.descs[m.name] = prometheus.NewDesc("uiodrv_"+m.name, m.help, nil, c.labels)
	}
	c.descs["drops"] = prometheus.NewDesc("uiodrv_drops_total", "Received frames dropped, by reason.", []string{"reason"}, c.labels)
	c.descs["handoff"] = prometheus.NewDesc("uiodrv_handoff_latency_seconds",
		"Top-half to bottom-half handoff latency quantiles since start (from the port's histogram).", []string{"quantile"}, c.labels)
	c.descs["link"] = prometheus.NewDesc("uiodrv_link_up", "1 when the link is up.", nil, c.labels)
	c.descs["queue_rx"] = prometheus.NewDesc("uiodrv_queue_rx_packets_total", "Frames taken off the NIC, by queue.", []string{"queue"}, c.labels)
	c.descs["queue_irqs"] = prometheus.NewDesc("uiodrv_queue_irqs_total", "Interrupts handled, by queue.", []string{"queue"}, c.labels)
	return c
}

func (c *portCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *portCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.snap()
	if s == nil {
		return
	}
	for _, m := range counterMetrics {
		ch <- prometheus.MustNewConstMetric(c.descs[m.name], prometheus.CounterValue, float64(m.get(s)))
	}
	for _, r := range driver.DropReasons() {
		ch <- prometheus.MustNewConstMetric(c.descs["drops"], prometheus.CounterValue, float64(s.Drops[r]), r.String())
	}
	ch <- prometheus.MustNewConstMetric(c.descs["handoff"], prometheus.GaugeValue, s.HandoffP50.Seconds(), "0.5")
	ch <- prometheus.MustNewConstMetric(c.descs["handoff"], prometheus.GaugeValue, s.HandoffP99.Seconds(), "0.99")
	up := 0.0
	if s.Link {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(c.descs["link"], prometheus.GaugeValue, up)
	for i, q := range s.Queues {
		ch <- prometheus.MustNewConstMetric(c.descs["queue_rx"], prometheus.CounterValue, float64(q.RxPackets), strconv.Itoa(i))
		ch <- prometheus.MustNewConstMetric(c.descs["queue_irqs"], prometheus.CounterValue, float64(q.IRQs), strconv.Itoa(i))
	}
}

// serveMetrics serves /metrics on ln (bound before the device was opened,
// so that a busy address changes nothing) until the returned server is
// closed; the server owns ln.
func serveMetrics(ln net.Listener, dev, mode string, snap func() *driver.Stats, log *zap.Logger) *http.Server {
	reg := prometheus.NewRegistry()
	// The Go runtime's and the process's standard metrics (go_goroutines,
	// process_open_fds, ...): a long run's leak check reads them.
	reg.MustRegister(newPortCollector(snap, dev, mode), collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	// The goroutines' stacks, grouped (pprof's goroutine profile, text form
	// debug=1): the soak's leak check compares them at its start and end.
	// Only this profile is served, not net/http/pprof's CPU and trace
	// endpoints, which would let a scraper load the driver.
	mux.HandleFunc("/debug/pprof/goroutine", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_ = pprof.Lookup("goroutine").WriteTo(w, 1)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("metrics server stopped", zap.Error(err))
		}
	}()
	log.Info("serving metrics", zap.String("url", "http://"+ln.Addr().String()+"/metrics"))
	return srv
}
