package interop

import "testing"

// TestCodecs sends every value of the msgpack vector set through the Go
// conformance worker under the real @procwire/core 1.5.0 parent and checks
// that Node gets back the same JS values and classes.
func TestCodecs(t *testing.T) {
	requireNode(t)
	worker, err := BuildWorker("./examples/conformance", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	runSuite(t, "codec.test.mjs", "PROCWIRE_WORKER="+worker)
}
