package testenv

// Process and machine measurements for the benchmarks (parent's pool
// benchmarks, bench and bench/compare): memory and the CPU model from
// /proc (CPU time: internal/cputime).

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// procDir is /proc/PID, or /proc/self for pid 0.
func procDir(pid int) string {
	if pid == 0 {
		return "/proc/self"
	}
	return filepath.Join("/proc", strconv.Itoa(pid))
}

// Mem is a process's resident set size now (RSS) and at its peak (HWM),
// in bytes.
type Mem struct{ RSS, HWM int64 }

// Memory reads VmRSS and VmHWM of process pid (0: this process) from
// /proc/PID/status; zero where they cannot be read (not Linux).
func Memory(pid int) Mem {
	b, err := os.ReadFile(filepath.Join(procDir(pid), "status"))
	if err != nil {
		return Mem{}
	}
	return parseStatus(b)
}

func parseStatus(b []byte) Mem {
	var m Mem
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := bytes.Cut(sc.Bytes(), []byte(":"))
		if !ok {
			continue
		}
		f := bytes.Fields(v)
		if len(f) != 2 || string(f[1]) != "kB" {
			continue
		}
		n, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			continue
		}
		switch string(k) {
		case "VmRSS":
			m.RSS = n << 10
		case "VmHWM":
			m.HWM = n << 10
		}
	}
	return m
}

// Machine describes this machine for a benchmark report: the OS, the
// architecture, the number of CPUs and, where /proc/cpuinfo says, their
// model.
func Machine() string {
	cpu := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for l := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = " " + strings.TrimSpace(v)
				break
			}
		}
	}
	return fmt.Sprintf("%s/%s, %d CPUs%s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpu)
}
