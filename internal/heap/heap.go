// Package heap keeps a stream of large payloads from doubling a process's
// memory.
//
// Both sides read each payload into a buffer of its own: a worker's request
// is the handler's to keep (what it decodes may reference it: codec.Raw,
// codec.UnmarshalOwned), and so is a parent's result. A stream of large
// messages therefore allocates a new large buffer for each while the one
// before is garbage, and Go's collector lets the heap grow to twice what
// was live at its last cycle (GOGC=100) before it runs again: with one
// 64 MiB request live, the next one is read into fresh memory and the
// process holds both. Measured on a Go worker answering 64 MiB raw echoes:
// 141 MiB resident from the second request on, 75 MiB for the first.
//
// CollectBefore runs a collection before a large buffer is allocated when
// the payload is what the memory is (the heap live at the last cycle is
// small beside it), so that the new buffer reuses the last one's memory.
// When the rest of the heap is large, the payload's share of the overshoot
// is small and a forced cycle would cost more than it saves, so it does
// nothing.
package heap

import (
	"runtime"
	"runtime/metrics"
)

// Large is the payload size from which CollectBefore may collect: a cycle
// costs about a millisecond for a small heap, a few percent of the time
// that reading 16 MiB from a socket takes.
const Large = 16 << 20

// CollectBefore runs a garbage collection if n is at least Large and the
// heap live at the last cycle is less than four times n.
func CollectBefore(n int) {
	if n < Large {
		return
	}
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindUint64 && s[0].Value.Uint64() < 4*uint64(n) {
		runtime.GC()
	}
}
