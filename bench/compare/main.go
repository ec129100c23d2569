// Command compare runs the same service — a ~100-byte struct echo, a
// bytes echo and a stream of 1 MiB chunks — over three ways a Go program
// can drive a child process: procwire (the Go parent and a Go worker),
// hashicorp/go-plugin v1.8.0 (gRPC over a Unix socket) and the standard
// library's net/rpc (gob over the child's stdin and stdout), plus a raw
// Unix socket ping-pong as the floor of a small call. Every scenario runs
// each implementation in a fresh parent process with a fresh child, the
// implementations one after the other (their order rotating from run to
// run) before the next scenario, and the whole is repeated -runs times.
// It prints Markdown tables of the medians, of the ratios procwire ÷ each
// other (median and spread of the per-run ratios) and of the targets of
// issue 13, and writes every figure to a JSON file.
//
//	cd bench/compare
//	go run . -runs 5                        # bench/out/compare-results.json
//	go run . -quick -runs 1                 # smoke test: one tiny iteration of each
//	go run . -render ../../docs/bench-compare-results.json  # reprint saved results
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/procwire/procwire-go/bench/compare/internal/harness"
	"github.com/procwire/procwire-go/internal/testenv"
)

// impl is one implementation program (a directory of this module).
type impl struct {
	Name string // as in harness.Result.Impl
	Dir  string // package directory, also the binary's name
	// Only, if set, lists the scenarios it runs (the raw socket).
	Only []string
}

var impls = []impl{
	{Name: "procwire", Dir: "procwire"},
	{Name: "go-plugin", Dir: "goplugin"},
	{Name: "net/rpc", Dir: "netrpc"},
	{Name: "raw socket", Dir: "rawsocket", Only: []string{harness.Spawn, harness.Seq}},
}

// Report is what the JSON file holds.
type Report struct {
	Date    time.Time `json:"date"`
	Machine string    `json:"machine"`
	Go      string    `json:"go"`
	Runs    int       `json:"runs"`
	// Library says which procwire-go was measured: its commit and how
	// many of its tracked files differed from it, or its directory.
	Library string `json:"library"`
	Quick   bool   `json:"quick"`
	// Load is /proc/loadavg before and after each run: the machine is
	// shared, and a busy machine slows every implementation.
	Load []string `json:"loadavg"`
	// Results holds every run: Results[impl][scenario][run].
	Results map[string]map[string][]harness.Result `json:"results"`
}

