package arrowcodec

import (
	"math/bits"
	"sync"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Pool is a memory.Allocator that recycles the buffers of released records.
// Used as Options.Allocator, it makes a copying Unmarshal reuse the memory
// of the records the program has released, instead of asking the garbage
// collector for fresh memory for each payload: for the benchmarked table
// of 10 000 rows, a copying decode takes about half the time (see
// BENCHMARKS.md).
//
// The price is Arrow's own rule, enforced: a buffer goes back to the pool
// when the last reference to it is released, and the next decode may
// overwrite it. A value read from a record without copying (array.String's
// Value, array.Binary's Value, a slice from a Values method) must not be
// used after that record is released. Records that are never released are
// collected by the garbage collector as with the default allocator (their
// memory is simply not recycled).
//
// Requests of more than 2 KiB and up to 1 GiB get a buffer whose capacity
// is the next power of two (4 KiB to 1 GiB), pooled by capacity in
// sync.Pools, so memory not reused goes back to the garbage collector
// within two collections; smaller and larger ones come from the Go heap
// and are not pooled.
// Memory from Allocate is zeroed and 64-byte aligned, as
// memory.GoAllocator's. A Pool is safe for concurrent use; its zero value
// is ready to use.
type Pool struct {
	classes [maxPoolClass - minPoolClass + 1]sync.Pool
}

// Pooled sizes, as powers of two.
const (
	minPoolClass = 12 // 4 KiB
	maxPoolClass = 30 // 1 GiB
)

var _ memory.Allocator = (*Pool)(nil)

// NewPool returns an empty Pool.
func NewPool() *Pool { return new(Pool) }

// class returns the pool class of a buffer of n bytes (its capacity
// rounded up to a power of two), and whether it is pooled.
func class(n int) (int, bool) {
	if n <= 1<<(minPoolClass-1) || n > 1<<maxPoolClass {
		return 0, false
	}
	return bits.Len(uint(n - 1)), true
}

// Allocate returns size zeroed bytes, 64-byte aligned.
func (p *Pool) Allocate(size int) []byte {
	c, ok := class(size)
	if !ok {
		return goAllocator.Allocate(size)
	}
	if b, ok := p.classes[c-minPoolClass].Get().(*byte); ok {
		buf := unsafe.Slice(b, 1<<c)
		clear(buf)
		return buf[:size]
	}
	// A power-of-two size of 4 KiB or more comes from the Go heap aligned
	// to at least 64 bytes (a size class of its own or whole pages).
	return make([]byte, size, 1<<c)
}

// Reallocate returns b resized to size bytes, in place when its capacity
// allows (Allocate's memory is zeroed up to its capacity), else in a new
// buffer with b's bytes, b going back to the pool.
func (p *Pool) Reallocate(size int, b []byte) []byte {
	if cap(b) >= size {
		return b[:size]
	}
	nb := p.Allocate(size)
	copy(nb, b)
	p.Free(b)
	return nb
}

// Free puts b, a buffer from Allocate or Reallocate, back in the pool.
func (p *Pool) Free(b []byte) {
	c, ok := class(cap(b))
	if !ok || cap(b) != 1<<c {
		return // not one of the pooled buffers: the garbage collector's
	}
	p.classes[c-minPoolClass].Put(unsafe.SliceData(b[:1]))
}

// goAllocator serves the sizes Pool does not pool.
var goAllocator = memory.NewGoAllocator()
