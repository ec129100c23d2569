package parent

// Event fan-out, at two levels.
//
// Conn: subscriptions (Conn.subs) are guarded by Conn.mu; the read loop
// delivers each event to every subscriber of its name, blocking while one
// is full (so a slow subscriber stops the connection's reading), and closes
// the channels when it ends.
//
// Module: subscriptions (Module.subs) are guarded by Module.subMu and
// outlive restarts; a channel is closed, under subMu, by its
// Subscription's Close or by closeSubs (when the module closes). One
// forwarder goroutine per instance and subscribed event name (Module.fwd
// says which names cur has one for) copies the instance's Conn
// subscription to the module's subscribers, under subMu and never
// blocking: an event for a full subscriber is dropped, and the forwarder
// alone counts the drops (also in the module's Stats) and reports them.

import (
	"slices"
	"sync/atomic"
	"time"

	"github.com/procwire/procwire-go/codec"
)

// Event is one event emitted by the worker.
type Event struct {
	Name    string
	Payload []byte
	codec   codec.Codec
}

// Decode decodes the event with its codec.
func (e Event) Decode(v any) error { return e.codec.Unmarshal(e.Payload, v) }

// eventBuffer is how many events a subscription holds; the parent stops
// reading the socket while a subscriber's buffer is full.
const eventBuffer = 1024

// dropReportInterval is the shortest time between two reports of dropped
// events of one name.
const dropReportInterval = time.Second

// Events subscribes to the named event and returns a channel of its
// emissions from now on. The channel is closed when the connection ends.
func (c *Conn) Events(name string) <-chan Event {
	ch := make(chan Event, eventBuffer)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		close(ch)
		return ch
	}
	c.subs[name] = append(c.subs[name], ch)
	return ch
}

// dispatchEvent delivers an event frame; it runs on the read loop.
func (c *Conn) dispatchEvent(id uint16, payload []byte) {
	e, ok := c.events[id]
	if !ok {
		return
	}
	e.stats.received.Add(1)
	c.mu.Lock()
	subs := c.subs[e.Name]
	c.mu.Unlock()
	for _, ch := range subs {
		ch <- Event{Name: e.Name, Payload: payload, codec: e.Codec}
	}
}

// Subscription is a subscription to one event of a module.
type Subscription struct {
	// C receives the event's emissions until Close, or until the module
	// closes; then it is closed. An emission that finds C full is dropped
	// (and the drops reported to the logger, at most once a second per
	// event).
	C <-chan Event

	m       *Module
	name    string
	ch      chan Event
	stopped atomic.Bool
}

// Close ends the subscription and closes C (events still in C stay
// there); it may be called more than once.
func (s *Subscription) Close() {
	s.stopped.Store(true)
	m := s.m
	m.subMu.Lock()
	defer m.subMu.Unlock()
	subs := m.subs[s.name]
	if i := slices.Index(subs, s.ch); i >= 0 { // else closeSubs closed it
		m.subs[s.name] = slices.Delete(subs, i, i+1)
		close(s.ch)
	}
}

// Subscribe subscribes to an event across restarts: the subscription
// receives its emissions from now until Close or the module's close. A
// subscription to a closed module is closed already.
func (m *Module) Subscribe(name string) *Subscription {
	ch := make(chan Event, eventBuffer)
	s := &Subscription{C: ch, m: m, name: name, ch: ch}
	m.mu.Lock()
	in := m.cur
	m.subMu.Lock()
	if m.subsDone {
		close(ch)
		s.stopped.Store(true)
		in = nil
	} else {
		m.subs[name] = append(m.subs[name], ch)
		if in != nil && !m.fwd[name] {
			m.fwd[name] = true
		} else {
			in = nil
		}
	}
	m.subMu.Unlock()
	m.mu.Unlock()
	if in != nil {
		m.forwardEvents(in, name)
	}
	return s
}

// Events subscribes to an event across restarts and returns the channel
// of its emissions (Subscribe's C), until the module is closed. To end
// the subscription earlier, use Subscribe.
func (m *Module) Events(name string) <-chan Event {
	return m.Subscribe(name).C
}

// OnEvent calls fn with each emission of the named event, in order, on a
// goroutine of its own, across restarts, until stop is called or the
// module is closed. After stop, fn is called for no event not yet being
// delivered; stop does not wait for a call in progress (fn may call
// stop). Shutdown waits for the last call to return, so fn must not call
// Shutdown itself.
func (m *Module) OnEvent(name string, fn func(Event)) (stop func()) {
	s := m.Subscribe(name)
	m.handlers.Add(1)
	go func() {
		defer m.handlers.Done()
		for e := range s.C {
			if !s.stopped.Load() {
				fn(e)
			}
		}
	}()
	return s.Close
}

// forwardEvents starts the goroutine that copies one event from an
// instance's connection to the module's subscribers, until the connection
// ends.
func (m *Module) forwardEvents(in *instance, name string) {
	src := in.conn.Events(name)
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		var (
			dropped  int              // since the last report
			reported time.Time        // when the last report was made
			due      <-chan time.Time // fires when the next report may be made
			counted  *eventCounters   // the module's counters of the event, from the first drop
		)
		report := func() {
			if dropped > 0 {
				m.log.Warn("procwire/parent: event subscriber full; events dropped", "event", name, "dropped", dropped)
				dropped, reported = 0, time.Now()
			}
			due = nil
		}
		defer report()
		for {
			select {
			case e, ok := <-src:
				if !ok {
					return
				}
				m.subMu.Lock()
				for _, ch := range m.subs[name] {
					select {
					case ch <- e:
					default:
						dropped++
						if counted == nil {
							counted = m.stats.event(name)
						}
						counted.dropped.Add(1)
					}
				}
				m.subMu.Unlock()
				if dropped > 0 && due == nil {
					if wait := dropReportInterval - time.Since(reported); wait > 0 {
						due = time.After(wait)
					} else {
						report()
					}
				}
			case <-due:
				report()
			}
		}
	}()
}

// closeSubs closes the module's subscription channels and forgets them;
// later subscriptions are closed at once.
func (m *Module) closeSubs() {
	m.subMu.Lock()
	defer m.subMu.Unlock()
	m.subsDone = true
	for name, chs := range m.subs {
		for _, ch := range chs {
			close(ch)
		}
		delete(m.subs, name)
	}
}
