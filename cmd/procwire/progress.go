package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// isTerminal reports whether w is a terminal: a character device other
// than the null device.
func isTerminal(w io.Writer) bool {
	if s, ok := w.(*syncWriter); ok {
		w = s.w
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	null, err := os.Stat(os.DevNull)
	return err != nil || !os.SameFile(fi, null)
}

// progress redraws a one-line status on a terminal about five times a
// second until stopped; on anything else it does nothing.
type progress struct {
	w    io.Writer
	line func(elapsed time.Duration) string
	quit chan struct{}
	wg   sync.WaitGroup
}

func startProgress(w io.Writer, line func(elapsed time.Duration) string) *progress {
	p := &progress{w: w, line: line, quit: make(chan struct{})}
	if !isTerminal(w) {
		return p
	}
	start := time.Now()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				fmt.Fprintf(w, "\r\033[K%s", p.line(time.Since(start)))
			case <-p.quit:
				fmt.Fprint(w, "\r\033[K")
				return
			}
		}
	}()
	return p
}

// stop clears the status line.
func (p *progress) stop() {
	close(p.quit)
	p.wg.Wait()
}

// bytesString formats a byte count with a binary unit.
func bytesString(n float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for n >= 1024 && i < len(units)-1 {
		n /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f %s", n, units[i])
	}
	return fmt.Sprintf("%.1f %s", n, units[i])
}
