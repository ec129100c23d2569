package metrics_test

import (
	"fmt"
	"time"

	"github.com/procwire/procwire-go/metrics"
)

// A function that reads one method's counters works on a worker's
// (procwire.Worker.Stats().Methods) and a parent's
// (parent.Module.Stats().Methods) alike.
func ExampleMethod() {
	failureRate := func(m metrics.Method) float64 {
		done := m.OK + m.Errors + m.Timeouts + m.Aborted
		if done == 0 {
			return 0
		}
		return float64(m.Errors+m.Timeouts) / float64(done)
	}
	m := metrics.Method{Requests: 200, OK: 190, Errors: 6, Timeouts: 2, Aborted: 2,
		Latency: metrics.Latency{Count: 200, P99: 8 * time.Millisecond}}
	fmt.Printf("%.0f%% failed, p99 ≤ %v\n", 100*failureRate(m), m.Latency.P99)
	// Output: 4% failed, p99 ≤ 8ms
}
