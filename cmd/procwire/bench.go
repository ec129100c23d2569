package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/procwire/procwire-go/parent"
	"github.com/procwire/procwire-go/protocol"
)

var benchCmd = &command{
	name:    "bench",
	args:    "METHOD ",
	short:   "measure request rate and latency percentiles",
	summary: "Spawn the worker and call METHOD (a result, ack or stream method: a stream is read to its end) as fast as it answers, from N concurrent callers, for a while; print the request rate and latency percentiles",
	example: "procwire bench --data '{\"a\":1}' --concurrency 64 --duration 10s echo -- ./worker",
	setup: func(fs *flag.FlagSet) func(*env, *flag.FlagSet, []string) int {
		methodFlag := fs.String("method", "", "deprecated: the METHOD argument")
		rf := newRequestFlags(fs, withRequest, "")
		concurrency := fs.Int("concurrency", 1, "concurrent callers")
		duration := fs.Duration("duration", 5*time.Second, "how long to run")
		asJSON := fs.Bool("json", false, "print the summary as JSON")
		method := new(string)
		rf.check = func(pos []string) error {
			var err error
			switch *method, err = methodArg(pos, "method", *methodFlag); {
			case err != nil:
				return err
			case *method == "":
				return errors.New(`want one METHOD before "--"`)
			case *concurrency < 1 || *duration <= 0:
				return errors.New("--concurrency must be at least 1 and --duration positive")
			}
			return nil
		}
		return func(e *env, fs *flag.FlagSet, args []string) int {
			return withSession(e, fs, args, optionalMethod, rf, only(method), func(sess *session) int {
				m, in := sess.m, sess.in
				rt := m.Schema().Methods[*method].Response
				if rt == protocol.ResponseNone {
					fmt.Fprintf(e.stderr, "procwire: %s is a none method: nothing to measure\n", *method)
					return exitUsage
				}
				s := bench(e, m, *method, rt, in, *concurrency, *duration)
				if e.ctx.Err() != nil {
					fmt.Fprintln(e.stderr, "procwire: interrupted")
					return exitInterrupted
				}
				if *asJSON {
					b, _ := json.MarshalIndent(s, "", "  ")
					fmt.Fprintf(e.stdout, "%s\n", b)
				} else {
					s.print(e.stdout)
				}
				if s.Requests == 0 {
					fmt.Fprintf(e.stderr, "procwire: no request succeeded (first error: %s)\n", s.FirstError)
					return exitFailure
				}
				if m.State() == parent.Closed {
					return fail(e, workerDied(m))
				}
				return exitOK
			})
		}
	},
}

// summary is the outcome of a benchmark; latencies in microseconds.
type summary struct {
	Method      string  `json:"method"`
	Concurrency int     `json:"concurrency"`
	Seconds     float64 `json:"seconds"`
	Requests    int     `json:"requests"`
	Errors      int     `json:"errors"`
	FirstError  string  `json:"first_error,omitempty"`
	PerSecond   float64 `json:"requests_per_second"`
	MinUs       float64 `json:"min_us"`
	MeanUs      float64 `json:"mean_us"`
	P50Us       float64 `json:"p50_us"`
	P90Us       float64 `json:"p90_us"`
	P99Us       float64 `json:"p99_us"`
	MaxUs       float64 `json:"max_us"`
}

func bench(e *env, m *parent.Module, method string, rt protocol.ResponseType, in any, n int, d time.Duration) summary {
	ctx, cancel := context.WithTimeout(e.ctx, d)
	defer cancel()
	var done atomic.Int64
	lat := make([][]time.Duration, n)
	errs := make([]int, n)
	var firstErr atomic.Value
	p := startProgress(e.stderr, func(elapsed time.Duration) string {
		c := done.Load()
		return fmt.Sprintf("%d requests, %.0f req/s", c, float64(c)/elapsed.Seconds())
	})
	begin := time.Now()
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				t := time.Now()
				err := once(ctx, m, method, rt, in)
				if err != nil {
					if ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
						return // the run ended during this call
					}
					errs[i]++
					firstErr.CompareAndSwap(nil, err.Error())
					if m.State() == parent.Closed {
						return // the worker died: every call would fail
					}
					continue
				}
				lat[i] = append(lat[i], time.Since(t))
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(begin)
	p.stop()
	var all []time.Duration
	s := summary{Method: method, Concurrency: n, Seconds: elapsed.Seconds()}
	for i := range n {
		all = append(all, lat[i]...)
		s.Errors += errs[i]
	}
	if v := firstErr.Load(); v != nil {
		s.FirstError = v.(string)
	}
	s.Requests = len(all)
	s.PerSecond = float64(len(all)) / elapsed.Seconds()
	slices.Sort(all)
	if len(all) > 0 {
		var sum time.Duration
		for _, l := range all {
			sum += l
		}
		s.MinUs = us(all[0])
		s.MaxUs = us(all[len(all)-1])
		s.MeanUs = us(sum / time.Duration(len(all)))
		s.P50Us = us(percentile(all, 50))
		s.P90Us = us(percentile(all, 90))
		s.P99Us = us(percentile(all, 99))
	}
	return s
}

// once makes one request; a stream is read to its end.
func once(ctx context.Context, m *parent.Module, method string, rt protocol.ResponseType, in any) error {
	if rt == protocol.ResponseStream {
		for _, err := range m.Stream(ctx, method, in) {
			if err != nil {
				return err
			}
		}
		return nil
	}
	return m.Call(ctx, method, in, nil)
}

// percentile returns the nearest-rank p-th percentile of sorted.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted)) + 0.999999999)
	rank = max(1, min(rank, len(sorted)))
	return sorted[rank-1]
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 }

func (s summary) print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "method\t%s\n", s.Method)
	fmt.Fprintf(tw, "concurrency\t%d\n", s.Concurrency)
	fmt.Fprintf(tw, "duration\t%.2f s\n", s.Seconds)
	fmt.Fprintf(tw, "requests\t%d\n", s.Requests)
	fmt.Fprintf(tw, "errors\t%d\n", s.Errors)
	if s.FirstError != "" {
		fmt.Fprintf(tw, "first error\t%s\n", s.FirstError)
	}
	fmt.Fprintf(tw, "rate\t%.0f req/s\n", s.PerSecond)
	fmt.Fprintf(tw, "latency\tmin %.1f µs\tmean %.1f µs\tp50 %.1f µs\tp90 %.1f µs\tp99 %.1f µs\tmax %.1f µs\n",
		s.MinUs, s.MeanUs, s.P50Us, s.P90Us, s.P99Us, s.MaxUs)
	tw.Flush()
}
