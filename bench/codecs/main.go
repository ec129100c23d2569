// Command codecs compares the Go codecs with @procwire/codecs 2.0.0 in
// Node on the payloads that both sides' benchmarks encode and decode: the
// small object of about a hundred bytes, a 1 MiB bin and the 10 000-row
// Arrow table. It builds the Go benchmarks of codec and codec/arrowcodec
// once, then runs them and interop/codec-bench.mjs in alternating rounds,
// and prints, for each case, both sides' time and CPU time per operation
// in every round, the median of the per-round ratios Go ÷ Node with their
// range, and the target of issue 13 where there is one (items 4 and 6),
// marked holds or not met.
//
//	go run ./bench/codecs             # 3 rounds, about 2 minutes
//	go run ./bench/codecs -quick      # one short round (smoke test)
//
// The CPU time is every thread's (the Go benchmarks' cpu-ns/op, from
// internal/cputime; Node's process.cpuUsage), the garbage collectors'
// included, which a wall-clock ns/op leaves out when the collector runs on
// another CPU. The targets are judged on it; the wall time is printed
// beside it.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/procwire/procwire-go/internal/testenv"
)

// A benchCase pairs a Go benchmark with the Node case that measures the
// same work.
type benchCase struct {
	Name   string  `json:"name"`
	Pkg    string  `json:"-"`      // the Go package, relative to the module root
	Go     string  `json:"go"`     // the Go benchmark, as go test names it
	Node   string  `json:"node"`   // the Node case (codec-bench.mjs)
	Target float64 `json:"target"` // Go ÷ Node at most (0: no target)
	Item   string  `json:"item"`   // issue 13's item the target is from
}

var cases = []benchCase{
	{"msgpack, small object, encode", "codec", "MsgPackSmall/encode", "msgpack/small/encode", 0.5, "4"},
	{"msgpack, small object, decode into its struct", "codec", "MsgPackDecode/small/struct", "msgpack/small/decode", 1.0, "4"},
	{"msgpack, small object, decode into any", "codec", "MsgPackDecode/small/any", "msgpack/small/decode", 0, ""},
	{"msgpack, 1 MiB bin, encode", "codec", "MsgPack1MiB/encode", "msgpack/1MiB/encode", 0, ""},
	{"msgpack, 1 MiB bin, decode (Go copies it; Node returns a view)", "codec", "MsgPackDecode/1MiB", "msgpack/1MiB/decode", 0, ""},
	{"Arrow, 10 000 rows, encode", "codec/arrowcodec", "Marshal", "arrow/encode/10000rows", 0, ""},
	{"Arrow, decode by copy (Unmarshal, the default)", "codec/arrowcodec", "Unmarshal/copy", "arrow/decode/10000rows", 1.5, "6"},
	{"Arrow, decode by copy with arrowcodec.Pool", "codec/arrowcodec", "Unmarshal/copy-pool", "arrow/decode/10000rows", 0, ""},
	{"Arrow, decode by reference (UnmarshalOwned)", "codec/arrowcodec", "Unmarshal/owned", "arrow/decode/10000rows", 0, ""},
}

// Sample is one measurement of one side in one round.
type Sample struct {
	NsPerOp    float64 `json:"nsPerOp"`
	CPUNsPerOp float64 `json:"cpuNsPerOp"`
	AllocsOp   float64 `json:"allocsPerOp,omitempty"`
	BytesOp    float64 `json:"bytesPerOp,omitempty"`
}

// Report is what a run writes to -out.
type Report struct {
	Date    string   `json:"date"`
	Go      string   `json:"go"`
	Node    string   `json:"node"`
	Machine string   `json:"machine"`
	Rounds  int      `json:"rounds"`
	Cases   []Result `json:"cases"`
}

