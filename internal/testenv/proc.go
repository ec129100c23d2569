package testenv

// Process and machine measurements for the benchmarks (parent's pool
// benchmarks, bench and bench/compare): CPU time, memory and the CPU model
// from /proc.

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// procDir is /proc/PID, or /proc/self for pid 0.
func procDir(pid int) string {
	if pid == 0 {
		return "/proc/self"
	}
	return filepath.Join("/proc", strconv.Itoa(pid))
}

// CPUTime returns the CPU time of all the threads of process pid (0: this
// process) so far: the sum of the first field (time on a CPU, in ns) of
// /proc/PID/task/*/schedstat, the kernel's per-thread accounting. Threads
// that ended before the call are not counted, which is why the figures are
// differences taken while the process runs. Where there is no /proc (not
// Linux) it is 0.
func CPUTime(pid int) time.Duration {
	dir := filepath.Join(procDir(pid), "task")
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	var sum time.Duration
	for _, t := range tasks {
		b, err := os.ReadFile(filepath.Join(dir, t.Name(), "schedstat"))
		if err != nil {
			continue // the thread ended meanwhile
		}
		sum += parseSchedstat(b)
	}
	return sum
}

// parseSchedstat returns the first field of a schedstat line, or 0.
func parseSchedstat(b []byte) time.Duration {
	f := bytes.Fields(b)
	if len(f) == 0 {
		return 0
	}
	ns, err := strconv.ParseInt(string(f[0]), 10, 64)
	if err != nil || ns < 0 {
		return 0
	}
	return time.Duration(ns)
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
