// Package interop runs the Node interop suites: the real @procwire/core
// parent (pinned in package.json, with its own Node 22 binary) drives the
// Go workers of this module. The Node side lives in the .mjs files beside
// this one; these tests build the workers (internal/testenv) and run the
// suites.
package interop

import (
	"strings"
	"testing"

	"github.com/procwire/procwire-go/internal/testenv"
)

// conformance is the Go conformance worker, the one most suites drive.
const conformance = "./examples/conformance"

func TestMain(m *testing.M) { testenv.Main(m) }

// runSuite runs a Node suite against a worker and reports each Node test as
// a Go subtest. Its caller skips the test first if the pinned Node is
// missing (testenv.Node), before building any worker.
func runSuite(t *testing.T, file string, env ...string) {
	t.Helper()
	log := new(testenv.Buffer)
	results, err := testenv.RunSuite(file, env, log)
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

// conformanceSuite runs a Node suite against the Go conformance worker.
func conformanceSuite(t *testing.T, file string) {
	t.Helper()
	testenv.Node(t)
	runSuite(t, file, "PROCWIRE_WORKER="+testenv.Worker(t, conformance))
}

// TestConformance drives the Go conformance worker with the real
// @procwire/core 1.5.0 parent through the whole contract.
func TestConformance(t *testing.T) { conformanceSuite(t, "conformance.test.mjs") }

// TestExamples drives every example worker with the real parent.
func TestExamples(t *testing.T) {
	testenv.Node(t)
	var env []string
	for _, name := range []string{"echo", "stream", "events", "cancellation"} {
		env = append(env, "PROCWIRE_EXAMPLE_"+strings.ToUpper(name)+"="+testenv.Worker(t, "./examples/"+name))
	}
	runSuite(t, "examples.test.mjs", env...)
}
