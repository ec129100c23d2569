// Command bench compares Procwire workers under the real @procwire/core
// parent: the Go conformance worker, the official Node worker
// (@procwire/client) and a null worker that does no codec work (the
// parent's own ceiling), in alternating repetitions, plus a raw Unix socket
// ceiling with no parent at all. It prints a table of medians with the
// Go/ceiling and Go/Node ratios, writes the results as JSON and renders a
// chart of raw echo throughput against payload size.
//
//	go run ./bench                 # 3 repetitions, results in bench/out/
//	go run ./bench -reps 5 -quick  # shorter scenarios, more repetitions
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/procwire/procwire-go/internal/testenv"
)

// Result is one benchmark run of one implementation (interop/bench.mjs).
type Result struct {
	SpawnMs               float64            `json:"spawnMs"`
	IdleRSSBytes          float64            `json:"idleRssBytes"`
	SeqP50us              float64            `json:"seqP50us"`
	SeqP99us              float64            `json:"seqP99us"`
	Inflight64Rps         float64            `json:"inflight64Rps"`
	Sweep                 map[string]float64 `json:"sweep"`
	Echo64MiBMBps         float64            `json:"echo64MiBMBps"`
	Echo64MiBPeakRSSBytes float64            `json:"echo64MiBPeakRssBytes"`
	Stream256MBps         float64            `json:"stream256MBps"`
	ShutdownMs            float64            `json:"shutdownMs"`

	// CPU time of the worker and of the parent process (from the kernel's
	// per-thread accounting), per request or per MiB moved.
	SeqCPU        CPUCost `json:"seqCpuUs"`             // µs per sequential small echo
	Inflight64CPU CPUCost `json:"inflight64CpuUs"`      // µs per small echo, 64 in flight
	Echo64MiBCPU  CPUCost `json:"echo64MiBCpuUsPerMiB"` // µs per MiB of the 64 MiB echo (both ways)
	Stream256CPU  CPUCost `json:"stream256CpuUsPerMiB"` // µs per MiB streamed
}

// CPUCost is CPU time per unit of work, in µs, of each process.
type CPUCost struct {
	Worker float64 `json:"worker"`
	Parent float64 `json:"parent"`
}

type impl struct {
	Name string   `json:"name"`
	Cmd  string   `json:"command"`
	Args []string `json:"args"`
}

// Report is what bench writes to results.json.
type Report struct {
	Date     time.Time            `json:"date"`
	Machine  string               `json:"machine"`
	Go       string               `json:"go"`
	Node     string               `json:"node"`
	Reps     int                  `json:"reps"`
	Quick    bool                 `json:"quick"`
	Runs     map[string][]Result  `json:"runs"`
	Medians  map[string]Result    `json:"medians"`
	RawMBps  float64              `json:"rawSocketPumpMBps"`
	RawP50us float64              `json:"rawSocketPingPongP50us"`
	Raw      map[string][]float64 `json:"rawRuns"`
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == rawChildArg {
		rawChild(os.Args[2])
		return
	}
	reps := flag.Int("reps", 3, "repetitions of each implementation, interleaved")
	quick := flag.Bool("quick", false, "shorter scenarios (for CI smoke runs)")
	outDir := flag.String("out", filepath.Join(testenv.InteropDir(), "..", "bench", "out"), "directory for results.json and throughput.svg")
	baseline := flag.String("baseline", "", "also run the conformance worker binary at `PATH` (built from an earlier commit), interleaved, and compare Go with it")
	render := flag.String("render", "", "print the table and redraw the chart of a saved results.json, without running anything")
	flag.Parse()
	log.SetFlags(0)
	if *render != "" {
		b, err := os.ReadFile(*render)
		if err != nil {
			log.Fatal(err)
		}
		var rep Report
		if err := json.Unmarshal(b, &rep); err != nil {
			log.Fatal(err)
		}
		printTable(os.Stdout, rep)
		writeCharts(filepath.Dir(*render), rep)
		return
	}

	node, err := testenv.NodePath()
	if err != nil {
		log.Fatal(err)
	}
	tmp, err := os.MkdirTemp("", "procwire-bench-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	goWorker, err := testenv.BuildWorker("./examples/conformance", tmp)
	if err != nil {
		log.Fatal(err)
	}
	nullWorker, err := testenv.BuildWorker("./bench/nullworker", tmp)
	if err != nil {
		log.Fatal(err)
	}
	impls := []impl{
		{Name: "null", Cmd: nullWorker},
		{Name: "go", Cmd: goWorker},
		{Name: "node", Cmd: node, Args: []string{filepath.Join(testenv.InteropDir(), "bench-node-worker.mjs")}},
	}
	if *baseline != "" {
		impls = append(impls, impl{Name: "base", Cmd: *baseline})
	}

	rep := Report{
		Date: time.Now().UTC(), Go: runtime.Version(), Reps: *reps, Quick: *quick,
		Machine: testenv.Machine(), Node: nodeVersion(node),
		Runs: map[string][]Result{}, Medians: map[string]Result{}, Raw: map[string][]float64{},
	}
	for r := 1; r <= *reps; r++ {
		for _, im := range impls {
			log.Printf("rep %d/%d: %s worker", r, *reps, im.Name)
			res, err := runOne(im, *quick)
			if err != nil {
				log.Fatalf("%s: %v", im.Name, err)
			}
			rep.Runs[im.Name] = append(rep.Runs[im.Name], res)
		}
		log.Printf("rep %d/%d: raw socket", r, *reps)
		pump, pp, err := rawSocket(*quick)
		if err != nil {
			log.Fatalf("raw socket: %v", err)
		}
		rep.Raw["pumpMBps"] = append(rep.Raw["pumpMBps"], pump)
		rep.Raw["pingPongP50us"] = append(rep.Raw["pingPongP50us"], pp)
	}
	for _, im := range impls {
		rep.Medians[im.Name] = medianResult(rep.Runs[im.Name])
	}
	rep.RawMBps = median(rep.Raw["pumpMBps"])
	rep.RawP50us = median(rep.Raw["pingPongP50us"])

	printTable(os.Stdout, rep)
	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		log.Fatal(err)
	}
	b, _ := json.MarshalIndent(rep, "", "  ")
	jsonPath := filepath.Join(*outDir, "results.json")
	if err := os.WriteFile(jsonPath, b, 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("\nresults: %s\n", jsonPath)
	writeCharts(*outDir, rep)
}

// writeCharts writes the throughput chart and the CPU chart into dir.
func writeCharts(dir string, rep Report) {
	for name, svg := range map[string][]byte{"throughput.svg": chart(rep), "cpu.svg": cpuChart(rep)} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, svg, 0o644); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("chart:   %s\n", path)
	}
}

