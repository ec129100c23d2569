package testenv

import (
	"testing"

	"go.uber.org/goleak"
)

// VerifyNoLeaks fails t, when it ends, if a goroutine started after this
// call is still running. Call it first in a test, so that its check runs
// after every other cleanup.
func VerifyNoLeaks(t testing.TB) {
	t.Cleanup(CheckLeaks(t))
}

// CheckLeaks notes the goroutines running now and returns a function that
// fails t if any other goroutine is still running when it is called
// (goleak retries for a while before it fails). go-winio serves every
// overlapped handle of the process from one goroutine that it starts once
// and never stops: that goroutine is not a leak.
func CheckLeaks(t testing.TB) (check func()) {
	ignore := goleak.IgnoreCurrent()
	winio := goleak.IgnoreAnyFunction("github.com/Microsoft/go-winio.ioCompletionProcessor")
	return func() {
		t.Helper()
		goleak.VerifyNone(t, ignore, winio)
	}
}
