package interop

import "testing"

// TestDecodeErrors drives the conformance worker's thumbnail and
// thumbnailStrict methods with the real @procwire/core 1.5.0 parent: wrong
// types, integers out of range, unknown fields in strict mode and payloads
// cut short each come back as an error with the code E_BAD_REQUEST, the
// field path and the message, as Node sees them (decode_errors.test.mjs).
func TestDecodeErrors(t *testing.T) { conformanceSuite(t, "decode_errors.test.mjs") }

// TestRequestInfo checks procwire.RequestInfoFromContext with the real
// parent: the module name core gives the worker, the method and a request
// id of each request's own (request_info.test.mjs).
func TestRequestInfo(t *testing.T) { conformanceSuite(t, "request_info.test.mjs") }