// runOne runs interop/bench.mjs against one implementation.
func runOne(im impl, quick bool) (Result, error) {
	node, _ := testenv.NodePath()
	args := []string{filepath.Join(testenv.InteropDir(), "bench.mjs")}
	if quick {
		args = append(args, "quick")
	}
	cmd := exec.Command(node, args...)
	cmd.Dir = testenv.InteropDir()
	wargs, _ := json.Marshal(im.Args)
	cmd.Env = append(os.Environ(), "PROCWIRE_WORKER="+im.Cmd, "PROCWIRE_WORKER_ARGS="+string(wargs))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return Result{}, err
	}
	var r Result
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	if err := json.Unmarshal(lines[len(lines)-1], &r); err != nil {
		return Result{}, fmt.Errorf("bad output %q: %v", out, err)
	}
	return r, nil
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func medianResult(rs []Result) Result {
	pick := func(f func(Result) float64) float64 {
		xs := make([]float64, len(rs))
		for i, r := range rs {
			xs[i] = f(r)
		}
		return median(xs)
	}
	m := Result{
		SpawnMs:               pick(func(r Result) float64 { return r.SpawnMs }),
		IdleRSSBytes:          pick(func(r Result) float64 { return r.IdleRSSBytes }),
		SeqP50us:              pick(func(r Result) float64 { return r.SeqP50us }),
		SeqP99us:              pick(func(r Result) float64 { return r.SeqP99us }),
		Inflight64Rps:         pick(func(r Result) float64 { return r.Inflight64Rps }),
		Echo64MiBMBps:         pick(func(r Result) float64 { return r.Echo64MiBMBps }),
		Echo64MiBPeakRSSBytes: pick(func(r Result) float64 { return r.Echo64MiBPeakRSSBytes }),
		Stream256MBps:         pick(func(r Result) float64 { return r.Stream256MBps }),
		ShutdownMs:            pick(func(r Result) float64 { return r.ShutdownMs }),
		Sweep:                 map[string]float64{},
	}
	for k := range rs[0].Sweep {
		m.Sweep[k] = pick(func(r Result) float64 { return r.Sweep[k] })
	}
	cost := func(f func(Result) CPUCost) CPUCost {
		return CPUCost{
			Worker: pick(func(r Result) float64 { return f(r).Worker }),
			Parent: pick(func(r Result) float64 { return f(r).Parent }),
		}
	}
	m.SeqCPU = cost(func(r Result) CPUCost { return r.SeqCPU })
	m.Inflight64CPU = cost(func(r Result) CPUCost { return r.Inflight64CPU })
	m.Echo64MiBCPU = cost(func(r Result) CPUCost { return r.Echo64MiBCPU })
	m.Stream256CPU = cost(func(r Result) CPUCost { return r.Stream256CPU })
	return m
}

