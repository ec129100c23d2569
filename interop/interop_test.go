package interop

import (
	"bytes"
	"os"
	"strings"
	"sync"
	"testing"
)

// syncBuffer collects a suite's stdout and stderr, written concurrently.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// requireNode skips the test when the pinned Node is missing, except in CI
// (CI=true), where a missing Node is a failure.
func requireNode(t *testing.T) {
	t.Helper()
	if _, err := NodePath(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
}

// runSuite runs a Node suite against a worker and reports each Node test as
// a Go subtest.
func runSuite(t *testing.T, file string, env ...string) {
	t.Helper()
	log := new(syncBuffer)
	results, err := RunSuite(file, env, log)
	for _, r := range results {
		t.Run(r.Name, func(t *testing.T) {
			if !r.OK {
				t.Fail()
			}
		})
	}
	if err != nil || t.Failed() {
		t.Logf("node output:\n%s", log.String())
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestConformance drives the Go conformance worker with the real
// @procwire/core 1.5.0 parent through the whole contract.
func TestConformance(t *testing.T) {
	requireNode(t)
	worker, err := BuildWorker("./examples/conformance", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	runSuite(t, "conformance.test.mjs", "PROCWIRE_WORKER="+worker)
}

// TestExamples drives every example worker with the real parent.
func TestExamples(t *testing.T) {
	requireNode(t)
	dir := t.TempDir()
	var env []string
	for _, name := range []string{"echo", "stream", "events", "cancellation"} {
		exe, err := BuildWorker("./examples/"+name, dir)
		if err != nil {
			t.Fatal(err)
		}
		env = append(env, "PROCWIRE_EXAMPLE_"+strings.ToUpper(name)+"="+exe)
	}
	runSuite(t, "examples.test.mjs", env...)
}
