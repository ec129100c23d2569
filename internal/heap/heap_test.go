package heap

import (
	"runtime"
	"runtime/debug"
	"testing"
)

var sink []byte

// call returns the buffer bs.Get(n) returns, the collections it ran and
// whether it waited for the last buffer to be dropped,
// called on a heap with no free memory resident (so that no allocation
// counts as a miss, which would collect once more). The cycles include
// the one the allocation itself may start, when it takes the heap past
// its goal.
func call(bs *Buffers, n int) (b []byte, cycles uint32, waited bool) {
	recovering.Store(false)
	debug.FreeOSMemory()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	w, m := waits.Load(), misses.Load()
	b = bs.Get(n)
	runtime.ReadMemStats(&after)
	cycles = after.NumGC - before.NumGC
	if misses.Load() != m {
		cycles-- // FreeOSMemory's
	}
	return b, cycles, waits.Load() != w
}

// TestBuffers checks what Get returns and when it collects: for a large
// payload while the heap is small beside it, once, and once more after a
// wait while the last buffer it returned is still live (not for another
// live object of the payload's size); not for a small payload (nil: the
// reader allocates it), and not while the live heap is four times the
// payload or more.
func TestBuffers(t *testing.T) {
	var bs Buffers
	b, got, waited := call(&bs, Large) // the live heap is the test's, a few MiB
	if got < 1 || waited {
		t.Errorf("Get(%d) with a small heap ran %d cycles (waited: %v), want one or more without a wait", Large, got, waited)
	}
	if len(b) != 0 || cap(b) != Large {
		t.Errorf("Get(%d) = len %d cap %d, want an empty buffer of capacity %d", Large, len(b), cap(b), Large)
	}
	if b, got, _ := call(&bs, Large-1); got != 0 || b != nil {
		t.Errorf("Get(%d) = cap %d (nil %v) after %d cycles, want nil and none for a payload under Large", Large-1, cap(b), b == nil, got)
	}

	// The last buffer still held (by the goroutine that wrote the response
	// it was echoed in): a second cycle after the wait.
	sink = bs.Get(Large)
	if _, got, waited := call(&bs, Large); got < 2 || !waited {
		t.Errorf("Get(%d) with the last buffer live ran %d cycles (waited: %v), want two or more, with a wait", Large, got, waited)
	}
	// Another object of the payload's size, the program's own: no wait.
	sink = make([]byte, Large)
	if _, _, waited := call(&bs, Large); waited {
		t.Errorf("Get(%d) waited for a payload-sized object that is not its last buffer", Large)
	}
	sink = nil

	live := make([][]byte, 5) // 5 × Large live: more than four times the payload
	for i := range live {
		live[i] = make([]byte, Large)
	}
	if b, got, _ := call(&bs, Large); got != 0 || cap(b) != Large {
		t.Errorf("Get(%d) with %d MiB live ran %d cycles (cap %d), want none", Large, 5*Large>>20, got, cap(b))
	}
	runtime.KeepAlive(live)
}

// TestBufferReusesMemory checks what Buffers is for: a run of large
// buffers, each dropped before the next is allocated, stays within about
// one buffer of heap, where the collector alone lets it reach two.
func TestBufferReusesMemory(t *testing.T) {
	const n = 2 * Large
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak uint64
	var bs Buffers
	for range 6 {
		sink = bs.Get(n)[:n] // with make([]byte, n), the heap in use reaches 2n (measured: 64 MiB)
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapInuse-min(base, ms.HeapInuse))
		sink = nil
	}
	t.Logf("heap in use grew by at most %d MiB for buffers of %d MiB", peak>>20, n>>20)
	if peak > n+n/2 {
		t.Errorf("heap in use grew by %d MiB for buffers of %d MiB", peak>>20, n>>20)
	}
}
