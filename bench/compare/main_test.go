package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/procwire/procwire-go/bench/compare/internal/harness"
	"github.com/procwire/procwire-go/internal/testenv"
)

// TestEveryImplementationEveryScenario builds the four programs and runs
// one tiny iteration of each scenario of each, as the real processes: the
// three services answer correctly (the harness checks every reply) and
// every figure is there.
func TestEveryImplementationEveryScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and spawns the implementations")
	}
	if runtime.GOOS != "linux" {
		t.Skip("the figures come from /proc")
	}
	testenv.VerifyNoLeaks(t)
	bin := t.TempDir()
	if err := build(bin); err != nil {
		t.Fatal(err)
	}
	for _, im := range impls {
		for _, sc := range harness.Scenarios {
			if im.Only != nil && !slices.Contains(im.Only, sc) {
				continue
			}
			t.Run(im.Dir+"/"+sc, func(t *testing.T) {
				r, err := runOne(filepath.Join(bin, im.Dir), sc, true, 2*time.Minute)
				if err != nil {
					t.Fatal(err)
				}
				if r.Impl != im.Name || r.Scenario != sc {
					t.Errorf("result of %s, %s", r.Impl, r.Scenario)
				}
				if r.Value <= 0 || r.ChildRSS <= 0 || r.ParentRSS <= 0 {
					t.Errorf("figures missing: %+v", r)
				}
				if sc != harness.Spawn && (r.Count <= 0 || r.ChildCPU <= 0 || r.ParentCPU <= 0) {
					t.Errorf("CPU figures missing: %+v", r)
				}
				if wantNote := im.Name == "net/rpc" && sc == harness.Stream; wantNote != (r.Note != "") {
					t.Errorf("note %q", r.Note)
				}
			})
		}
	}
}

func TestRunOneFailures(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("uses /bin/sh")
	}
	testenv.VerifyNoLeaks(t)
	dir := t.TempDir()
	script := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name, body string
		want       string
	}{
		{"exit", "exit 3", "exit status 3"},
		{"garbage", "echo progress; echo '{not json'", "bad result"},
		{"no scenario", "echo '{\"value\": 1}'", "names no scenario"},
		{"hangs", "exec sleep 30", "no result within"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runOne(script(tc.name, tc.body), harness.Seq, true, 500*time.Millisecond)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
	r, err := runOne(script("ok", `echo 'progress line'; echo '{"impl":"x","scenario":"seq","value":2.5}'`), harness.Seq, true, time.Minute)
	if err != nil || r.Value != 2.5 || r.Impl != "x" {
		t.Fatalf("runOne = %+v, %v", r, err)
	}
}

func TestNum(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want string
	}{
		{0.123, "0.12"},
		{9.999, "10.00"},
		{12.34, "12.3"},
		{123.4, "123"},
		{9999, "9999"},
		{72117.4, "72 117"},
		{1234567, "1 234 567"},
	} {
		if got := num(tc.v); got != tc.want {
			t.Errorf("num(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

// report returns a Report of three runs in which procwire's figures are
// the given multiples of the others'.
func report(concRatio, cpuRatio float64) Report {
	rep := Report{Date: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Go: "go1.x", Machine: "test", Runs: 3,
		Load: []string{"1.00 1.00 1.00", "2.00 2.00 2.00"}, Results: map[string]map[string][]harness.Result{}}
	add := func(impl, sc string, v, cpu float64) {
		if rep.Results[impl] == nil {
			rep.Results[impl] = map[string][]harness.Result{}
		}
		rep.Results[impl][sc] = append(rep.Results[impl][sc], harness.Result{Impl: impl, Scenario: sc, Value: v, ParentCPU: cpu, ChildCPU: cpu})
	}
	for run := range 3 {
		k := float64(run + 1) // the runs differ, and so does procwire's ratio in run 3
		add(nr, harness.Conc64, 1000*k, 10)
		c := concRatio
		if run == 2 {
			c = concRatio / 2
		}
		add(pw, harness.Conc64, 1000*k*c, 10*cpuRatio)
		add(gp, harness.Conc64, 500*k, 20)
		add(rs, harness.Seq, 10, 5)
		add(nr, harness.Seq, 30, 15)
		add(pw, harness.Seq, 20, 15)
	}
	rep.Results[nr][harness.Stream] = []harness.Result{{Note: "one call per chunk"}}
	return rep
}

func TestPrintReport(t *testing.T) {
	var b bytes.Buffer
	printReport(&b, report(1.5, 0.8))
	out := b.String()
	for _, want := range []string{
		"2026-12-01, go1.x, test; medians of 3 interleaved runs; load average (1, 5, 15 min) 1.00 1.00 1.00 at the start, 2.00 2.00 2.00 at the end",
		"| small echo, 64 concurrent callers (calls/s) ↑ | 2250 | 1000 | 2000 | 3.00× (1.50–3.00) | 1.50× (0.75–1.50) |",
		"|   parent CPU per call (µs) ↓ | 8.00 | 20.0 | 10.0 | 0.40× (0.40–0.40) | 0.80× (0.80–0.80) |",
		"| small echo, sequential, p50 (µs) ↓ | 20.0 | – | 30.0 | – | 0.67× (0.67–0.67) |",
		"net/rpc stream: one call per chunk.",
		"ping-pong p50 10.0 µs",
		"procwire's p50 ÷ raw 2.00×",
		"| 64 concurrent callers: calls/s ≥ 1.2 × net/rpc's | 1.50× (0.75–1.50) | holds |",
		"| parent CPU per call at 64 callers ≤ net/rpc's | 0.80× (0.80–0.80) | holds |",
		"| sequential p50 ≤ net/rpc's | 0.67× (0.67–0.67) | holds |",
		"| sequential p50 ≤ 1.5 × the raw ping-pong | 2.00× (2.00–2.00) | **not met** |",
		"| bytes echo 64 MiB ≥ 3 × go-plugin's MB/s | – | – |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "bytes echo 1 MiB") {
		t.Errorf("report shows rows of scenarios that did not run:\n%s", out)
	}

	b.Reset()
	printReport(&b, report(1.1, 1.3))
	out = b.String()
	for _, want := range []string{
		"| 64 concurrent callers: calls/s ≥ 1.2 × net/rpc's | 1.10× (0.55–1.10) | **not met** |",
		"| parent CPU per call at 64 callers ≤ net/rpc's | 1.30× (1.30–1.30) | **not met** |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}
