package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestParseGo(t *testing.T) {
	out := `goos: linux
BenchmarkMsgPackSmall/encode-2         	 1000000	       374.1 ns/op	       388.0 cpu-ns/op	      96 B/op	       1 allocs/op
BenchmarkUnmarshal/copy-pool-2   	   10384	     57887 ns/op	3727.28 MB/s	     84990 cpu-ns/op	  225858 B/op	      67 allocs/op
BenchmarkMarshal	10	5 ns/op
BenchmarkBroken-2 x ns/op
PASS
`
	got := parseGo([]byte(out))
	for name, want := range map[string]Sample{
		"MsgPackSmall/encode": {NsPerOp: 374.1, CPUNsPerOp: 388, AllocsOp: 1, BytesOp: 96},
		"Unmarshal/copy-pool": {NsPerOp: 57887, CPUNsPerOp: 84990, AllocsOp: 67, BytesOp: 225858},
		"Marshal":             {NsPerOp: 5},
	} {
		if got[name] != want {
			t.Errorf("%s: %+v, want %+v", name, got[name], want)
		}
	}
	if len(got) != 3 {
		t.Errorf("parsed %d benchmarks, want 3: %v", len(got), got)
	}
}

func TestReportMarksTargets(t *testing.T) {
	s := func(cpu float64) Sample { return Sample{NsPerOp: cpu, CPUNsPerOp: cpu} }
	rep := Report{Rounds: 3, Cases: []Result{
		{benchCase: benchCase{Name: "met", Target: 1.0, Item: "4"},
			GoSamples: []Sample{s(90), s(200), s(80)}, NodeSamples: []Sample{s(100), s(100), s(100)}},
		{benchCase: benchCase{Name: "missed", Target: 0.5, Item: "6"},
			GoSamples: []Sample{s(60), s(70), s(40)}, NodeSamples: []Sample{s(100), s(100), s(100)}},
		{benchCase: benchCase{Name: "untargeted"},
			GoSamples: []Sample{s(1)}, NodeSamples: []Sample{s(2)}},
	}}
	var b bytes.Buffer
	printReport(&b, rep)
	lines := strings.Split(b.String(), "\n")
	find := func(name string) string {
		for _, l := range lines {
			if strings.HasPrefix(l, "| "+name+" |") {
				return l
			}
		}
		t.Fatalf("no row %q in\n%s", name, b.String())
		return ""
	}
	// The median of the per-round ratios decides: 0.90 (0.80–2.00).
	if l := find("met"); !strings.Contains(l, "0.90 (0.80–2.00)") || !strings.HasSuffix(l, "| holds |") {
		t.Errorf("met: %s", l)
	}
	if l := find("missed"); !strings.Contains(l, "0.60 (0.40–0.70)") || !strings.HasSuffix(l, "| **not met** |") {
		t.Errorf("missed: %s", l)
	}
	if l := find("untargeted"); !strings.Contains(l, "| 0.50 (0.50) | – |  |") {
		t.Errorf("untargeted: %s", l)
	}
}
