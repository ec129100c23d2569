package parent_test

import (
	"context"
	"encoding/json"
	"errors"
	"expvar"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/procwire/procwire-go/codec"
	"github.com/procwire/procwire-go/internal/testenv"
	"github.com/procwire/procwire-go/parent"
	"github.com/procwire/procwire-go/protocol"
	"github.com/procwire/procwire-go/wire"
)

// waitStats polls the module's stats until ok accepts them (or 5 s pass)
// and returns the last ones.
func waitStats(m *parent.Module, ok func(parent.Stats) bool) parent.Stats {
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := m.Stats()
		if ok(s) || time.Now().After(deadline) {
			return s
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkMethod checks one method's counters; the latency summary must
// count every request and be ordered.
func checkMethod(t *testing.T, s parent.Stats, name string, want parent.MethodStats) {
	t.Helper()
	got := s.Methods[name]
	l := got.Latency
	got.Latency = parent.LatencySummary{}
	if got != want {
		t.Errorf("%s: %+v, want %+v", name, got, want)
	}
	if l.Count != want.Requests || want.Requests > 0 && (l.Mean <= 0 || l.P50 > l.P90 || l.P90 > l.P99 || l.P99 > l.Max || l.Mean > l.Max) {
		t.Errorf("%s: latency %+v for %d requests", name, l, want.Requests)
	}
}

// msgpackLen is the length of v encoded as a request.
func msgpackLen(t *testing.T, v any) uint64 {
	b, err := codec.MsgPack.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return uint64(len(b))
}

// TestStats checks a module's counters after known traffic to the Go
// conformance worker: every outcome, frames and bytes, events, requests
// in flight, and the JSON that expvar publishes.
func TestStats(t *testing.T) {
	opts := spec()
	opts.RequestTimeout = 300 * time.Millisecond
	m := startWorker(t, workers[0], opts)
	ctx := context.Background()
	aborted := m.Events("aborted")

	if s := m.Stats(); s.Module != "conformance-go" || s.State != parent.Ready || s.PID != m.PID() || s.PID == 0 ||
		s.Restarts != 0 || s.LastExit != "" || s.FramesOut != 0 || s.FramesIn != 0 || len(s.Methods) != len(m.Schema().Methods) || len(s.Events) != 3 {
		t.Fatalf("fresh stats: %+v", s)
	}

	// Deterministic traffic first: every frame in and out is known.
	var out uint64 // request payload bytes
	for _, v := range []string{"a", "b", "c"} {
		if err := m.Call(ctx, "echo", v, nil); err != nil {
			t.Fatal(err)
		}
		out += msgpackLen(t, v)
	}
	if err := m.Call(ctx, "fail", "x", nil); err == nil {
		t.Fatal("fail did not fail")
	}
	if err := m.Ack(ctx, "ack", nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := m.Notify("notify", "n"); err != nil {
		t.Fatal(err)
	}
	for _, err := range m.Stream(ctx, "count", map[string]int{"n": 5}) {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Call(ctx, "progress", map[string]int{"n": 3}, nil); err != nil {
		t.Fatal(err)
	}
	if err := m.Call(ctx, "nope", nil, nil); err == nil {
		t.Fatal("an unknown method succeeded")
	}
	out += msgpackLen(t, "x") + msgpackLen(t, nil) + msgpackLen(t, "n") + 2*msgpackLen(t, map[string]int{"n": 5})
	// Responses: 3 echo, fail, ack, 5 chunks and the end of count,
	// progress; events: notified, 3 progress.
	s := waitStats(m, func(s parent.Stats) bool { return s.FramesIn >= 16 })
	if s.FramesOut != 8 || s.BytesOut != 8*wire.HeaderSize+out || s.FramesIn != 16 || s.BytesIn < 16*wire.HeaderSize || s.InFlight != 0 {
		t.Errorf("frames and bytes: %+v (request payloads %d bytes)", s.ConnStats, out)
	}
	checkMethod(t, s, "echo", parent.MethodStats{Requests: 3, OK: 3})
	checkMethod(t, s, "fail", parent.MethodStats{Requests: 1, Errors: 1})
	checkMethod(t, s, "ack", parent.MethodStats{Requests: 1, OK: 1})
	checkMethod(t, s, "notify", parent.MethodStats{Requests: 1, OK: 1})
	checkMethod(t, s, "count", parent.MethodStats{Requests: 1, OK: 1})
	checkMethod(t, s, "progress", parent.MethodStats{Requests: 1, OK: 1})
	checkMethod(t, s, "types", parent.MethodStats{})
	if _, ok := s.Methods["nope"]; ok {
		t.Error("the unknown method is counted")
	}
	if s.Events["notified"] != (parent.EventStats{Received: 1}) || s.Events["progress"] != (parent.EventStats{Received: 3}) {
		t.Errorf("events: %+v", s.Events)
	}

	// Aborts and timeouts.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := m.Call(short, "sleep", 5000, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("sleep with a deadline: %v", err)
	}
	waitAborted(t, aborted, "sleep") // the worker saw the abort
	if err := m.Call(ctx, "sleep", 3000, nil); !errors.Is(err, parent.ErrTimeout) {
		t.Fatalf("sleep past the timeout: %v", err)
	}
	n := 0
	for _, err := range m.Stream(ctx, "tick", nil) {
		if err != nil {
			t.Fatal(err)
		}
		if s := m.Stats(); s.InFlight != 1 {
			t.Errorf("in flight during a stream: %d", s.InFlight)
		}
		if n++; n == 2 {
			break
		}
	}
	s = waitStats(m, func(s parent.Stats) bool { return s.Events["aborted"].Received == 2 })
	if s.Events["aborted"].Received != 2 || s.InFlight != 0 {
		t.Errorf("after the aborts: events %+v, in flight %d", s.Events, s.InFlight)
	}
	// Requests, an abort, a request, a request and an abort.
	if s.FramesOut != 8+5 {
		t.Errorf("frames out: %d", s.FramesOut)
	}
	checkMethod(t, s, "sleep", parent.MethodStats{Requests: 2, Timeouts: 1, Aborted: 1})
	checkMethod(t, s, "tick", parent.MethodStats{Requests: 1, Aborted: 1})
	if l := s.Methods["sleep"].Latency; l.Max < 300*time.Millisecond || l.P99 < 300*time.Millisecond {
		t.Errorf("sleep latency %+v: the timeout took 300 ms", l)
	}

	// expvar publishes it as JSON: flat, the state by name, durations in
	// nanoseconds.
	var v struct {
		Module   string `json:"module"`
		State    string `json:"state"`
		PID      int    `json:"pid"`
		InFlight *int   `json:"inFlight"`
		FramesIn uint64 `json:"framesIn"`
		Methods  map[string]struct {
			Requests uint64 `json:"requests"`
			Timeouts uint64 `json:"timeouts"`
			Latency  struct {
				P99 int64 `json:"p99Ns"`
			} `json:"latency"`
		} `json:"methods"`
		Events map[string]map[string]uint64 `json:"events"`
	}
	js := expvar.Func(func() any { return m.Stats() }).String()
	if err := json.Unmarshal([]byte(js), &v); err != nil {
		t.Fatalf("%v in %s", err, js)
	}
	if v.Module != "conformance-go" || v.State != "ready" || v.PID != m.PID() || v.InFlight == nil || v.FramesIn < 16 ||
		v.Methods["echo"].Requests != 3 || v.Methods["sleep"].Timeouts != 1 || v.Methods["sleep"].Latency.P99 < int64(300*time.Millisecond) ||
		v.Events["aborted"]["received"] != 2 {
		t.Errorf("JSON: %s", js)
	}

	m.Shutdown(ctx)
	if s := m.Stats(); s.State != parent.Closed || s.PID != 0 || s.InFlight != 0 || s.Methods["echo"].Requests != 3 {
		t.Errorf("after Shutdown: %+v", s)
	}
}

// TestStatsDroppedEvents counts the emissions a full subscriber missed.
func TestStatsDroppedEvents(t *testing.T) {
	var logs logBuffer
	opts := spec()
	opts.Logger = logs.logger()
	m := startWorker(t, workers[0], opts)
	sub := m.Subscribe("progress") // never read: it holds 1024
	defer sub.Close()
	if err := m.Call(context.Background(), "progress", map[string]int{"n": 1100}, nil); err != nil {
		t.Fatal(err)
	}
	want := parent.EventStats{Received: 1100, Dropped: 1100 - 1024}
	s := waitStats(m, func(s parent.Stats) bool { return s.Events["progress"] == want })
	if s.Events["progress"] != want || len(sub.C) != 1024 {
		t.Fatalf("progress: %+v, %d held; want %+v", s.Events["progress"], len(sub.C), want)
	}
	// A flood from a real worker is reported with a count, not one
	// warning per dropped event.
	if n := strings.Count(logs.String(), "events dropped"); n > 2 {
		t.Errorf("%d warnings for %d dropped events", n, want.Dropped)
	}
}

// TestStatsAcrossRestarts checks that the counters add up across
// restarts, with the restarts, the last exit and the current pid.
func TestStatsAcrossRestarts(t *testing.T) {
	testenv.VerifyNoLeaks(t)
	m, err := parent.Start(context.Background(), "life", lifeCmd("serve"), parent.Options{Restart: true, RestartDelay: -1, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown(context.Background())
	ctx := context.Background()
	for i, code := range []int{3, 4} {
		pid := m.PID()
		if err := m.Call(ctx, "echo", i, nil); err != nil {
			t.Fatal(err)
		}
		if err := m.Call(ctx, "exit", code, nil); !errors.Is(err, parent.ErrClosed) {
			t.Fatalf("exit %d: %v", code, err)
		}
		s := waitStats(m, func(s parent.Stats) bool { return s.State == parent.Ready && s.PID != 0 && s.PID != pid })
		if s.State != parent.Ready || s.PID == pid || s.PID != m.PID() || s.Restarts != uint64(i+1) {
			t.Fatalf("after exit %d: %+v", code, s)
		}
	}
	if err := m.Call(ctx, "echo", 2, nil); err != nil {
		t.Fatal(err)
	}
	s := m.Stats()
	checkMethod(t, s, "echo", parent.MethodStats{Requests: 3, OK: 3})
	checkMethod(t, s, "exit", parent.MethodStats{Requests: 2, Errors: 2})
	if s.Restarts != 2 || s.LastExit != "exit status 4" || s.FramesOut != 5 || s.FramesIn != 3 || s.InFlight != 0 {
		t.Errorf("stats: %+v", s)
	}
}

// TestConnStats checks a bare connection's counters, to the byte.
func TestConnStats(t *testing.T) {
	testenv.VerifyNoLeaks(t)
	cmd := exec.Command(conformance(t))
	cmd.Stderr = io.Discard
	init := testenv.Spawn(t, cmd).Init
	nc, err := testenv.Dial(init.Pipe)
	if err != nil {
		t.Fatal(err)
	}
	conn := parent.NewConn(nc, 0, []protocol.MethodDesc{
		{Name: "echo", ID: init.Schema.Methods["echo"].ID, Response: protocol.ResponseResult, RequestCodec: codec.MsgPack, ResponseCodec: codec.MsgPack},
		{Name: "notify", ID: init.Schema.Methods["notify"].ID, Response: protocol.ResponseNone, RequestCodec: codec.MsgPack, ResponseCodec: codec.MsgPack},
	}, []protocol.EventDesc{{Name: "notified", ID: init.Schema.Events["notified"].ID, Codec: codec.MsgPack}})
	defer conn.Close()
	notified := conn.Events("notified")
	for _, v := range []string{"a", "b"} {
		if err := conn.Call(context.Background(), "echo", v, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := conn.Notify("notify", "n"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-notified:
	case <-time.After(2 * time.Second):
		t.Fatal("no notified event")
	}
	// Each payload is a one-letter string: 2 bytes of MessagePack.
	s := conn.Stats()
	if s.FramesOut != 3 || s.BytesOut != 3*(wire.HeaderSize+2) || s.FramesIn != 3 || s.BytesIn != 3*(wire.HeaderSize+2) || s.InFlight != 0 {
		t.Errorf("frames and bytes: %+v", s)
	}
	st := parent.Stats{ConnStats: s}
	checkMethod(t, st, "echo", parent.MethodStats{Requests: 2, OK: 2})
	checkMethod(t, st, "notify", parent.MethodStats{Requests: 1, OK: 1})
	if len(s.Methods) != 2 || len(s.Events) != 1 || s.Events["notified"] != (parent.EventStats{Received: 1}) {
		t.Errorf("methods %v, events %v", s.Methods, s.Events)
	}
	conn.Close()
	if err := conn.Call(context.Background(), "echo", "c", nil); !errors.Is(err, parent.ErrClosed) {
		t.Fatalf("call after Close: %v", err)
	}
	checkMethod(t, parent.Stats{ConnStats: conn.Stats()}, "echo", parent.MethodStats{Requests: 3, OK: 2, Errors: 1})
}
