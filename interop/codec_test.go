package interop

import "testing"

// TestCodecs sends every value of the msgpack vector set through the Go
// conformance worker under the real @procwire/core 1.5.0 parent and checks
// that Node gets back the same JS values and classes.
func TestCodecs(t *testing.T) { conformanceSuite(t, "codec.test.mjs") }
