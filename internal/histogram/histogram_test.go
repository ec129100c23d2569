package histogram

import (
	"sync"
	"testing"
	"time"
)

func TestSummary(t *testing.T) {
	var h Histogram
	if s := h.Summary(); s != (Summary{}) {
		t.Fatalf("empty: %+v", s)
	}
	// 100 durations: 90 of 1000 ns, 9 of 100 µs, 1 of 10 ms.
	for range 90 {
		h.Observe(1000 * time.Nanosecond)
	}
	for range 9 {
		h.Observe(100 * time.Microsecond)
	}
	h.Observe(10 * time.Millisecond)
	s := h.Summary()
	want := Summary{
		Count: 100,
		Mean:  (90*1000*time.Nanosecond + 9*100*time.Microsecond + 10*time.Millisecond) / 100,
		Max:   10 * time.Millisecond,
		P50:   1024,   // the bucket [512, 1024)... of 1000 ns: its upper bound
		P90:   1024,   // the 90th of 100 is still 1000 ns
		P99:   131072, // 100 µs is in [65536, 131072)
	}
	if s != want {
		t.Fatalf("summary %+v, want %+v", s, want)
	}
	// The last bucket's bound is capped at the maximum.
	var one Histogram
	one.Observe(3 * time.Nanosecond)
	if s := one.Summary(); s.P50 != 3 || s.P99 != 3 || s.Max != 3 || s.Mean != 3 {
		t.Fatalf("one value: %+v", s)
	}
	var zero Histogram
	zero.Observe(-time.Second)
	if s := zero.Summary(); s.Count != 1 || s.P99 != 0 || s.Max != 0 {
		t.Fatalf("negative: %+v", s)
	}
	var huge Histogram
	huge.Observe(time.Hour)
	if s := huge.Summary(); s.P50 != time.Hour || s.Count != 1 {
		t.Fatalf("open-ended bucket: %+v", s)
	}
}

func TestConcurrentObserve(t *testing.T) {
	var h Histogram
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				h.Observe(time.Duration(g*1000 + i))
			}
		}()
	}
	wg.Wait()
	if s := h.Summary(); s.Count != 8000 || s.Max != 7999 {
		t.Fatalf("%+v", s)
	}
}

func BenchmarkObserve(b *testing.B) {
	var h Histogram
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h.Observe(time.Duration(i))
	}
}

func TestSnapshotAddAndMerge(t *testing.T) {
	var a, b Histogram
	a.Observe(10)
	a.Observe(1000)
	b.Observe(100000)
	sa, sb := a.Snapshot(), b.Snapshot()
	sum := sa
	sum.Add(sb)
	var all Histogram
	for _, d := range []time.Duration{10, 1000, 100000} {
		all.Observe(d)
	}
	if got, want := sum.Summary(), all.Summary(); got != want {
		t.Fatalf("added %+v, want %+v", got, want)
	}
	a.Merge(sb)
	if got, want := a.Summary(), all.Summary(); got != want {
		t.Fatalf("merged %+v, want %+v", got, want)
	}
}