// Result is one case's samples, round by round.
type Result struct {
	benchCase
	GoSamples   []Sample `json:"goSamples"`
	NodeSamples []Sample `json:"nodeSamples"`
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("codecs: ")
	rounds := flag.Int("rounds", 3, "rounds, Go and Node alternating")
	quick := flag.Bool("quick", false, "one short round (smoke test)")
	out := flag.String("out", filepath.Join(testenv.ModuleRoot(), "bench", "out", "codecs.json"), "the JSON `file` to write")
	flag.Parse()
	if *quick {
		*rounds = 1
	}
	node, err := testenv.NodePath()
	if err != nil {
		log.Fatal(err)
	}
	bins, dir, err := buildBenchmarks()
	if dir != "" {
		defer os.RemoveAll(dir)
	}
	if err != nil {
		log.Fatal(err)
	}
	results := make([]Result, len(cases))
	for i, c := range cases {
		results[i].benchCase = c
	}
	for r := 1; r <= *rounds; r++ {
		log.Printf("round %d/%d: Go", r, *rounds)
		for pkg, bin := range bins {
			got, err := runGo(bin, pkg, *quick)
			if err != nil {
				log.Fatal(err)
			}
			for i, c := range cases {
				if c.Pkg == pkg {
					s, ok := got[c.Go]
					if !ok {
						log.Fatalf("%s: no result for Benchmark%s", pkg, c.Go)
					}
					results[i].GoSamples = append(results[i].GoSamples, s)
				}
			}
		}
		log.Printf("round %d/%d: Node", r, *rounds)
		got, err := runNode(node, *quick)
		if err != nil {
			log.Fatal(err)
		}
		for i, c := range cases {
			s, ok := got[c.Node]
			if !ok {
				log.Fatalf("codec-bench.mjs: no result for %s", c.Node)
			}
			results[i].NodeSamples = append(results[i].NodeSamples, s)
		}
	}
	rep := Report{
		Date: time.Now().Format(time.DateOnly), Go: goVersion(), Node: nodeVersion(node),
		Machine: testenv.Machine(), Rounds: *rounds, Cases: results,
	}
	printReport(os.Stdout, rep)
	b, _ := json.MarshalIndent(rep, "", "  ")
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("\nresults: %s\n", *out)
}

// buildBenchmarks compiles the test binaries of the packages the cases
// name into a new temporary directory, which the caller removes, and
// returns their paths by package.
func buildBenchmarks() (bins map[string]string, dir string, err error) {
	if dir, err = os.MkdirTemp("", "bench-codecs-"); err != nil {
		return nil, "", err
	}
	bins = map[string]string{}
	for _, c := range cases {
		if bins[c.Pkg] != "" {
			continue
		}
		bin := filepath.Join(dir, strings.ReplaceAll(c.Pkg, "/", "_")+".test")
		log.Printf("building the benchmarks of %s", c.Pkg)
		if err := run(nil, testenv.ModuleRoot(), goCmd(), "test", "-c", "-o", bin, "./"+c.Pkg); err != nil {
			return nil, dir, err
		}
		bins[c.Pkg] = bin
	}
	return bins, dir, nil
}

// runGo runs the benchmarks of one package's test binary that some case
// names (with their other sub-benchmarks), and returns their samples by
// name (without "Benchmark" and the GOMAXPROCS suffix).
func runGo(bin, pkg string, quick bool) (map[string]Sample, error) {
	var top []string
	for _, c := range cases {
		if c.Pkg == pkg {
			t, _, _ := strings.Cut(c.Go, "/")
			top = append(top, regexp.QuoteMeta(t))
		}
	}
	benchtime := "1s"
	if quick {
		benchtime = "10x"
	}
	var buf bytes.Buffer
	// In the package's directory, where its testdata is.
	err := run(&buf, filepath.Join(testenv.ModuleRoot(), pkg), bin, "-test.run", "^$",
		"-test.bench", "^Benchmark("+strings.Join(dedup(top), "|")+")$", "-test.benchmem", "-test.benchtime", benchtime)
	if err != nil {
		return nil, fmt.Errorf("%s: %w\n%s", pkg, err, buf.Bytes())
	}
	return parseGo(buf.Bytes()), nil
}

