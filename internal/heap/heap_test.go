package heap

import (
	"runtime"
	"testing"
)

var sink []byte

// TestCollectBefore checks when CollectBefore runs a cycle: for a large
// payload while the heap is small beside it, not for a small payload, and
// not while the live heap is four times the payload or more.
func TestCollectBefore(t *testing.T) {
	cycles := func(n int) uint32 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		CollectBefore(n)
		runtime.ReadMemStats(&after)
		return after.NumGC - before.NumGC
	}
	runtime.GC() // the live heap is the test's, a few MiB
	if got := cycles(Large); got == 0 {
		t.Errorf("CollectBefore(%d) with a small heap ran no cycle", Large)
	}
	if got := cycles(Large - 1); got != 0 {
		t.Errorf("CollectBefore(%d) ran %d cycles for a payload under Large", Large-1, got)
	}
	live := make([][]byte, 5) // 5 × Large live: more than four times the payload
	for i := range live {
		live[i] = make([]byte, Large)
	}
	runtime.GC()
	if got := cycles(Large); got != 0 {
		t.Errorf("CollectBefore(%d) with %d MiB live ran %d cycles", Large, 5*Large>>20, got)
	}
	runtime.KeepAlive(live)
}

// TestCollectBeforeReusesMemory checks what CollectBefore is for: a run of
// large buffers, each dropped before the next is allocated, stays within
// about one buffer of heap, where the collector alone lets it reach two.
func TestCollectBeforeReusesMemory(t *testing.T) {
	const n = 2 * Large
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak uint64
	for range 6 {
		CollectBefore(n) // without it, the heap in use reaches 2n (measured: 64 MiB)
		sink = make([]byte, n)
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapInuse-min(base, ms.HeapInuse))
		sink = nil
	}
	t.Logf("heap in use grew by at most %d MiB for buffers of %d MiB", peak>>20, n>>20)
	if peak > n+n/2 {
		t.Errorf("heap in use grew by %d MiB for buffers of %d MiB", peak>>20, n>>20)
	}
}
