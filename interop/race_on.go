//go:build race

package interop

// raceEnabled reports whether this binary was built with -race; the workers
// the tests build then get the race detector too.
const raceEnabled = true
