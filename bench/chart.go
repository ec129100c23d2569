package main

import (
	"bytes"
	"fmt"
	"math"
	"sort"
	"strconv"
)

// chart renders raw echo throughput against payload size for each
// implementation as an SVG line chart with logarithmic axes.
func chart(rep Report) []byte {
	const (
		W, H               = 900, 430
		left, right        = 70, 230
		top, bottom        = 40, 60
		plotW, plotH       = W - left - right, H - top - bottom
		minMBps, maxMBpsLo = 10.0, 100.0
	)
	series := []struct {
		name, label, color string
	}{
		{"null", "null worker (parent's ceiling)", "#888888"},
		{"go", "Go worker (procwire-go)", "#00add8"},
		{"node", "Node worker (@procwire/client)", "#68a063"},
	}
	var sizes []int
	for k := range rep.Medians["go"].Sweep {
		n, _ := strconv.Atoi(k)
		sizes = append(sizes, n)
	}
	sort.Ints(sizes)
	maxV := maxMBpsLo
	for _, s := range series {
		for _, v := range rep.Medians[s.name].Sweep {
			maxV = math.Max(maxV, v)
		}
	}
	maxV = math.Pow(10, math.Ceil(math.Log10(maxV)))
	if len(sizes) < 2 {
		return []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`)
	}
	x := func(size int) float64 {
		lo, hi := math.Log2(float64(sizes[0])), math.Log2(float64(sizes[len(sizes)-1]))
		return left + (math.Log2(float64(size))-lo)/(hi-lo)*plotW
	}
	y := func(v float64) float64 {
		v = math.Max(v, minMBps)
		return top + plotH - (math.Log10(v)-math.Log10(minMBps))/(math.Log10(maxV)-math.Log10(minMBps))*plotH
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", W, H)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", W, H)
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="14" font-weight="bold">Raw echo throughput under @procwire/core 1.5.0 (bytes both ways / time)</text>`+"\n", left)
	for v := minMBps; v <= maxV; v *= 10 {
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#e0e0e0"/>`+"\n", left, left+plotW, y(v), y(v))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%g</text>`+"\n", left-6, y(v)+4, v)
	}
	for _, s := range sizes {
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#e0e0e0"/>`+"\n", x(s), x(s), top, top+plotH)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x(s), top+plotH+18, sizeLabel(s))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">payload size</text>`+"\n", left+plotW/2, H-12)
	fmt.Fprintf(&b, `<text transform="translate(18,%d) rotate(-90)" text-anchor="middle">MB/s (log)</text>`+"\n", top+plotH/2)
	for i, s := range series {
		sw := rep.Medians[s.name].Sweep
		var pts bytes.Buffer
		for _, size := range sizes {
			v, ok := sw[strconv.Itoa(size)]
			if !ok {
				continue
			}
			fmt.Fprintf(&pts, "%.1f,%.1f ", x(size), y(v))
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", x(size), y(v), s.color)
		}
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", bytes.TrimSpace(pts.Bytes()), s.color)
		ly := top + 10 + i*20
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="3"/>`+"\n", left+plotW+10, left+plotW+28, ly, ly, s.color)
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="10">%s</text>`+"\n", left+plotW+32, ly+4, s.label)
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="10" fill="#555">raw socket pump, no parent: %.0f MB/s</text>`+"\n", left+plotW+10, top+80, rep.RawMBps)
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="10" fill="#555">%s, Node %s</text>`+"\n", left, H-28, rep.Go, rep.Node)
	b.WriteString("</svg>\n")
	return b.Bytes()
}

func sizeLabel(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}
