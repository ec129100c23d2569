package harness

import (
	"errors"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/procwire/procwire-go/internal/testenv"
)

func TestPercentile(t *testing.T) {
	for _, tc := range []struct {
		xs   []float64
		p    float64
		want float64
	}{
		{nil, 50, 0},
		{[]float64{7}, 99, 7},
		{[]float64{3, 1, 2}, 50, 2},
		{[]float64{1, 2, 3, 4}, 50, 3}, // nearest rank above, as bench.mjs
		{[]float64{5, 4, 3, 2, 1, 6, 7, 8, 9, 10}, 99, 10},
		{[]float64{5, 4, 3, 2, 1, 6, 7, 8, 9, 10}, 0, 1},
	} {
		if got := Percentile(tc.xs, tc.p); got != tc.want {
			t.Errorf("Percentile(%v, %v) = %v, want %v", tc.xs, tc.p, got, tc.want)
		}
	}
}

func TestFill(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 1000, 1<<20 + 7} {
		b := make([]byte, n)
		Fill(b, 0xa5)
		for i, c := range b {
			if c != 0xa5 {
				t.Fatalf("Fill of %d bytes: byte %d is %#x", n, i, c)
			}
		}
	}
}

// fake is an in-process Client; its faults are set per test.
type fake struct {
	mu         sync.Mutex
	calls      int
	shortEcho  bool
	skipChunk  int // a chunk index to leave out, or -1
	failSmall  error
	closeCount int
}

func (f *fake) EchoSmall() error {
	f.mu.Lock()
	f.calls++
	f.mu.Unlock()
	return f.failSmall
}

func (f *fake) EchoBytes(b []byte) ([]byte, error) {
	if f.shortEcho {
		return b[:len(b)/2], nil
	}
	return b, nil
}

func (f *fake) Stream(count, size int, fn func(int, []byte) error) error {
	buf := make([]byte, size)
	for i := range count {
		if i == f.skipChunk {
			continue
		}
		Fill(buf, byte(i))
		if err := fn(i, buf); err != nil {
			return err
		}
	}
	return nil
}

func (f *fake) ChildPID() int { return os.Getpid() }
func (f *fake) Close() error  { f.closeCount++; return nil }

func TestRunEveryScenario(t *testing.T) {
	testenv.VerifyNoLeaks(t)
	for _, sc := range Scenarios {
		t.Run(sc, func(t *testing.T) {
			f := &fake{skipChunk: -1}
			impl := Impl{Name: "fake", Start: func() (Client, error) { return f, nil }, StreamNote: "a note"}
			r, err := Run(impl, sc, true)
			if err != nil {
				t.Fatal(err)
			}
			if r.Impl != "fake" || r.Scenario != sc || r.Value <= 0 {
				t.Errorf("result %+v", r)
			}
			if sc != Spawn && r.Count <= 0 {
				t.Errorf("count %d", r.Count)
			}
			if runtime.GOOS == "linux" && (r.ChildRSS <= 0 || r.ParentRSS <= 0) {
				t.Errorf("RSS child %v parent %v", r.ChildRSS, r.ParentRSS)
			}
			if (sc == Stream) != (r.Note == "a note") {
				t.Errorf("note %q", r.Note)
			}
			if sc == Seq && r.P99 < r.Value {
				t.Errorf("p99 %v below p50 %v", r.P99, r.Value)
			}
			if f.closeCount == 0 {
				t.Error("client not closed")
			}
		})
	}
}

func TestRunFailures(t *testing.T) {
	testenv.VerifyNoLeaks(t)
	boom := errors.New("boom")
	for _, tc := range []struct {
		name, scenario string
		f              *fake
		startErr       error
		want           string
	}{
		{"unknown scenario", "nope", &fake{}, nil, `unknown scenario "nope"`},
		{"start fails", Seq, &fake{}, boom, "start: boom"},
		{"first call fails", Seq, &fake{failSmall: boom}, nil, "first call: boom"},
		{"short echo", Bytes1, &fake{shortEcho: true}, nil, "came back as 524288 bytes"},
		{"missing chunk", Stream, &fake{skipChunk: 3}, nil, "chunk 4 (expected 3)"},
		{"missing last chunk", Stream, &fake{skipChunk: 7}, nil, "stream ended after 7 of 8 chunks"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			impl := Impl{Name: "fake", Start: func() (Client, error) {
				if tc.startErr != nil {
					return nil, tc.startErr
				}
				return tc.f, nil
			}}
			_, err := Run(impl, tc.scenario, true)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestConcurrentCallersAllCall(t *testing.T) {
	testenv.VerifyNoLeaks(t)
	f := &fake{}
	var r Result
	if err := conc(f, &r, 8, true); err != nil {
		t.Fatal(err)
	}
	// quick: a warm-up of one call per caller, then four per caller.
	if f.calls != 8+32 || r.Count != 32 {
		t.Errorf("calls %d, count %d; want 40 and 32", f.calls, r.Count)
	}
	f.failSmall = errors.New("boom")
	if err := conc(f, &r, 8, true); err == nil || err.Error() != "boom" {
		t.Errorf("err = %v, want boom", err)
	}
}

func TestCheckSmall(t *testing.T) {
	s := Sample
	if err := CheckSmall(s.ID, s.Name, s.Tags, s.Score, s.Enabled, s.Note); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"id":    CheckSmall(s.ID+1, s.Name, s.Tags, s.Score, s.Enabled, s.Note),
		"tags":  CheckSmall(s.ID, s.Name, []string{"alpha", "beta", "x"}, s.Score, s.Enabled, s.Note),
		"count": CheckSmall(s.ID, s.Name, s.Tags[:2], s.Score, s.Enabled, s.Note),
		"bool":  CheckSmall(s.ID, s.Name, s.Tags, s.Score, false, s.Note),
	} {
		if err == nil {
			t.Errorf("a changed %s passes the check", name)
		}
	}
}
