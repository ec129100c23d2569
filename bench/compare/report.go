package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/procwire/procwire-go/bench/compare/internal/harness"
)

// metric is one row of the table: a figure of one scenario.
type metric struct {
	name     string
	scenario string
	value    func(harness.Result) float64
}

func value(r harness.Result) float64     { return r.Value }
func p99(r harness.Result) float64       { return r.P99 }
func childCPU(r harness.Result) float64  { return r.ChildCPU }
func parentCPU(r harness.Result) float64 { return r.ParentCPU }
func childMiB(r harness.Result) float64  { return r.ChildRSS / (1 << 20) }
func parentMiB(r harness.Result) float64 { return r.ParentRSS / (1 << 20) }

// cpuRows are the two CPU rows of a scenario, per unit.
func cpuRows(sc, unit string) []metric {
	return []metric{
		{"  child CPU per " + unit + " (µs) ↓", sc, childCPU},
		{"  parent CPU per " + unit + " (µs) ↓", sc, parentCPU},
	}
}

func metrics() []metric {
	m := []metric{
		{"spawn to first reply (ms) ↓", harness.Spawn, value},
		{"  child idle RSS (MiB) ↓", harness.Spawn, childMiB},
		{"  parent idle RSS (MiB) ↓", harness.Spawn, parentMiB},
		{"small echo, sequential, p50 (µs) ↓", harness.Seq, value},
		{"  p99 (µs) ↓", harness.Seq, p99},
	}
	m = append(m, cpuRows(harness.Seq, "call")...)
	m = append(m, metric{"small echo, 64 concurrent callers (calls/s) ↑", harness.Conc64, value})
	m = append(m, cpuRows(harness.Conc64, "call")...)
	for _, b := range []struct{ sc, size string }{{harness.Bytes1, "1"}, {harness.Bytes16, "16"}, {harness.Bytes64, "64"}} {
		m = append(m, metric{"bytes echo " + b.size + " MiB (MB/s, both ways) ↑", b.sc, value})
		m = append(m, cpuRows(b.sc, "MiB")...)
	}
	m = append(m,
		metric{"  child peak RSS, 64 MiB echo (MiB) ↓", harness.Bytes64, childMiB},
		metric{"  parent peak RSS, 64 MiB echo (MiB) ↓", harness.Bytes64, parentMiB},
		metric{"stream 256 × 1 MiB (MB/s) ↑", harness.Stream, value},
	)
	m = append(m, cpuRows(harness.Stream, "MiB")...)
	return append(m,
		metric{"  child peak RSS, stream (MiB) ↓", harness.Stream, childMiB},
		metric{"  parent peak RSS, stream (MiB) ↓", harness.Stream, parentMiB},
	)
}

// series returns one figure of every run of impl's scenario.
func series(rep Report, impl, sc string, f func(harness.Result) float64) []float64 {
	var xs []float64
	for _, r := range rep.Results[impl][sc] {
		xs = append(xs, f(r))
	}
	return xs
}

// ratios returns a[i] ÷ b[i] for the runs both have.
func ratios(a, b []float64) []float64 {
	var rs []float64
	for i := range min(len(a), len(b)) {
		if b[i] != 0 {
			rs = append(rs, a[i]/b[i])
		}
	}
	return rs
}

