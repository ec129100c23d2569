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
// Buffers.Get returns the empty buffer, of capacity n, that a large
// payload is read into. Before it allocates, it runs a collection when the
// payload is what the memory is (the heap live at the last cycle is small
// beside it), so that the new buffer reuses the last one's memory. When the rest
// of the heap is large, the payload's share of the overshoot is small and
// a forced cycle would cost more than it saves, so it does not.
//
// The collection does not always free the last buffer, nor the new one
// always land on its memory:
//   - The peer can read a response and send the next request before the
//     goroutine that wrote the response has returned from its write, with
//     the last buffer still on its stack. When the last buffer the reader
//     was given is still live after the collection (a weak pointer tells),
//     Get waits a moment (lastBufferWait) and collects once more. (Only
//     that buffer: a payload-sized object the program holds, such as a Go
//     parent's own request while its result arrives, is no reason to wait.)
//   - A goroutine that needs a page for small objects just then takes the
//     lowest free one, which can be the first page of the freed buffer,
//     and the rest is too short: the new buffer goes elsewhere while the
//     freed one stays resident (the runtime returns free memory to the
//     system slowly), and at the next request the runtime goes back to the
//     lower address, faulting it in while the other stays resident. After
//     such a miss (the allocation did not take its memory from the free
//     memory resident, and half a payload or more of that is left) Get
//     returns free memory to the system (debug.FreeOSMemory) before the
//     new buffer is filled, and once more before the next allocation.
//
// Measured with a raw client sending 40 echoes of 64 MiB to a Go worker,
// 20 runs each, interleaved: with the collection alone, 141 MiB resident
// from one request on in 16 runs of 20 (75 MiB otherwise); with both
// remedies, in none, for the same time per request (1.88 against 1.85 s a
// run). With 120 echoes of 16 MiB, 4 runs each: peak 27 against 43 MiB,
// the same throughput and worker CPU per MiB within 2 %. Returning free
// memory before every large allocation would be simpler and cost 70 % more
// time: every page faulted in again.
package heap

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
	"time"
	"unsafe"
	"weak"
)

// Large is the payload size from which Get may collect: a cycle costs
// about a millisecond for a small heap, a few percent of the time that
// reading 16 MiB from a socket takes.
const Large = 16 << 20

// lastBufferWait is how long Get waits, once, for the last buffer, still
// live after the collection, to be dropped: a hundredth of the time that
// reading 16 MiB from a socket takes.
const lastBufferWait = 100 * time.Microsecond

// recovering is set after a miss (see the package comment): the next
// large allocation returns free memory first.
var recovering atomic.Bool

// How often Get waited for the last buffer, and missed (for the tests).
var waits, misses atomic.Uint64

// Buffers gives one reader its large payload buffers. It is not safe for
// concurrent use: the goroutine that reads the connection owns it.
type Buffers struct {
	last weak.Pointer[byte] // the last buffer Get returned
}

// Get returns nil if n is less than Large (the reader allocates small
// payloads itself), else an empty buffer of capacity n, allocated as the
// package comment says.
func (bs *Buffers) Get(n int) []byte {
	if n < Large {
		return nil
	}
	b := bs.get(n)
	bs.last = weak.Make(unsafe.SliceData(b[:1]))
	return b
}

func (bs *Buffers) get(n int) []byte {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/memory/classes/heap/free:bytes"}}
	metrics.Read(s[:1])
	if s[0].Value.Kind() != metrics.KindUint64 || s[0].Value.Uint64() >= 4*uint64(n) {
		return make([]byte, 0, n)
	}
	collect := runtime.GC
	if recovering.Swap(false) {
		collect = debug.FreeOSMemory // collects, too
	}
	collect()
	if bs.last.Value() != nil {
		// The last buffer may still be held by the goroutine that wrote
		// the response it was echoed in: the peer can read the response
		// and send the next request before that goroutine has returned
		// from its write. Let it finish, once.
		waits.Add(1)
		time.Sleep(lastBufferWait)
		collect()
	}
	// A miss: the allocation did not take its memory from the free memory
	// resident (which would have dropped by about n), and half a payload
	// or more of it is left.
	metrics.Read(s[1:])
	freeBefore := s[1].Value.Uint64()
	b := make([]byte, 0, n)
	metrics.Read(s[1:])
	if free := s[1].Value.Uint64(); free >= uint64(n)/2 && free+uint64(n)/2 > freeBefore {
		misses.Add(1)
		debug.FreeOSMemory()
		recovering.Store(true)
	}
	return b
}
