// Package histogram is the latency histogram of the worker's and the
// parent's statistics: power-of-two buckets updated with atomics, so that
// recording a duration costs a few atomic adds, no lock and no allocation.
package histogram

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"

	"github.com/procwire/procwire-go/metrics"
)

// Buckets is the number of buckets: bucket i counts durations in
// [2^(i-1), 2^i) ns, bucket 0 counts 0, and the last bucket is open-ended
// (≥ ~34 s).
const Buckets = 36

// Histogram records durations. The zero value is ready to use; it must not
// be copied after first use. It is safe for concurrent use.
type Histogram struct {
	sumNs   atomic.Uint64
	maxNs   atomic.Uint64
	buckets [Buckets]atomic.Uint64
}

// Observe records one duration (a negative one as 0).
func (h *Histogram) Observe(d time.Duration) {
	ns := uint64(max(d, 0))
	h.sumNs.Add(ns)
	for {
		old := h.maxNs.Load()
		if ns <= old || h.maxNs.CompareAndSwap(old, ns) {
			break
		}
	}
	h.buckets[min(bits.Len64(ns), Buckets-1)].Add(1)
}

// Snapshot is the state of a Histogram at one moment, as plain numbers
// that can be added up (Add) before they are summarised.
type Snapshot struct {
	SumNs   uint64
	MaxNs   uint64
	Buckets [Buckets]uint64
}

// Snapshot returns the histogram's state. It may run concurrently with
// Observe: a duration being recorded may be counted in one field and not
// yet in another.
func (h *Histogram) Snapshot() Snapshot {
	var s Snapshot
	for i := range s.Buckets {
		s.Buckets[i] = h.buckets[i].Load()
	}
	s.SumNs = h.sumNs.Load()
	s.MaxNs = h.maxNs.Load()
	return s
}

// Add adds the durations of o to snap.
func (snap *Snapshot) Add(o Snapshot) {
	snap.SumNs += o.SumNs
	snap.MaxNs = max(snap.MaxNs, o.MaxNs)
	for i, c := range o.Buckets {
		snap.Buckets[i] += c
	}
}

// Merge adds the durations of a snapshot to the histogram (as if they had
// been observed here).
func (h *Histogram) Merge(o Snapshot) {
	h.sumNs.Add(o.SumNs)
	for {
		old := h.maxNs.Load()
		if o.MaxNs <= old || h.maxNs.CompareAndSwap(old, o.MaxNs) {
			break
		}
	}
	for i, c := range o.Buckets {
		if c != 0 {
			h.buckets[i].Add(c)
		}
	}
}

// Summary summarises the durations recorded so far (see Snapshot).
func (h *Histogram) Summary() Summary {
	s := h.Snapshot()
	return s.Summary()
}

// Summary summarises durations: the statistics' one type for a latency
// (metrics.Latency), which the worker's and the parent's Stats expose as
// LatencySummary.
type Summary = metrics.Latency

// Summary summarises the durations of the snapshot.
func (snap *Snapshot) Summary() Summary {
	counts := &snap.Buckets
	var s Summary
	for _, c := range counts {
		s.Count += c
	}
	if s.Count == 0 {
		return s
	}
	s.Mean = time.Duration(snap.SumNs / s.Count)
	s.Max = time.Duration(snap.MaxNs)
	quantile := func(q float64) time.Duration {
		rank := uint64(math.Ceil(q * float64(s.Count)))
		var acc uint64
		for i, c := range counts {
			acc += c
			if acc >= rank {
				switch i {
				case 0:
					return 0
				case Buckets - 1: // open-ended
					return s.Max
				}
				return min(time.Duration(uint64(1)<<i), s.Max)
			}
		}
		return s.Max
	}
	s.P50, s.P90, s.P99 = quantile(0.50), quantile(0.90), quantile(0.99)
	return s
}
