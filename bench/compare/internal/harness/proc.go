package harness

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
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
// /proc/PID/task/*/schedstat, as bench/main.go's runs read it. Threads
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

// mem is a process's resident set size now and at its peak, in bytes.
type mem struct{ rss, hwm int64 }

// memory reads VmRSS and VmHWM of process pid (0: this process) from
// /proc/PID/status; zero where they cannot be read.
func memory(pid int) mem {
	b, err := os.ReadFile(filepath.Join(procDir(pid), "status"))
	if err != nil {
		return mem{}
	}
	return parseStatus(b)
}

func parseStatus(b []byte) mem {
	var m mem
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
			m.rss = n << 10
		case "VmHWM":
			m.hwm = n << 10
		}
	}
	return m
}
