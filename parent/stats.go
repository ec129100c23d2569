package parent

// Statistics: the counters of a connection and of a module.
//
// Ownership: a Conn's counters (Conn.stats) are made by NewConn, with an
// entry per method and event of the connection that its method and event
// tables point to, so that a call updates its counters with atomics and
// no lookup, lock or allocation. A Module's own counters (Module.stats)
// hold what its ended connections counted and the events its forwarders
// dropped: when an instance becomes ready, adoptLocked makes its
// connection's counters the live ones and folds those of an earlier
// connection into the module's, under Module.statsMu, which Stats takes
// to add them all up.

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/procwire/procwire-go/internal/histogram"
	"github.com/procwire/procwire-go/metrics"
)

// Stats is a snapshot of a module's counters. Publish it with expvar in
// one line:
//
//	expvar.Publish("worker", expvar.Func(func() any { return m.Stats() }))
//
// The counters (ConnStats, Restarts) add up since Start, across restarts;
// InFlight, PID and State are the current ones.
type Stats struct {
	Module   string `json:"module" msgpack:"module"`
	State    State  `json:"state" msgpack:"state"` // as its name in JSON
	PID      int    `json:"pid" msgpack:"pid"`     // the worker's process id, 0 when none runs
	Restarts uint64 `json:"restarts" msgpack:"restarts"`
	// LastExit is why the last worker process ended ("exit status 3",
	// "signal: killed", "killed: missed heartbeat"); empty while none has.
	LastExit string `json:"lastExit,omitempty" msgpack:"lastExit,omitempty"`
	ConnStats
}

// ConnStats are the counters of the data channel: a connection's since
// NewConn (Conn.Stats), or a module's connections' since Start (Stats).
// The frames and bytes (metrics.Traffic) count events among the frames
// received, aborts and AUTH among those sent.
type ConnStats struct {
	InFlight int `json:"inFlight" msgpack:"inFlight"` // requests awaiting their response (a stream: its end)
	metrics.Traffic
	// Methods has an entry for every method of the worker's schema.
	Methods map[string]MethodStats `json:"methods" msgpack:"methods"`
	// Events has an entry for every event of the worker's schema.
	Events map[string]EventStats `json:"events" msgpack:"events"`
}

// MethodStats are one method's counters (metrics.Method: one type for the
// parent and the worker). Every call to a method of the schema (Call, Ack,
// Notify, Stream) counts as a request and ends in exactly one of OK,
// Errors, Timeouts and Aborted: Errors are worker errors, the end of the
// connection, and encode, decode and write failures; Timeouts the request
// timeouts (ErrTimeout); Aborted the calls whose context ended first (a
// cancellable method is sent the abort) and the streams their consumer
// left early. Panics is always 0 on the parent.
type MethodStats = metrics.Method

// LatencySummary summarises how long calls took as their callers saw it,
// whatever the outcome: from the call to its return (a stream: to its
// end, the loop body's time included; Notify: until the request is
// written). It is metrics.Latency: the worker's Stats summarise handler
// durations with the same type.
type LatencySummary = metrics.Latency

// EventStats are one event's counters.
type EventStats struct {
	Received uint64 `json:"received" msgpack:"received"` // emissions received from the worker
	// Dropped counts the deliveries to a module's subscribers that found
	// the subscriber full (Subscription.C); a Conn never drops (it stops
	// reading while a subscriber is full).
	Dropped uint64 `json:"dropped" msgpack:"dropped"`
}

// counters are the counters of a connection, or a module's own. The zero
// value is ready to use.
type counters struct {
	framesIn  atomic.Uint64
	framesOut atomic.Uint64
	bytesIn   atomic.Uint64
	bytesOut  atomic.Uint64

	mu      sync.Mutex
	methods map[string]*methodCounters // guarded by mu (the map; entries are atomic); made on first use
	events  map[string]*eventCounters  // guarded by mu (the map; entries are atomic); made on first use
}

// method returns the counters of a method, made on first use.
func (c *counters) method(name string) *methodCounters {
	return lookupOrMake(&c.mu, &c.methods, name)
}

// event returns the counters of an event, made on first use.
func (c *counters) event(name string) *eventCounters {
	return lookupOrMake(&c.mu, &c.events, name)
}

// lookupOrMake returns (*m)[name] under mu, making the map and the entry
// on first use.
func lookupOrMake[V any](mu *sync.Mutex, m *map[string]*V, name string) *V {
	mu.Lock()
	defer mu.Unlock()
	v := (*m)[name]
	if v == nil {
		if *m == nil {
			*m = make(map[string]*V)
		}
		v = new(V)
		(*m)[name] = v
	}
	return v
}

type methodCounters struct {
	requests atomic.Uint64
	ok       atomic.Uint64
	errors   atomic.Uint64
	timeouts atomic.Uint64
	aborted  atomic.Uint64
	latency  histogram.Histogram
}

// Outcomes of a call.
const (
	outcomeOK = iota
	outcomeError
	outcomeTimeout
	outcomeAborted
)

// end counts the outcome of a call that began at start.
func (mc *methodCounters) end(outcome int, start time.Time) {
	mc.latency.Observe(time.Since(start))
	switch outcome {
	case outcomeOK:
		mc.ok.Add(1)
	case outcomeError:
		mc.errors.Add(1)
	case outcomeTimeout:
		mc.timeouts.Add(1)
	default:
		mc.aborted.Add(1)
	}
}

// endErr counts a call that ended with err (nil: OK).
func (mc *methodCounters) endErr(err error, start time.Time) {
	if err != nil {
		mc.end(outcomeError, start)
		return
	}
	mc.end(outcomeOK, start)
}

