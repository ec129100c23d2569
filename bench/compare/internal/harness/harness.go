// Package harness runs the scenarios of the comparison against one
// implementation's parent side. Each implementation is a program (the
// parent) that spawns itself as its child; the orchestrator (package main
// of bench/compare) runs that program once per scenario, in a fresh
// process, so that one scenario's CPU time, memory and garbage never count
// in another's, and reads the one JSON Result it prints.
package harness

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/procwire/procwire-go/internal/cputime"
	"github.com/procwire/procwire-go/internal/testenv"
)

// Client is an implementation's parent side, connected to its child.
// Every method may be called from many goroutines at once.
type Client interface {
	// EchoSmall sends the implementation's own encoding of the Sample
	// struct, decodes the reply into a fresh value and checks it.
	EchoSmall() error
	// EchoBytes sends b and returns the bytes the child sent back.
	EchoBytes(b []byte) ([]byte, error)
	// Stream asks the child for count chunks of size bytes, chunk i filled
	// with byte(i), and calls fn with each in order; fn must not keep the
	// chunk.
	Stream(count, size int, fn func(i int, chunk []byte) error) error
	// ChildPID is the process id of the child.
	ChildPID() int
	// Close ends the child and waits for it.
	Close() error
}

// Impl is one implementation: how to start its child and connect to it.
type Impl struct {
	Name string
	// Start spawns the child and returns once a call can be made.
	Start func() (Client, error)
	// StreamNote, if set, says how the stream scenario is carried out
	// where the transport has no streams.
	StreamNote string
}

// Scenario names, in the order the orchestrator runs them.
const (
	Spawn   = "spawn"
	Seq     = "seq"
	Conc64  = "conc64"
	Bytes1  = "bytes1MiB"
	Bytes16 = "bytes16MiB"
	Bytes64 = "bytes64MiB"
	Stream  = "stream"
)

// Scenarios lists every scenario.
var Scenarios = []string{Spawn, Seq, Conc64, Bytes1, Bytes16, Bytes64, Stream}

// Result is what one scenario measured, as printed in JSON.
type Result struct {
	Impl     string `json:"impl"`
	Scenario string `json:"scenario"`
	// Value is the scenario's headline figure: ms from spawn to the
	// first reply (spawn), µs p50 (seq), requests per second (conc64),
	// MB/s (bytes*: bytes moved both ways ÷ time; stream).
	Value float64 `json:"value"`
	P99   float64 `json:"p99us,omitempty"` // seq: µs p99
	// ChildCPU and ParentCPU are CPU time per request (seq, conc64) or
	// per MiB moved (bytes*, stream), in µs, of each process: the sum of
	// the kernel's per-thread accounting (/proc/PID/task/*/schedstat).
	ChildCPU  float64 `json:"childCpuUs"`
	ParentCPU float64 `json:"parentCpuUs"`
	// ChildRSS and ParentRSS are resident set sizes in bytes: after 200 ms
	// idle for spawn, the peak (VmHWM) for the other scenarios.
	ChildRSS  float64 `json:"childRssBytes"`
	ParentRSS float64 `json:"parentRssBytes"`
	Count     int     `json:"count"` // requests, or MiB moved
	Note      string  `json:"note,omitempty"`
}

// Main is an implementation program's main: with the argument "child" it
// runs child; else it runs the scenario named by -scenario against a child
// started with impl.Start and prints the Result as one JSON line.
func Main(impl Impl, child func()) {
	if len(os.Args) > 1 && os.Args[1] == "child" {
		child()
		return
	}
	scenario := flag.String("scenario", Seq, "the scenario to run: spawn, seq, conc64, bytes1MiB, bytes16MiB, bytes64MiB or stream")
	quick := flag.Bool("quick", false, "one tiny iteration (smoke test)")
	flag.Parse()
	r, err := Run(impl, *scenario, *quick)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s %s: %v\n", impl.Name, *scenario, err)
		os.Exit(1)
	}
	b, _ := json.Marshal(r)
	fmt.Printf("%s\n", b)
}