// median returns the median of xs, or NaN for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// num formats a figure: grouped thousands from 10 000 on, fewer decimals
// for larger numbers, "–" for none.
func num(v float64) string {
	switch {
	case math.IsNaN(v):
		return "–"
	case v >= 10000:
		s := strconv.FormatInt(int64(math.Round(v)), 10)
		var b strings.Builder
		for i, c := range s {
			if i > 0 && (len(s)-i)%3 == 0 {
				b.WriteByte(' ')
			}
			b.WriteRune(c)
		}
		return b.String()
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// ratio formats the median of rs and, for more than one run, its range.
func ratio(rs []float64) string {
	if len(rs) == 0 {
		return "–"
	}
	s := fmt.Sprintf("%.2f×", median(rs))
	if len(rs) > 1 {
		s += fmt.Sprintf(" (%.2f–%.2f)", slices.Min(rs), slices.Max(rs))
	}
	return s
}

const (
	pw = "procwire"
	gp = "go-plugin"
	nr = "net/rpc"
	rs = "raw socket"
)

// printReport prints the tables of rep in Markdown.
func printReport(w io.Writer, rep Report) {
	load := ""
	if len(rep.Load) > 0 {
		load = fmt.Sprintf("; load average (1, 5, 15 min) %s at the start, %s at the end", rep.Load[0], rep.Load[len(rep.Load)-1])
	}
	quick := ""
	if rep.Quick {
		quick = " (-quick: a smoke test, not figures)"
	}
	lib := ""
	if rep.Library != "" {
		lib = "; procwire-go " + rep.Library
	}
	fmt.Fprintf(w, "\nprocwire vs go-plugin (gRPC) vs net/rpc (gob), Go parent and Go child; %s, %s, %s%s; medians of %d interleaved runs%s%s\n\n",
		rep.Date.Format("2006-01-02"), rep.Go, rep.Machine, lib, rep.Runs, quick, load)
	fmt.Fprintf(w, "| scenario | %s | %s | %s | %s ÷ %s | %s ÷ %s |\n|---|---|---|---|---|---|\n", pw, gp, nr, pw, gp, pw, nr)
	for _, m := range metrics() {
		p, g, n := series(rep, pw, m.scenario, m.value), series(rep, gp, m.scenario, m.value), series(rep, nr, m.scenario, m.value)
		if len(p)+len(g)+len(n) == 0 {
			continue
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", m.name, num(median(p)), num(median(g)), num(median(n)), ratio(ratios(p, g)), ratio(ratios(p, n)))
	}
	if notes := rep.Results[nr][harness.Stream]; len(notes) > 0 && notes[0].Note != "" {
		fmt.Fprintf(w, "\nnet/rpc stream: %s.\n", notes[0].Note)
	}
	seq := func(impl string, f func(harness.Result) float64) []float64 { return series(rep, impl, harness.Seq, f) }
	if raw := seq(rs, value); len(raw) > 0 {
		fmt.Fprintf(w, "\nraw Unix socket, 100-byte frames, no SDK (the floor): ping-pong p50 %s µs, p99 %s µs, CPU per round trip child %s µs, parent %s µs; procwire's p50 ÷ raw %s\n",
			num(median(raw)), num(median(seq(rs, p99))), num(median(seq(rs, childCPU))), num(median(seq(rs, parentCPU))), ratio(ratios(seq(pw, value), raw)))
	}
	printTargets(w, rep)
}

// printTargets prints the targets of issue 13, item 3, with this run's
// ratios (medians of the per-run ratios).
func printTargets(w io.Writer, rep Report) {
	type target struct {
		what    string
		got     []float64
		limit   float64
		atLeast bool
	}
	r := func(a, b, sc string, f func(harness.Result) float64) []float64 {
		return ratios(series(rep, a, sc, f), series(rep, b, sc, f))
	}
	ts := []target{
		{"64 concurrent callers: calls/s ≥ 1.2 × net/rpc's", r(pw, nr, harness.Conc64, value), 1.2, true},
		{"parent CPU per call at 64 callers ≤ net/rpc's", r(pw, nr, harness.Conc64, parentCPU), 1, false},
		{"sequential p50 ≤ net/rpc's", r(pw, nr, harness.Seq, value), 1, false},
		{"sequential p50 ≤ 1.5 × the raw ping-pong", r(pw, rs, harness.Seq, value), 1.5, false},
		{"bytes echo 64 MiB ≥ 3 × go-plugin's MB/s", r(pw, gp, harness.Bytes64, value), 3, true},
		{"stream 256 × 1 MiB ≥ 3 × go-plugin's MB/s", r(pw, gp, harness.Stream, value), 3, true},
	}
	fmt.Fprintf(w, "\n| target (issue 13, item 3) | procwire ÷ other, this run | |\n|---|---|---|\n")
	for _, t := range ts {
		verdict := "–"
		if len(t.got) > 0 {
			m := median(t.got)
			if (t.atLeast && m >= t.limit) || (!t.atLeast && m <= t.limit) {
				verdict = "holds"
			} else {
				verdict = "**not met**"
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s |\n", t.what, ratio(t.got), verdict)
	}
}
