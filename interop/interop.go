// Package interop runs the Node interop suites: the real @procwire/core
// parent (pinned in package.json, with its own Node 22 binary) drives the
// Go workers of this module. The Node side lives in the .mjs files beside
// this one; the Go tests build the workers and run the suites.
package interop

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
)

// Dir returns the absolute path of the interop directory.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}

// NodePath returns the pinned Node binary installed by `npm ci` in the
// interop directory, or an error saying how to install it.
func NodePath() (string, error) {
	p := filepath.Join(Dir(), "node_modules", "node", "bin", "node")
	if runtime.GOOS == "windows" {
		p = filepath.Join(Dir(), "node_modules", "node", "bin", "node.exe")
	}
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("the pinned Node is not installed (run `npm ci` in %s): %w", Dir(), err)
	}
	return p, nil
}

// BuildWorker builds the main package at pkg (an import path or ./ path
// relative to the module root) into dir and returns the executable's path.
func BuildWorker(pkg, dir string) (string, error) {
	out := filepath.Join(dir, filepath.Base(pkg))
	if runtime.GOOS == "windows" {
		out += ".exe"
	}
	args := []string{"build", "-o", out}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, pkg)...)
	cmd.Dir = filepath.Dir(Dir())
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return out, nil
}

// Result is the outcome of one top-level test of a Node suite.
type Result struct {
	Name string
	OK   bool
}

var tapLine = regexp.MustCompile(`^(not )?ok \d+ - (.*?)(?: # (SKIP|TODO).*)?$`)

// RunSuite runs a node:test suite file with the given extra environment,
// copies its output to log and returns the top-level results. err is
// non-nil if the suite could not run or exited non-zero.
func RunSuite(file string, env []string, log io.Writer) ([]Result, error) {
	node, err := NodePath()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(node, "--test", "--test-reporter=tap", "--test-timeout=120000", file)
	cmd.Dir = Dir()
	// Race-enabled workers otherwise sleep 1 s at exit (atexit_sleep_ms),
	// which would hide how fast they shut down. halt_on_error makes a race
	// in a worker fail its suite.
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0 halt_on_error=1")
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = log
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	var results []Result
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(log, line)
		if m := tapLine.FindStringSubmatch(line); m != nil {
			results = append(results, Result{Name: strings.TrimSpace(m[2]), OK: m[1] == ""})
		}
	}
	werr := cmd.Wait()
	if werr != nil {
		return results, fmt.Errorf("node --test %s: %w", file, werr)
	}
	if len(results) == 0 {
		return nil, errors.New("node --test reported no tests")
	}
	return results, nil
}
