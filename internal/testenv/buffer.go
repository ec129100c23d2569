package testenv

import "sync"

// Buffer collects what writers in several goroutines write: a worker's
// logs or stderr, a suite's output. The zero value is ready to use.
type Buffer struct {
	mu  sync.Mutex
	buf []byte
}

// Write appends p; it never fails.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	b.buf = append(b.buf, p...)
	b.mu.Unlock()
	return len(p), nil
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
