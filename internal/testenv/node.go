package testenv

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
	"testing"
)

// InteropDir returns the absolute path of the interop directory: the Node
// interop suites and the pinned Node and @procwire packages they run.
func InteropDir() string {
	return filepath.Join(ModuleRoot(), "interop")
}

// NodePath returns the pinned Node binary installed by `npm ci` in the
// interop directory, or an error saying how to install it.
func NodePath() (string, error) {
	p := filepath.Join(InteropDir(), "node_modules", "node", "bin", "node")
	if runtime.GOOS == "windows" {
		p += ".exe"
	}
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("the pinned Node is not installed (run `npm ci` in %s): %w", InteropDir(), err)
	}
	return p, nil
}

// Node returns the pinned Node binary. Without it the test is skipped,
// except in CI (CI=true), where a missing Node is a failure.
func Node(t testing.TB) string {
	t.Helper()
	node, err := NodePath()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	return node
}

// Result is the outcome of one top-level test of a Node suite.
type Result struct {
	Name string
	OK   bool
}

var tapLine = regexp.MustCompile(`^(not )?ok \d+ - (.*?)(?: # (SKIP|TODO).*)?$`)

// RunSuite runs a node:test suite file of the interop directory with the
// environment of WorkerEnv plus env, copies its output to log and returns
// the top-level results. err is non-nil if the suite could not run or
// exited non-zero.
func RunSuite(file string, env []string, log io.Writer) ([]Result, error) {
	node, err := NodePath()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(node, "--test", "--test-reporter=tap", "--test-timeout=120000", file)
	cmd.Dir = InteropDir()
	// GORACE for the workers the suite spawns: see WorkerEnv.
	cmd.Env = WorkerEnv(env...)
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