// benchLine is a line of go test -bench output: the name, the iterations,
// then value-unit pairs.
var benchLine = regexp.MustCompile(`^Benchmark(\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)

// parseGo reads the samples of go test -bench output.
func parseGo(out []byte) map[string]Sample {
	got := map[string]Sample{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		var s Sample
		f := strings.Fields(m[2])
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch f[i+1] {
			case "ns/op":
				s.NsPerOp = v
			case "cpu-ns/op":
				s.CPUNsPerOp = v
			case "allocs/op":
				s.AllocsOp = v
			case "B/op":
				s.BytesOp = v
			}
		}
		got[m[1]] = s
	}
	return got
}

// runNode runs interop/codec-bench.mjs and returns its samples by name.
func runNode(node string, quick bool) (map[string]Sample, error) {
	var buf bytes.Buffer
	cmd := exec.Command(node, filepath.Join(testenv.InteropDir(), "codec-bench.mjs"))
	cmd.Stdout = &buf
	cmd.Stderr = os.Stderr
	if quick {
		cmd.Env = append(os.Environ(), "CODEC_BENCH_MS=20")
	}
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("codec-bench.mjs: %w", err)
	}
	got := map[string]Sample{}
	for line := range bytes.SplitSeq(buf.Bytes(), []byte("\n")) {
		var v struct {
			Name       string  `json:"name"`
			NsPerOp    float64 `json:"nsPerOp"`
			CPUNsPerOp float64 `json:"cpuNsPerOp"`
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if err := json.Unmarshal(line, &v); err != nil {
			return nil, fmt.Errorf("codec-bench.mjs: bad line %q: %w", line, err)
		}
		got[v.Name] = Sample{NsPerOp: v.NsPerOp, CPUNsPerOp: v.CPUNsPerOp}
	}
	return got, nil
}

// printReport prints the table of a report in Markdown.
func printReport(w io.Writer, rep Report) {
	fmt.Fprintf(w, "\nGo codecs ÷ @procwire/codecs (Node %s), %s, %s, %s; %d round(s), Go and Node alternating; CPU time per operation (every thread), wall time in brackets\n\n",
		rep.Node, rep.Date, rep.Go, rep.Machine, rep.Rounds)
	fmt.Fprintln(w, "| case | Go CPU ns/op, by round | allocs/op | Node CPU ns/op, by round | Go ÷ Node, CPU (wall) | target | |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	for _, r := range rep.Cases {
		cpu := ratios(r.GoSamples, r.NodeSamples, func(s Sample) float64 { return s.CPUNsPerOp })
		wall := ratios(r.GoSamples, r.NodeSamples, func(s Sample) float64 { return s.NsPerOp })
		target, status := "–", ""
		if r.Target > 0 {
			target = fmt.Sprintf("≤ %.1f (item %s)", r.Target, r.Item)
			status = "holds"
			if median(cpu) > r.Target {
				status = "**not met**"
			}
		}
		allocs := "–"
		if len(r.GoSamples) > 0 {
			allocs = strconv.FormatFloat(r.GoSamples[len(r.GoSamples)-1].AllocsOp, 'f', -1, 64)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s (%s) | %s | %s |\n", r.Name,
			samples(r.GoSamples), allocs, samples(r.NodeSamples), spread(cpu), spread(wall), target, status)
	}
}

// ratios returns Go ÷ Node of one measure, round by round.
func ratios(gs, ns []Sample, f func(Sample) float64) []float64 {
	var out []float64
	for i := range min(len(gs), len(ns)) {
		if d := f(ns[i]); d > 0 {
			out = append(out, f(gs[i])/d)
		}
	}
	return out
}

// samples formats the CPU time of samples, wall time in brackets.
func samples(ss []Sample) string {
	var parts []string
	for _, s := range ss {
		parts = append(parts, fmt.Sprintf("%s (%s)", num(s.CPUNsPerOp), num(s.NsPerOp)))
	}
	return strings.Join(parts, ", ")
}

// spread formats the median of xs with its range.
func spread(xs []float64) string {
	if len(xs) == 0 {
		return "–"
	}
	if len(xs) == 1 {
		return fmt.Sprintf("%.2f", xs[0])
	}
	return fmt.Sprintf("%.2f (%.2f–%.2f)", median(xs), slices.Min(xs), slices.Max(xs))
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// num formats a time in ns with three significant digits.
func num(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

func dedup(xs []string) []string {
	slices.Sort(xs)
	return slices.Compact(xs)
}

// run runs a command in dir, its output into w (stderr if nil).
func run(w io.Writer, dir, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if w == nil {
		w = os.Stderr
	}
	cmd.Stdout, cmd.Stderr = w, w
	return cmd.Run()
}

func goCmd() string {
	if g := os.Getenv("GO"); g != "" {
		return g
	}
	return "go"
}

func goVersion() string {
	out, err := exec.Command(goCmd(), "env", "GOVERSION").Output()
	if err != nil {
		return "go?"
	}
	return strings.TrimSpace(string(out))
}

func nodeVersion(node string) string {
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(out))
}
