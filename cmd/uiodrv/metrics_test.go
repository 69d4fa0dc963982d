package main

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/uiodrv/uiodrv/driver"
)

// The collector exports each queue's frames and interrupts, labelled by queue.
func TestMetricsPerQueue(t *testing.T) {
	s := &driver.Stats{RxPackets: 30, Queues: []driver.QueueStats{{RxPackets: 10, IRQs: 3}, {RxPackets: 20, IRQs: 4}}}
	reg := prometheus.NewRegistry()
	reg.MustRegister(newPortCollector(func() *driver.Stats { return s }, "0000:00:03.0", "napi"))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "queue" {
					got[mf.GetName()+"/"+l.GetValue()] = m.GetCounter().GetValue()
				}
			}
		}
	}
	want := map[string]float64{"uiodrv_queue_rx_packets_total/0": 10, "uiodrv_queue_rx_packets_total/1": 20,
		"uiodrv_queue_irqs_total/0": 3, "uiodrv_queue_irqs_total/1": 4}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
}
