// Package cputime measures the CPU time of processes from the kernel's
// accounting, for the benchmarks: another process's from its per-thread
// accounting (/proc/PID/task/*/schedstat on Linux; 0 elsewhere), for the
// end-to-end bench, bench/compare and the parent's benchmarks; a testing.B
// benchmark's own (Report) from getrusage, for the codecs' benchmarks.
//
// It is a leaf package (the standard library only), so that any package's
// in-package benchmarks may import it.
package cputime

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Process returns the CPU time of all the threads of process pid (0: this
// process) so far: the sum of the first field (time on a CPU, in ns) of
// /proc/PID/task/*/schedstat. Threads that ended before the call are not
// counted, which is why the figures are differences taken while the
// process runs. Where there is no /proc (not Linux) it is 0.
func Process(pid int) time.Duration {
	dir := "/proc/self/task"
	if pid != 0 {
		dir = filepath.Join("/proc", strconv.Itoa(pid), "task")
	}
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

// Report starts measuring this process's CPU time for benchmark b; the
// function it returns, called once b's loop has ended, reports the CPU
// time per iteration as the metric "cpu-ns/op". That is the time of every
// thread, the garbage collector's included, which ns/op (wall time) does
// not show when the collector runs on another CPU. It is read with
// getrusage, exact for the calling thread and up to a scheduler tick
// behind for the others, which a benchmark of a second or more makes
// negligible. Nothing is reported where the CPU time cannot be read (not
// Unix).
//
//	stop := cputime.Report(b)
//	for b.Loop() { ... }
//	stop()
func Report(b *testing.B) (stop func()) {
	start := self()
	return func() {
		end := self()
		if start > 0 && end >= start && b.N > 0 {
			b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
		}
	}
}
