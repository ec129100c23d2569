package main

import (
	"bytes"
	"fmt"
	"math"
)

// cpuChart renders, for each scenario, the CPU time each implementation's
// worker and the parent spent per unit of work (stacked bars: worker, then
// parent), from the kernel's per-thread accounting.
func cpuChart(rep Report) []byte {
	const (
		W, left, right, top = 900, 120, 150, 40
		barH, gap, groupGap = 14, 3, 12
		titleH              = 18 // a scenario's title, above its bars
	)
	scenarios := []struct {
		label string
		cost  func(Result) CPUCost
	}{
		{"small echo, sequential (µs/request)", func(r Result) CPUCost { return r.SeqCPU }},
		{"small echo, 64 in flight (µs/request)", func(r Result) CPUCost { return r.Inflight64CPU }},
		{"64 MiB raw echo (µs/MiB)", func(r Result) CPUCost { return r.Echo64MiBCPU }},
		{"stream 256 × 1 MiB (µs/MiB)", func(r Result) CPUCost { return r.Stream256CPU }},
	}
	series := []struct{ name, label, color string }{
		{"null", "null worker", "#888888"},
		{"go", "Go worker", "#00add8"},
		{"node", "Node worker", "#68a063"},
	}
	plotW := float64(W - left - right)
	groupH := titleH + len(series)*(barH+gap) + groupGap
	H := top + len(scenarios)*groupH + 50
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", W, H)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", W, H)
	fmt.Fprintf(&b, `<text x="20" y="22" font-size="14" font-weight="bold">CPU time per unit of work under @procwire/core 1.5.0: worker (dark) + parent (light)</text>`+"\n")
	for i, sc := range scenarios {
		y0 := top + i*groupH
		var maxV float64
		for _, s := range series {
			c := sc.cost(rep.Medians[s.name])
			maxV = math.Max(maxV, c.Worker+c.Parent)
		}
		if maxV == 0 {
			maxV = 1
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-weight="bold">%s</text>`+"\n", 20, y0+12, sc.label)
		for j, s := range series {
			c := sc.cost(rep.Medians[s.name])
			y := y0 + titleH + j*(barH+gap)
			ww, pw := c.Worker/maxV*plotW, c.Parent/maxV*plotW
			fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" font-size="11">%s</text>`+"\n", left-6, y+barH-3, s.label)
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", left, y, ww, barH, s.color)
			fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s" fill-opacity="0.35"/>`+"\n", float64(left)+ww, y, pw, barH, s.color)
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="11">%s + %s</text>`+"\n", float64(left)+ww+pw+6, y+barH-3, short(c.Worker), short(c.Parent))
		}
	}
	fmt.Fprintf(&b, `<text x="20" y="%d" font-size="10" fill="#555">medians of interleaved runs; the bars of a scenario share one scale; %s, Node %s</text>`+"\n", H-16, rep.Go, rep.Node)
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// short formats a CPU time in µs for a bar's label.
func short(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}