func printTable(w *os.File, rep Report) {
	n, g, o := rep.Medians["null"], rep.Medians["go"], rep.Medians["node"]
	fmt.Fprintf(w, "\nProcwire workers under @procwire/core 1.5.0 (Node %s), %s, %s; medians of %d interleaved runs\n\n", rep.Node, rep.Go, rep.Machine, rep.Reps)
	fmt.Fprintf(w, "%-36s %12s %12s %12s %10s %10s\n", "scenario", "null (ceil)", "Go", "Node", "Go/ceil", "Go/Node")
	row := func(name, unit string, nv, gv, ov float64, lowerBetter bool) {
		r1, r2 := gv/nv, gv/ov
		if lowerBetter {
			r1, r2 = gv/nv, gv/ov
		}
		fmt.Fprintf(w, "%-36s %12s %12s %12s %9.2fx %9.2fx\n", name, num(nv, unit), num(gv, unit), num(ov, unit), r1, r2)
	}
	cpu := func(what string, f func(Result) CPUCost) {
		row("  worker CPU "+what+" ↓", "", f(n).Worker, f(g).Worker, f(o).Worker, true)
		row("  parent CPU "+what+" ↓", "", f(n).Parent, f(g).Parent, f(o).Parent, true)
	}
	row("small echo round trip p50 (µs) ↓", "", n.SeqP50us, g.SeqP50us, o.SeqP50us, true)
	row("small echo round trip p99 (µs) ↓", "", n.SeqP99us, g.SeqP99us, o.SeqP99us, true)
	cpu("(µs/request)", func(r Result) CPUCost { return r.SeqCPU })
	row("small echo, 64 in flight (req/s) ↑", "", n.Inflight64Rps, g.Inflight64Rps, o.Inflight64Rps, false)
	cpu("(µs/request)", func(r Result) CPUCost { return r.Inflight64CPU })
	row("64 MiB raw echo (MB/s both ways) ↑", "", n.Echo64MiBMBps, g.Echo64MiBMBps, o.Echo64MiBMBps, false)
	cpu("(µs/MiB)", func(r Result) CPUCost { return r.Echo64MiBCPU })
	row("stream 256 × 1 MiB raw (MB/s) ↑", "", n.Stream256MBps, g.Stream256MBps, o.Stream256MBps, false)
	cpu("(µs/MiB)", func(r Result) CPUCost { return r.Stream256CPU })
	row("peak RSS during 64 MiB echo (MiB) ↓", "MiB", n.Echo64MiBPeakRSSBytes, g.Echo64MiBPeakRSSBytes, o.Echo64MiBPeakRSSBytes, true)
	row("idle RSS (MiB) ↓", "MiB", n.IdleRSSBytes, g.IdleRSSBytes, o.IdleRSSBytes, true)
	row("spawn to ready (ms, parent waits 100)", "", n.SpawnMs, g.SpawnMs, o.SpawnMs, true)
	row("manager.shutdown() (ms) ↓", "", n.ShutdownMs, g.ShutdownMs, o.ShutdownMs, true)
	if b, ok := rep.Medians["base"]; ok {
		fmt.Fprintf(w, "\nAgainst the baseline worker (-baseline), same run:\n\n%-36s %12s %12s %10s\n", "scenario", "baseline", "Go", "Go/base")
		cmp := func(name string, bv, gv float64) {
			fmt.Fprintf(w, "%-36s %12s %12s %9.2fx\n", name, num(bv, ""), num(gv, ""), gv/bv)
		}
		cmp("small echo round trip p50 (µs) ↓", b.SeqP50us, g.SeqP50us)
		cmp("small echo round trip p99 (µs) ↓", b.SeqP99us, g.SeqP99us)
		cmp("small echo, 64 in flight (req/s) ↑", b.Inflight64Rps, g.Inflight64Rps)
		cmp("64 MiB raw echo (MB/s both ways) ↑", b.Echo64MiBMBps, g.Echo64MiBMBps)
		cmp("stream 256 × 1 MiB raw (MB/s) ↑", b.Stream256MBps, g.Stream256MBps)
		cmp("peak RSS during 64 MiB echo (MiB) ↓", b.Echo64MiBPeakRSSBytes/(1<<20), g.Echo64MiBPeakRSSBytes/(1<<20))
		cmp("idle RSS (MiB) ↓", b.IdleRSSBytes/(1<<20), g.IdleRSSBytes/(1<<20))
	}
	fmt.Fprintf(w, "\nraw Unix socket, two Go processes, no parent: pump of 1 MiB frames %.0f MB/s; ping-pong p50 %.1f µs\n", rep.RawMBps, rep.RawP50us)
}

func num(v float64, unit string) string {
	if unit == "MiB" {
		return fmt.Sprintf("%.1f", v/(1<<20))
	}
	if v >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

func nodeVersion(node string) string {
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(out))
}
