package parent_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/procwire/procwire-go/internal/cputime"
	"github.com/procwire/procwire-go/internal/testenv"
	"github.com/procwire/procwire-go/parent"
)

// poolBenchCallers is how many goroutines call at once in BenchmarkPool.
const poolBenchCallers = 32

// BenchmarkPool measures the requests per second of burn {ms: 2} (2 ms of
// CPU work) from 32 concurrent callers through a Pool of 1 and of 2
// instances: of the official Node worker, single-threaded, which a second
// instance should nearly double on two cores; and of the Go conformance
// worker, which runs its handlers in parallel already (a second instance
// adds no CPU to use). Beside the rate: the CPU time per request of the
// workers (all their threads, all instances) and of this process (the
// parent and the benchmark), from the kernel's per-thread accounting
// (/proc/PID/task/*/schedstat; Linux only, else not reported), and the
// CPUs that other processes kept busy meanwhile (other-cpus, from
// /proc/stat): a run in which they are not near 0 was disturbed.
//
//	go test -run '^$' -bench Pool -benchtime 3s ./parent/
func BenchmarkPool(b *testing.B) {
	kinds := []struct {
		name string
		cmd  func(b *testing.B) parent.Command
	}{
		{"node", func(b *testing.B) parent.Command {
			return parent.Command{Path: testenv.Node(b), Args: []string{filepath.Join(testenv.InteropDir(), "reference-worker.mjs")}}
		}},
		{"go", func(b *testing.B) parent.Command { return parent.Command{Path: conformance(b)} }},
	}
	for _, k := range kinds {
		for _, size := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/size=%d", k.name, size), func(b *testing.B) { benchPoolBurn(b, k.cmd(b), size) })
		}
	}
}

func benchPoolBurn(b *testing.B, cmd parent.Command, size int) {
	opts := parent.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	p, err := parent.StartPool(context.Background(), "bench", cmd, opts, size)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	in := map[string]int{"ms": 2}
	// run makes n calls from poolBenchCallers goroutines.
	run := func(n int64) {
		callParallel(b, poolBenchCallers, n, func() func() error {
			return func() error { return p.Call(context.Background(), "burn", in, nil) }
		})
	}
	run(4 * poolBenchCallers) // every instance calibrates its burn, Node compiles it
	pids := pidsOf(p)
	measureParallel(b, time.Millisecond, func() time.Duration {
		var sum time.Duration
		for _, pid := range pids {
			sum += cputime.Process(pid)
		}
		return sum
	}, run)
}

// callParallel makes n calls from callers goroutines, each with the call
// that newCall gives it (so that each can decode into a value of its
// own), and fails b with the first error of each goroutine.
func callParallel(b *testing.B, callers int, n int64, newCall func() func() error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range callers {
		call := newCall()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= n {
				if err := call(); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// measureParallel times run(b.N) and reports the requests per second and,
// where the kernel accounts CPU time per thread (Linux), the CPU time per
// request, in unit (time.Microsecond or time.Millisecond), of the workers
// (workerCPU: theirs so far) and of this process (the parent and the
// callers), and how many CPUs other processes kept busy meanwhile.
func measureParallel(b *testing.B, unit time.Duration, workerCPU func() time.Duration, run func(n int64)) {
	perReq := "-cpu-" + strings.TrimPrefix(unit.String(), "1") + "/req"
	w0, s0, all0 := workerCPU(), cputime.Process(0), busyTime()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	run(int64(b.N))
	elapsed := time.Since(start)
	b.StopTimer()
	w1, s1, all1 := workerCPU(), cputime.Process(0), busyTime()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	if w0 > 0 && w1 > w0 {
		b.ReportMetric(float64(w1-w0)/float64(unit)/float64(b.N), "worker"+perReq)
		b.ReportMetric(float64(s1-s0)/float64(unit)/float64(b.N), "parent"+perReq)
		other := (all1 - all0) - (w1 - w0) - (s1 - s0)
		b.ReportMetric(max(0, float64(other)/float64(elapsed)), "other-cpus")
	}
}

// busyTime returns the time all CPUs spent on anything but idling so far
// (the first line of /proc/stat, in clock ticks of 10 ms), or 0 where
// there is no /proc/stat.
func busyTime() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	var busy int64
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		if i != 3 && i != 4 && i < 8 { // idle and iowait; guest time is in user already
			busy += n
		}
	}
	return time.Duration(busy) * 10 * time.Millisecond
}
