package testenv

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

func TestMemoryOfThisProcess(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	if m := Memory(0); m.RSS <= 0 || m.HWM < m.RSS {
		t.Errorf("memory of this process: %+v", m)
	}
	if m := Memory(1 << 30); m != (Mem{}) {
		t.Errorf("memory of no process: %+v, want zero", m)
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
