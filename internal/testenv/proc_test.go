package testenv

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestCPUTimeAndMemoryOfThisProcess(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	before := CPUTime(os.Getpid())
	spin := time.Now()
	for time.Since(spin) < 50*time.Millisecond {
	}
	after := CPUTime(0)
	// 50 ms of wall time spinning: at least a little CPU time, however
	// busy the machine, and not more than the wall time since (plus
	// whatever the other threads did, generously).
	if d := after - before; d < time.Millisecond || d > 10*time.Second {
		t.Errorf("CPU time of a 50 ms spin: %v", d)
	}
	if m := Memory(0); m.RSS <= 0 || m.HWM < m.RSS {
		t.Errorf("memory of this process: %+v", m)
	}
	if m := Memory(1 << 30); m != (Mem{}) {
		t.Errorf("memory of no process: %+v, want zero", m)
	}
	if d := CPUTime(1 << 30); d != 0 {
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

func TestParseStatus(t *testing.T) {
	in := "Name:\tx\nVmPeak:\t  9000 kB\nVmHWM:\t    2048 kB\nVmRSS:\t    1024 kB\nThreads:\t5\nVmBad:\tx kB\n"
	if got, want := parseStatus([]byte(in)), (Mem{RSS: 1 << 20, HWM: 2 << 20}); got != want {
		t.Errorf("parseStatus = %+v, want %+v", got, want)
	}
	if got := parseStatus([]byte("garbage\n:\n")); got != (Mem{}) {
		t.Errorf("parseStatus of garbage = %+v, want zero", got)
	}
}

func TestMachine(t *testing.T) {
	m := Machine()
	if want := fmt.Sprintf("%s/%s, %d CPUs", runtime.GOOS, runtime.GOARCH, runtime.NumCPU()); !strings.HasPrefix(m, want) || strings.HasSuffix(m, " ") {
		t.Errorf("Machine() = %q, want %q and the CPU model, if known", m, want)
	}
}
