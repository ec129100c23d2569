package parent

// Event fan-out, at two levels.
//
// Conn: subscriptions (Conn.subs) are guarded by Conn.mu; the read loop
// delivers each event to every subscriber of its name, blocking while one
// is full (so a slow subscriber stops the connection's reading), and closes
// the channels when it ends.
//
// Module: subscriptions (Module.subs) are guarded by Module.mu and outlive
// restarts; their channels are closed by closeSubs only. One forwarder
// goroutine per instance and subscribed event name copies the instance's
// Conn subscription to the module's subscribers, never blocking: an event
// for a full subscriber is dropped, and the forwarder alone counts the
// drops and reports them.

import (
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
	c.mu.Lock()
	subs := c.subs[e.Name]
	c.mu.Unlock()
	for _, ch := range subs {
		ch <- Event{Name: e.Name, Payload: payload, codec: e.Codec}
	}
}

// Events subscribes to an event across restarts: the channel receives its
// emissions until the module is closed. An emission that finds the channel
// full is dropped (and the drops reported to the logger, at most once a
// second per event).
func (m *Module) Events(name string) <-chan Event {
	ch := make(chan Event, eventBuffer)
	m.mu.Lock()
	m.subs[name] = append(m.subs[name], ch)
	first := len(m.subs[name]) == 1
	in := m.cur
	m.mu.Unlock()
	if first && in != nil {
		m.forwardEvents(in, name)
	}
	return ch
}

// OnEvent calls fn with each emission of the named event, in order, on a
// goroutine of its own, across restarts, until the module is shut down
// (Shutdown waits for the last call to return, so fn must not call
// Shutdown itself).
func (m *Module) OnEvent(name string, fn func(Event)) {
	ch := m.Events(name)
	m.handlers.Add(1)
	go func() {
		defer m.handlers.Done()
		for e := range ch {
			fn(e)
		}
	}()
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
				m.mu.Lock()
				subs := append([]chan Event(nil), m.subs[name]...)
				m.mu.Unlock()
				for _, ch := range subs {
					select {
					case ch <- e:
					default:
						dropped++
					}
				}
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

// closeSubs closes the module's subscription channels and forgets them.
func (m *Module) closeSubs() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for name, chs := range m.subs {
		for _, ch := range chs {
			close(ch)
		}
		delete(m.subs, name)
	}
}
