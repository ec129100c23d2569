package procwire

import (
	"sync/atomic"
	"time"

	"github.com/procwire/procwire-go/internal/histogram"
	"github.com/procwire/procwire-go/metrics"
)

// Stats is a snapshot of a worker's counters since it started. Publish it
// with expvar in one line:
//
//	expvar.Publish("procwire", expvar.Func(func() any { return w.Stats() }))
//
// The frames and bytes (metrics.Traffic) are the data channel's: frames
// received include aborts, frames sent include events.
type Stats struct {
	InFlight int64 `json:"inFlight" msgpack:"inFlight"` // handlers running now
	Queued   int64 `json:"queued" msgpack:"queued"`     // requests waiting for a handler slot
	metrics.Traffic
	Aborts uint64 `json:"aborts" msgpack:"aborts"` // aborts that cancelled a request in flight
	// BackpressureWaits counts frame writes that waited more than a
	// millisecond for the socket (the parent not reading, or other frames
	// ahead), and BackpressureWait is the time they waited in total.
	BackpressureWaits uint64        `json:"backpressureWaits" msgpack:"backpressureWaits"`
	BackpressureWait  time.Duration `json:"backpressureWaitNs" msgpack:"backpressureWaitNs"`
	// Methods has an entry for every registered method.
	Methods map[string]MethodStats `json:"methods" msgpack:"methods"`
}

// MethodStats are one method's counters (metrics.Method: one type for the
// worker and the parent). Every request ends in exactly one of OK, Errors
// (panics included, also counted in Panics) and Aborted; a worker counts
// no Timeouts.
type MethodStats = metrics.Method

// LatencySummary summarises handler durations, from dispatch to the end of
// the handler, final response write included (metrics.Latency: the
// parent's Stats summarise call durations with the same type).
type LatencySummary = metrics.Latency

// counters are the worker-wide counters, updated with atomics.
type counters struct {
	inFlight          atomic.Int64
	framesIn          atomic.Uint64
	framesOut         atomic.Uint64
	bytesIn           atomic.Uint64
	bytesOut          atomic.Uint64
	aborts            atomic.Uint64
	backpressureWaits atomic.Uint64
	backpressureNs    atomic.Uint64
}

type methodCounters struct {
	requests atomic.Uint64
	ok       atomic.Uint64
	errors   atomic.Uint64
	panics   atomic.Uint64
	aborted  atomic.Uint64
	latency  histogram.Histogram
}

func (mc *methodCounters) observe(d time.Duration) { mc.latency.Observe(d) }

func (mc *methodCounters) snapshot() MethodStats {
	return MethodStats{
		Requests: mc.requests.Load(),
		OK:       mc.ok.Load(),
		Errors:   mc.errors.Load(),
		Panics:   mc.panics.Load(),
		Aborted:  mc.aborted.Load(),
		Latency:  mc.latency.Summary(),
	}
}

// Stats returns a snapshot of the worker's counters. It is safe to call at
// any time, from any goroutine.
func (w *Worker) Stats() Stats {
	s := Stats{
		InFlight: w.stats.inFlight.Load(),
		Traffic: metrics.Traffic{
			FramesIn:  w.stats.framesIn.Load(),
			FramesOut: w.stats.framesOut.Load(),
			BytesIn:   w.stats.bytesIn.Load(),
			BytesOut:  w.stats.bytesOut.Load(),
		},
		Aborts:            w.stats.aborts.Load(),
		BackpressureWaits: w.stats.backpressureWaits.Load(),
		BackpressureWait:  time.Duration(w.stats.backpressureNs.Load()),
	}
	if c := w.conn.Load(); c != nil {
		c.mu.Lock()
		s.Queued = int64(len(c.queue) - c.qhead)
		c.mu.Unlock()
	}
	w.mu.Lock()
	methods := w.methods
	w.mu.Unlock()
	s.Methods = make(map[string]MethodStats, len(methods))
	for _, m := range methods {
		s.Methods[m.Name] = m.stats.snapshot()
	}
	return s
}
