// Package metrics defines the statistics that both sides of a Procwire
// connection report: a worker's (procwire.Worker.Stats) and a parent's
// (parent.Module.Stats, parent.Conn.Stats, parent.Pool's modules). Code
// that reads or exports them — an expvar page, a Prometheus collector, a
// test — works with one set of types whichever side it runs on, as
// protocol.Error is one error type for both.
//
// The types are plain values with JSON and MessagePack field names, so a
// snapshot can be published or sent as it is.
package metrics

import "time"

// Traffic counts what crossed one data channel (or, summed, a module's
// channels): frames and bytes in each direction, frame headers included.
// Which frames count is the side's: a worker counts the aborts it
// receives, a parent the events.
type Traffic struct {
	FramesIn  uint64 `json:"framesIn" msgpack:"framesIn"`
	FramesOut uint64 `json:"framesOut" msgpack:"framesOut"`
	BytesIn   uint64 `json:"bytesIn" msgpack:"bytesIn"`
	BytesOut  uint64 `json:"bytesOut" msgpack:"bytesOut"`
}

// Method counts the requests to one method and how they ended.
//
// Every request counted in Requests ends in exactly one of OK, Errors,
// Timeouts and Aborted (a request still in flight in none yet):
//   - OK: a result, an ack, a stream's end, or (response type none) the
//     request handled (worker) or written (parent);
//   - Errors: an error response, and on a parent also the end of the
//     connection and encode, decode and write failures;
//   - Timeouts: the parent's request timeouts (parent.ErrTimeout); a worker
//     counts none (a handler that ends with its method's Timeout returns an
//     error and counts in Errors);
//   - Aborted: on a worker, requests the parent aborted or the connection
//     or a shutdown cancelled; on a parent, calls whose context ended first
//     and streams their consumer left early.
//
// Panics counts a worker's handlers that panicked, which also count in
// Errors; a parent's is 0.
type Method struct {
	Requests uint64  `json:"requests" msgpack:"requests"`
	OK       uint64  `json:"ok" msgpack:"ok"`
	Errors   uint64  `json:"errors" msgpack:"errors"`
	Timeouts uint64  `json:"timeouts" msgpack:"timeouts"`
	Aborted  uint64  `json:"aborted" msgpack:"aborted"`
	Panics   uint64  `json:"panics" msgpack:"panics"`
	Latency  Latency `json:"latency" msgpack:"latency"`
}

// Latency summarises durations: their count, mean and maximum, and
// percentiles from power-of-two buckets, so upper bounds within a factor of
// two (the upper bound of their bucket, capped at Max; Max itself for the
// open-ended last bucket, at about 34 s). What is timed is the side's: on a
// worker a handler, from dispatch to the end of the handler with its final
// response written; on a parent a call as its caller saw it, whatever the
// outcome (a stream to its end, the consumer's loop included; Notify until
// the request is written).
type Latency struct {
	Count uint64        `json:"count" msgpack:"count"`
	Mean  time.Duration `json:"meanNs" msgpack:"meanNs"`
	Max   time.Duration `json:"maxNs" msgpack:"maxNs"`
	P50   time.Duration `json:"p50Ns" msgpack:"p50Ns"`
	P90   time.Duration `json:"p90Ns" msgpack:"p90Ns"`
	P99   time.Duration `json:"p99Ns" msgpack:"p99Ns"`
}
