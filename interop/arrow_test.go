package interop

import "testing"

// TestArrow drives the Arrow methods of the Go conformance worker with the
// real @procwire/core 1.5.0 parent and @procwire/codecs' arrowCodec.
func TestArrow(t *testing.T) { conformanceSuite(t, "arrow.test.mjs") }
