package cputime

import (
	"os"
	"runtime"
	"testing"
	"time"
)

func TestProcess(t *testing.T) {
	if runtime.GOOS != "linux" {
		if d := Process(0); d != 0 {
			t.Errorf("Process(0) = %v without /proc, want 0", d)
		}
		t.Skip("reads /proc")
	}
	before := Process(os.Getpid())
	spin := time.Now()
	for time.Since(spin) < 50*time.Millisecond {
	}
	after := Process(0)
	// 50 ms of wall time spinning: at least a little CPU time, however
	// busy the machine, and not more than the wall time since (plus
	// whatever the other threads did, generously).
	if d := after - before; d < time.Millisecond || d > 10*time.Second {
		t.Errorf("CPU time of a 50 ms spin: %v", d)
	}
	if d := Process(1 << 30); d != 0 {
		t.Errorf("CPU time of no process: %v, want 0", d)
	}
}

func TestParseSchedstat(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"123456 789 10\n", 123456},
		{"5", 5},
		{"", 0},
		{"abc 1 2", 0},
		{"-5 1 2", 0},
	} {
		if got := parseSchedstat([]byte(tc.in)); got != tc.want {
			t.Errorf("parseSchedstat(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// BenchmarkSpin spins for about a microsecond an iteration: its cpu-ns/op
// is about its ns/op (go test -bench . ./internal/cputime).
func BenchmarkSpin(b *testing.B) {
	stop := Report(b)
	for b.Loop() {
		for s := time.Now(); time.Since(s) < time.Microsecond; {
		}
	}
	stop()
}

func TestSelf(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("no getrusage")
	}
	before := self()
	for s := time.Now(); time.Since(s) < 50*time.Millisecond; {
	}
	if d := self() - before; d < time.Millisecond || d > 10*time.Second {
		t.Errorf("CPU time of a 50 ms spin: %v", d)
	}
}
