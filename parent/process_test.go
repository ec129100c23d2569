package parent

import (
	"bufio"
	"io"
	"strings"
	"testing"
	"time"
)

// TestLineCutter checks the stderr splitter: lines as bufio.ScanLines
// gives them, an overlong line cut to its head, and the line after it
// delivered as soon as it is complete (not only at the end of the input).
func TestLineCutter(t *testing.T) {
	const limit = 1 << 10
	pr, pw := io.Pipe()
	defer pw.Close()
	sc := bufio.NewScanner(pr)
	sc.Buffer(make([]byte, 64), limit)
	lines := lineCutter{max: limit}
	sc.Split(lines.split)
	type line struct {
		text string
		cut  bool
	}
	got := make(chan line)
	go func() {
		for sc.Scan() {
			got <- line{sc.Text(), lines.cut}
		}
		close(got)
	}()
	go func() {
		io.WriteString(pw, "first\r\n")
		for range 5 {
			io.WriteString(pw, strings.Repeat("y", limit/2+1))
		}
		io.WriteString(pw, "\nafter the long line\n") // and no EOF
	}()
	want := []line{{"first", false}, {strings.Repeat("y", limit), true}, {"after the long line", false}}
	for _, w := range want {
		select {
		case l := <-got:
			if l != w {
				t.Fatalf("got %.20q (%d bytes, cut %v), want %.20q (%d bytes, cut %v)", l.text, len(l.text), l.cut, w.text, len(w.text), w.cut)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%.20q not delivered", w.text)
		}
	}
	pw.Close()
	if l, ok := <-got; ok {
		t.Fatalf("unexpected line %.20q", l.text)
	}
}
