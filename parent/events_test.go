package parent

import (
	"log/slog"
	"net"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/procwire/procwire-go/codec"
	"github.com/procwire/procwire-go/internal/testenv"
	"github.com/procwire/procwire-go/protocol"
	"github.com/procwire/procwire-go/wire"
)

// TestEventDropsReported checks that events dropped for a full module
// subscriber are all counted, and reported at most once a second rather
// than one warning each.
func TestEventDropsReported(t *testing.T) {
	var logs testenv.Buffer
	pc, wc := net.Pipe()
	conn := NewConn(pc, 0, nil, []protocol.EventDesc{{Name: "ev", ID: 1, Codec: codec.Raw}})
	defer conn.Close()
	m := &Module{name: "t", log: slog.New(slog.NewTextHandler(&logs, nil)), subs: make(map[string][]chan Event)}
	sub := m.Events("ev") // no instance yet: no forwarder
	start := time.Now()
	m.forwardEvents(&instance{conn: conn}, "ev")

	const extra = 3000 // events beyond what the subscriber holds
	w := wire.NewWriter(wc)
	for range eventBuffer + extra {
		if _, err := w.WriteFrame(wire.Header{Method: 1, Flags: wire.FlagsEvent}, nil); err != nil {
			t.Fatal(err)
		}
	}
	wc.Close() // the forwarder ends with the connection, reporting the rest
	m.wg.Wait()
	elapsed := time.Since(start)

	if len(sub) != eventBuffer {
		t.Fatalf("subscriber holds %d events, want %d", len(sub), eventBuffer)
	}
	reports := regexp.MustCompile(`level=WARN msg="procwire/parent: event subscriber full; events dropped" event=ev dropped=(\d+)`).FindAllStringSubmatch(logs.String(), -1)
	total := 0
	for _, r := range reports {
		n, _ := strconv.Atoi(r[1])
		total += n
	}
	if total != extra {
		t.Errorf("reports count %d dropped events, want %d:\n%s", total, extra, logs.String())
	}
	// The first drop is reported at once, the others at most once a second
	// after it, and the rest when the forwarder ends.
	if limit := 2 + int(elapsed/dropReportInterval); len(reports) > limit {
		t.Errorf("%d reports in %v, want at most %d:\n%s", len(reports), elapsed, limit, logs.String())
	}
}