// ChildCommand returns the command that runs this program as its child
// (with the argument "child", which Main looks for, and args after it),
// its standard error going to this process's.
func ChildCommand(args ...string) (*exec.Cmd, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, append([]string{"child"}, args...)...)
	cmd.Stderr = os.Stderr
	return cmd, nil
}

// Run starts a child with impl.Start, runs one scenario against it and
// closes it.
func Run(impl Impl, scenario string, quick bool) (Result, error) {
	res := Result{Impl: impl.Name, Scenario: scenario}
	size := 0
	switch scenario {
	case Spawn, Seq, Conc64, Stream:
	case Bytes1:
		size = 1 << 20
	case Bytes16:
		size = 16 << 20
	case Bytes64:
		size = 64 << 20
	default:
		return res, fmt.Errorf("unknown scenario %q", scenario)
	}
	start := time.Now()
	c, err := impl.Start()
	if err != nil {
		return res, fmt.Errorf("start: %w", err)
	}
	defer c.Close()
	if err := c.EchoSmall(); err != nil {
		return res, fmt.Errorf("first call: %w", err)
	}
	pid := c.ChildPID()
	switch scenario {
	case Spawn:
		res.Value = ms(time.Since(start))
		time.Sleep(200 * time.Millisecond)
		res.ChildRSS = float64(testenv.Memory(pid).RSS)
		res.ParentRSS = float64(testenv.Memory(0).RSS)
	case Seq:
		err = seq(c, &res, quick)
	case Conc64:
		err = conc(c, &res, 64, quick)
	case Stream:
		err = stream(c, &res, quick)
		res.Note = impl.StreamNote
	default:
		err = echoBytes(c, &res, size, quick)
	}
	if err != nil {
		return res, err
	}
	if scenario != Spawn {
		res.ChildRSS = float64(testenv.Memory(pid).HWM)
		res.ParentRSS = float64(testenv.Memory(0).HWM)
	}
	return res, c.Close()
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// cpuMark is the CPU time of the child and of this process at a moment.
type cpuMark struct{ child, parent time.Duration }

func markCPU(pid int) cpuMark { return cpuMark{cputime.Process(pid), cputime.Process(0)} }

// per sets res's CPU figures: the CPU time since m, in µs, per unit.
func (m cpuMark) per(res *Result, pid int, units float64) {
	now := markCPU(pid)
	res.ChildCPU = us(now.child-m.child) / units
	res.ParentCPU = us(now.parent-m.parent) / units
}

// seq times sequential small echoes: p50 and p99 in µs.
func seq(c Client, res *Result, quick bool) error {
	warm, n := 2000, 10000
	if quick {
		warm, n = 20, 100
	}
	for range warm {
		if err := c.EchoSmall(); err != nil {
			return err
		}
	}
	lat := make([]float64, n)
	m := markCPU(c.ChildPID())
	for i := range lat {
		s := time.Now()
		if err := c.EchoSmall(); err != nil {
			return err
		}
		lat[i] = us(time.Since(s))
	}
	m.per(res, c.ChildPID(), float64(n))
	res.Value, res.P99 = Percentile(lat, 50), Percentile(lat, 99)
	res.Count = n
	return nil
}

// conc runs small echoes from callers goroutines at once: requests per
// second.
func conc(c Client, res *Result, callers int, quick bool) error {
	warm, total := 5000, 100000
	if quick {
		warm, total = callers, 4*callers
	}
	run := func(n int64) error {
		var left atomic.Int64
		left.Store(n)
		var wg sync.WaitGroup
		errs := make(chan error, callers)
		for range callers {
			wg.Go(func() {
				for left.Add(-1) >= 0 {
					if err := c.EchoSmall(); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		return <-errs
	}
	if err := run(int64(warm)); err != nil {
		return err
	}
	m := markCPU(c.ChildPID())
	s := time.Now()
	if err := run(int64(total)); err != nil {
		return err
	}
	res.Value = float64(total) / time.Since(s).Seconds()
	m.per(res, c.ChildPID(), float64(total))
	res.Count = total
	return nil
}

// echoBytes echoes size bytes, 256 MiB in all (at least 3 times): MB/s of
// the bytes moved both ways.
func echoBytes(c Client, res *Result, size int, quick bool) error {
	reps := max(3, (256<<20)/size)
	if quick {
		reps = 1
	}
	buf := make([]byte, size)
	Fill(buf, 1)
	one := func() error {
		out, err := c.EchoBytes(buf)
		if err != nil {
			return err
		}
		if len(out) != size || out[0] != 1 || out[size-1] != 1 {
			return fmt.Errorf("echo of %d bytes came back as %d bytes, or changed", size, len(out))
		}
		return nil
	}
	if err := one(); err != nil {
		return err
	}
	m := markCPU(c.ChildPID())
	s := time.Now()
	for range reps {
		if err := one(); err != nil {
			return err
		}
	}
	moved := float64(2 * size * reps)
	res.Value = moved / time.Since(s).Seconds() / 1e6
	m.per(res, c.ChildPID(), moved/(1<<20))
	res.Count = int(moved) >> 20
	return nil
}

// stream receives 256 chunks of 1 MiB, three times: the median MB/s.
func stream(c Client, res *Result, quick bool) error {
	runs, count := 3, 256
	if quick {
		runs, count = 1, 8
	}
	const size = 1 << 20
	one := func() error {
		next := 0
		err := c.Stream(count, size, func(i int, chunk []byte) error {
			if i != next || len(chunk) != size || chunk[0] != byte(i) || chunk[size-1] != byte(i) {
				return fmt.Errorf("chunk %d (expected %d): %d bytes, first %d", i, next, len(chunk), chunk[0])
			}
			next++
			return nil
		})
		if err == nil && next != count {
			err = fmt.Errorf("stream ended after %d of %d chunks", next, count)
		}
		return err
	}
	if err := one(); err != nil {
		return err
	}
	rates := make([]float64, runs)
	m := markCPU(c.ChildPID())
	for r := range rates {
		s := time.Now()
		if err := one(); err != nil {
			return err
		}
		rates[r] = float64(count*size) / time.Since(s).Seconds() / 1e6
	}
	res.Value = Percentile(rates, 50)
	m.per(res, c.ChildPID(), float64(runs*count))
	res.Count = runs * count
	return nil
}

// Percentile returns the p-th percentile of xs (nearest rank, as
// interop/bench.mjs), or 0 for none.
func Percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	i := int(p / 100 * float64(len(s)))
	return s[min(i, len(s)-1)]
}

// Fill sets every byte of b to v (at memmove speed, as the conformance
// worker's blob does).
func Fill(b []byte, v byte) {
	if len(b) == 0 {
		return
	}
	b[0] = v
	for n := 1; n < len(b); n *= 2 {
		copy(b[n:], b[:n])
	}
}

// Small is the struct of the small-call scenarios: about 100 bytes in
// MessagePack (the procwire side), gob (net/rpc) and protobuf (gRPC,
// pb.Small has the same fields).
type Small struct {
	ID      int64    `msgpack:"id"`
	Name    string   `msgpack:"name"`
	Tags    []string `msgpack:"tags"`
	Score   float64  `msgpack:"score"`
	Enabled bool     `msgpack:"enabled"`
	Note    string   `msgpack:"note"`
}

// Sample is the value every small call sends (the object of
// interop/bench.mjs).
var Sample = Small{
	ID: 12345, Name: "procwire benchmark", Tags: []string{"alpha", "beta", "gamma"},
	Score: 98.6, Enabled: true, Note: "a small object of about one hundred bytes",
}

// CheckSmall reports whether the fields of a reply equal Sample's.
func CheckSmall(id int64, name string, tags []string, score float64, enabled bool, note string) error {
	s := Sample
	if id != s.ID || name != s.Name || len(tags) != len(s.Tags) || score != s.Score || enabled != s.Enabled || note != s.Note {
		return fmt.Errorf("small echo came back changed: %d %q %q %v %v %q", id, name, tags, score, enabled, note)
	}
	for i := range tags {
		if tags[i] != s.Tags[i] {
			return fmt.Errorf("small echo came back with tags %q", tags)
		}
	}
	return nil
}
