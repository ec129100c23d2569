package arrowcodec

import (
	"math"
	"testing"
)

// TestNonDecreasing32 checks the branch-free check against the plain one:
// a decrease at every position (the unrolled loop's eight lanes and its
// tail), equal neighbours, and the int32 extremes.
func TestNonDecreasing32(t *testing.T) {
	for n := 1; n <= 27; n++ {
		xs := make([]int32, n)
		for i := range xs {
			xs[i] = int32(i * 3)
		}
		check := func(what string) {
			t.Helper()
			wide := make([]int64, len(xs))
			for i, x := range xs {
				wide[i] = int64(x)
			}
			f, l, ok := nonDecreasing32(xs)
			wf, wl, wok := nonDecreasing(wide)
			if f != wf || l != wl || ok != wok {
				t.Errorf("n=%d %s %v: got %d %d %v, want %d %d %v", n, what, xs, f, l, ok, wf, wl, wok)
			}
		}
		check("increasing")
		for i := 1; i < n; i++ {
			saved := xs[i]
			xs[i] = xs[i-1] - 1
			check("one decrease")
			xs[i] = xs[i-1]
			check("equal")
			xs[i] = math.MinInt32
			check("min")
			xs[i-1], xs[i] = math.MaxInt32, math.MinInt32
			check("max then min")
			xs[i-1], xs[i] = int32((i-1)*3), saved
		}
	}
}
