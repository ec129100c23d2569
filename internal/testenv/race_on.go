//go:build race

package testenv

// raceEnabled reports whether this binary was built with -race; the workers
// BuildWorker builds then get the race detector too.
const raceEnabled = true