// add adds a tally's counts (of an ended connection) to mc.
func (mc *methodCounters) add(mt *methodTally) {
	mc.requests.Add(mt.requests)
	mc.ok.Add(mt.ok)
	mc.errors.Add(mt.errors)
	mc.timeouts.Add(mt.timeouts)
	mc.aborted.Add(mt.aborted)
	mc.latency.Merge(mt.latency)
}

type eventCounters struct {
	received atomic.Uint64
	dropped  atomic.Uint64
}

// tally is a snapshot of counters, with the latency histograms as plain
// numbers, that the counters of several connections add up in.
type tally struct {
	framesIn, framesOut, bytesIn, bytesOut uint64
	methods                                map[string]*methodTally
	events                                 map[string]EventStats
}

type methodTally struct {
	requests, ok, errors, timeouts, aborted uint64
	latency                                 histogram.Snapshot
}

// addTo adds the counters to t.
func (c *counters) addTo(t *tally) {
	t.framesIn += c.framesIn.Load()
	t.framesOut += c.framesOut.Load()
	t.bytesIn += c.bytesIn.Load()
	t.bytesOut += c.bytesOut.Load()
	if t.methods == nil {
		t.methods = make(map[string]*methodTally)
		t.events = make(map[string]EventStats)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, mc := range c.methods {
		mt := t.methods[name]
		if mt == nil {
			mt = new(methodTally)
			t.methods[name] = mt
		}
		// The outcomes before the requests: a call counted in an outcome
		// is counted in Requests too.
		mt.ok += mc.ok.Load()
		mt.errors += mc.errors.Load()
		mt.timeouts += mc.timeouts.Load()
		mt.aborted += mc.aborted.Load()
		mt.requests += mc.requests.Load()
		mt.latency.Add(mc.latency.Snapshot())
	}
	for name, ec := range c.events {
		es := t.events[name]
		es.Received += ec.received.Load()
		es.Dropped += ec.dropped.Load()
		t.events[name] = es
	}
}

// merge adds what the counters of an ended connection counted to c (a
// module's own counters).
func (c *counters) merge(ended *counters) {
	var t tally
	ended.addTo(&t)
	c.framesIn.Add(t.framesIn)
	c.framesOut.Add(t.framesOut)
	c.bytesIn.Add(t.bytesIn)
	c.bytesOut.Add(t.bytesOut)
	for name, mt := range t.methods {
		c.method(name).add(mt)
	}
	for name, es := range t.events {
		ec := c.event(name)
		ec.received.Add(es.Received)
		ec.dropped.Add(es.Dropped)
	}
}

// stats returns the tally as ConnStats.
func (t *tally) stats(inFlight int) ConnStats {
	s := ConnStats{
		InFlight: inFlight,
		Traffic:  metrics.Traffic{FramesIn: t.framesIn, FramesOut: t.framesOut, BytesIn: t.bytesIn, BytesOut: t.bytesOut},
		Methods:  make(map[string]MethodStats, len(t.methods)),
		Events:   t.events,
	}
	if s.Events == nil {
		s.Events = make(map[string]EventStats)
	}
	for name, mt := range t.methods {
		s.Methods[name] = MethodStats{
			Requests: mt.requests, OK: mt.ok, Errors: mt.errors, Timeouts: mt.timeouts, Aborted: mt.aborted,
			Latency: mt.latency.Summary(),
		}
	}
	return s
}

// Stats returns a snapshot of the connection's counters since NewConn. It
// is safe to call at any time, from any goroutine, also after the
// connection ended.
func (c *Conn) Stats() ConnStats {
	var t tally
	c.stats.addTo(&t)
	return t.stats(c.inFlight())
}

// inFlight returns the number of requests awaiting their response.
func (c *Conn) inFlight() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.inflight)
}

// Stats returns a snapshot of the module's counters (see Stats). It is
// safe to call at any time, from any goroutine, also after the module
// closed.
func (m *Module) Stats() Stats {
	m.mu.Lock()
	m.adoptLocked()
	s := Stats{Module: m.name, State: m.state, Restarts: m.restartCount.Load()}
	if m.lastExit != nil {
		s.LastExit = m.lastExit.Error()
	}
	var cur *Conn
	if in := m.cur; in != nil {
		cur = in.conn
		select {
		case <-in.dead:
		default:
			if p := in.proc.Process; p != nil {
				s.PID = p.Pid
			}
		}
	}
	m.mu.Unlock()
	var t tally
	m.statsMu.Lock()
	m.stats.addTo(&t)
	if m.prevStats != nil {
		m.prevStats.addTo(&t)
	}
	if m.statsConn != nil {
		m.statsConn.stats.addTo(&t)
	}
	m.statsMu.Unlock()
	inFlight := 0
	if cur != nil {
		inFlight = cur.inFlight()
	}
	s.ConnStats = t.stats(inFlight)
	return s
}

// adoptLocked makes the current instance's connection the one whose
// counters are live; m.mu is held. The counters of the connection before
// it are kept apart for one more instance's life (callers may still be
// counting the outcome of calls that its end failed), those of the one
// before that are folded into the module's own.
func (m *Module) adoptLocked() {
	if m.cur == nil || m.cur.conn == nil || m.cur.conn == m.statsConn {
		return
	}
	m.statsMu.Lock()
	defer m.statsMu.Unlock()
	if m.prevStats != nil {
		m.stats.merge(m.prevStats)
	}
	m.prevStats = nil
	if m.statsConn != nil {
		m.prevStats = m.statsConn.stats
	}
	m.statsConn = m.cur.conn
}

// MarshalText returns the state's name ("ready"), so that a State marshals
// to JSON as a string.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
