package deferral

import (
	"fmt"
	"math/bits"
	"time"
)

// Histogram is an allocation-free log-linear histogram of non-negative
// values (nanoseconds, usually), in the manner of HdrHistogram: values below
// 2^HistSubBits are exact; above, each power of two is split into
// 2^HistSubBits buckets, so a recorded value is known within 1/32 (3.1%).
// It covers the whole int64 range in a fixed 15 KiB array. The zero value is
// ready to use. It is not safe for concurrent use: give each recording thread
// its own and Merge them.
type Histogram struct {
	counts [histBuckets]uint64
	total  uint64
	sum    uint64
	min    uint64
	max    uint64
}

// HistSubBits is log2 of the buckets per power of two.
const HistSubBits = 5

const (
	histSub     = 1 << HistSubBits
	histBuckets = (64 - HistSubBits + 1) * histSub
)

func histIndex(v uint64) int {
	if v < histSub {
		return int(v)
	}
	e := bits.Len64(v) - 1 // >= HistSubBits
	shift := e - HistSubBits
	return (shift+1)*histSub + int((v>>uint(shift))&(histSub-1))
}

// histHighest is the highest value that falls in bucket i.
func histHighest(i int) uint64 {
	if i < histSub {
		return uint64(i)
	}
	shift := i/histSub - 1
	low := uint64(histSub+i%histSub) << uint(shift)
	return low + (uint64(1) << uint(shift)) - 1
}

// Record adds one value; negative values count as 0. It does not allocate.
func (h *Histogram) Record(v int64) {
	if v < 0 {
		v = 0
	}
	u := uint64(v)
	h.counts[histIndex(u)]++
	if h.total == 0 || u < h.min {
		h.min = u
	}
	if u > h.max {
		h.max = u
	}
	h.total++
	h.sum += u
}

// RecordDuration records d in nanoseconds.
func (h *Histogram) RecordDuration(d time.Duration) { h.Record(int64(d)) }

// Count is the number of recorded values.
func (h *Histogram) Count() uint64 { return h.total }

// Min and Max are exact; Mean is the exact mean.
func (h *Histogram) Min() int64 { return int64(h.min) }
func (h *Histogram) Max() int64 { return int64(h.max) }
func (h *Histogram) Mean() float64 {
	if h.total == 0 {
		return 0
	}
	return float64(h.sum) / float64(h.total)
}

// Quantile returns the value at quantile q (0..1), as the highest value of
// its bucket (clamped to Max), like HdrHistogram's ValueAtQuantile.
func (h *Histogram) Quantile(q float64) int64 {
	if h.total == 0 {
		return 0
	}
	q = min(max(q, 0), 1)
	rank := uint64(q*float64(h.total) + 0.5)
	rank = min(max(rank, 1), h.total)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i]
		if seen >= rank {
			return int64(min(histHighest(i), h.max))
		}
	}
	return int64(h.max)
}

// Merge adds o's values to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.total == 0 {
		return
	}
	for i := range h.counts {
		h.counts[i] += o.counts[i]
	}
	if h.total == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.total += o.total
	h.sum += o.sum
}

// Reset empties h.
func (h *Histogram) Reset() { *h = Histogram{} }

// String summarizes h in nanoseconds.
func (h *Histogram) String() string {
	return fmt.Sprintf("n=%d min=%d p50=%d p99=%d p99.9=%d max=%d", h.total, h.Min(),
		h.Quantile(0.5), h.Quantile(0.99), h.Quantile(0.999), h.Max())
}