func main() {
	runs := flag.Int("runs", 5, "interleaved runs of every scenario")
	quick := flag.Bool("quick", false, "one tiny iteration of every scenario (smoke test)")
	out := flag.String("out", filepath.Join(moduleDir(), "..", "out", "compare-results.json"), "the JSON `file` to write")
	render := flag.String("render", "", "print the tables of a saved results `file` and exit")
	only := flag.String("scenarios", "", "comma-separated scenarios to run (default all: "+strings.Join(harness.Scenarios, ",")+")")
	timeout := flag.Duration("timeout", 5*time.Minute, "limit on one scenario of one implementation")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("compare: ")

	if *render != "" {
		b, err := os.ReadFile(*render)
		if err != nil {
			log.Fatal(err)
		}
		var rep Report
		if err := json.Unmarshal(b, &rep); err != nil {
			log.Fatalf("%s: %v", *render, err)
		}
		printReport(os.Stdout, rep)
		return
	}
	scenarios := harness.Scenarios
	if *only != "" {
		scenarios = strings.Split(*only, ",")
		for _, s := range scenarios {
			if !slices.Contains(harness.Scenarios, s) {
				log.Fatalf("unknown scenario %q (have %s)", s, strings.Join(harness.Scenarios, ", "))
			}
		}
	}
	if *runs < 1 {
		log.Fatal("-runs must be at least 1")
	}

	bin, err := os.MkdirTemp("", "bench-compare-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(bin)
	if err := build(bin); err != nil {
		log.Fatal(err)
	}
	rep := Report{
		Date: time.Now().UTC(), Machine: testenv.Machine(), Go: runtime.Version(), Runs: *runs, Quick: *quick,
		Library: library(),
		Results: map[string]map[string][]harness.Result{},
	}
	for r := range *runs {
		rep.Load = append(rep.Load, loadavg())
		for _, sc := range scenarios {
			for i := range impls {
				im := impls[(i+r)%len(impls)] // rotate who goes first
				if im.Only != nil && !slices.Contains(im.Only, sc) {
					continue
				}
				log.Printf("run %d/%d: %s, %s", r+1, *runs, sc, im.Name)
				res, err := runOne(filepath.Join(bin, im.Dir), sc, *quick, *timeout)
				if err != nil {
					log.Fatalf("%s, %s: %v", im.Name, sc, err)
				}
				if rep.Results[im.Name] == nil {
					rep.Results[im.Name] = map[string][]harness.Result{}
				}
				rep.Results[im.Name][sc] = append(rep.Results[im.Name][sc], res)
			}
		}
		rep.Load = append(rep.Load, loadavg())
	}
	printReport(os.Stdout, rep)
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		log.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("\nresults: %s\n", *out)
}

// moduleDir returns the directory of this module: beside this source file
// (go run), else the working directory.
func moduleDir() string {
	if _, file, _, ok := runtime.Caller(0); ok {
		dir := filepath.Dir(file)
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
	}
	wd, _ := os.Getwd()
	return wd
}

// build compiles the implementation programs into dir.
func build(dir string) error {
	goCmd := os.Getenv("GO")
	if goCmd == "" {
		goCmd = "go"
	}
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	for _, im := range impls {
		args = append(args, "./"+im.Dir)
	}
	cmd := exec.Command(goCmd, args...)
	cmd.Dir = moduleDir()
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build in %s: %w", cmd.Dir, err)
	}
	return nil
}

// runOne runs one scenario of the implementation program at path and
// returns the Result it printed.
func runOne(path, scenario string, quick bool, timeout time.Duration) (harness.Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	args := []string{"-scenario", scenario}
	if quick {
		args = append(args, "-quick")
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stderr = os.Stderr
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.Output()
	if ctx.Err() != nil {
		return harness.Result{}, fmt.Errorf("no result within %v", timeout)
	}
	if err != nil {
		return harness.Result{}, err
	}
	return parseResult(out)
}

// parseResult decodes the last line of a program's output.
func parseResult(out []byte) (harness.Result, error) {
	out = bytes.TrimSpace(out)
	if i := bytes.LastIndexByte(out, '\n'); i >= 0 {
		out = out[i+1:]
	}
	var r harness.Result
	if err := json.Unmarshal(out, &r); err != nil {
		return r, fmt.Errorf("bad result %q: %w", out, err)
	}
	if r.Scenario == "" {
		return r, errors.New("result names no scenario")
	}
	return r, nil
}

// library describes the procwire-go module the programs were built with
// (the replace directive's directory): its git commit and the number of
// tracked files changed since, else its directory.
func library() string {
	goCmd := os.Getenv("GO")
	if goCmd == "" {
		goCmd = "go"
	}
	cmd := exec.Command(goCmd, "list", "-m", "-f", "{{.Dir}}", "github.com/procwire/procwire-go")
	cmd.Dir = moduleDir()
	out, err := cmd.Output()
	if err != nil {
		return "?"
	}
	dir := strings.TrimSpace(string(out))
	head, err := exec.Command("git", "-C", dir, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return dir
	}
	desc := "commit " + strings.TrimSpace(string(head))
	if st, err := exec.Command("git", "-C", dir, "status", "--porcelain", "--untracked-files=no").Output(); err == nil {
		if n := strings.Count(string(st), "\n"); n > 0 {
			desc += fmt.Sprintf(" with %d tracked files modified", n)
		}
	}
	return desc
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}
