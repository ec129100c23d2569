//go:build windows

package procwire

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/Microsoft/go-winio"
	"golang.org/x/sys/windows"
)

// The worker's named pipe: \\.\pipe\procwire-<pid>-<random>. The listener
// is our own rather than winio.ListenPipe: it waits for each client with an
// event-based overlapped ConnectNamedPipe, which works on Windows and under
// Wine alike (Wine never completes go-winio's completion-port wait for
// ConnectNamedPipe, so its Accept never returns there). Connected handles
// are then served by go-winio's overlapped file I/O, which gives reads and
// writes deadlines.

const pipeBufferSize = 64 << 10

// listen creates the worker's named pipe and its first instance, so that a
// client can connect as soon as $init is out. dir is ignored. The pipe's
// default security descriptor grants access to the creating user, SYSTEM
// and administrators only, and remote clients are rejected.
func listen(dir string) (net.Listener, string, error) {
	path := fmt.Sprintf(`\\.\pipe\procwire-%d-%s`, os.Getpid(), randomHex(16))
	closeEv, err := windows.CreateEvent(nil, 1, 0, nil)
	if err != nil {
		return nil, "", fmt.Errorf("procwire: listen on %s: %w", path, err)
	}
	l := &pipeListener{path: path, closeEv: closeEv}
	if l.next, err = l.newInstance(true); err != nil {
		windows.CloseHandle(closeEv)
		return nil, "", fmt.Errorf("procwire: listen on %s: %w", path, err)
	}
	return l, path, nil
}

type pipeListener struct {
	path    string
	closeEv windows.Handle // set by Close to abort a waiting Accept

	mu     sync.Mutex
	next   windows.Handle // the instance the next client connects to
	closed bool
}

func (l *pipeListener) newInstance(first bool) (windows.Handle, error) {
	name, err := windows.UTF16PtrFromString(l.path)
	if err != nil {
		return 0, err
	}
	mode := uint32(windows.PIPE_ACCESS_DUPLEX | windows.FILE_FLAG_OVERLAPPED)
	if first {
		mode |= windows.FILE_FLAG_FIRST_PIPE_INSTANCE
	}
	return windows.CreateNamedPipe(name, mode,
		windows.PIPE_TYPE_BYTE|windows.PIPE_READMODE_BYTE|windows.PIPE_WAIT|windows.PIPE_REJECT_REMOTE_CLIENTS,
		windows.PIPE_UNLIMITED_INSTANCES, pipeBufferSize, pipeBufferSize, 0, nil)
}

// Accept waits for a client on the current instance and returns it as a
// connection; a new instance is created for the next client.
func (l *pipeListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, net.ErrClosed
	}
	h := l.next
	l.next = 0
	l.mu.Unlock()
	if h == 0 {
		var err error
		if h, err = l.newInstance(false); err != nil {
			return nil, err
		}
	}
	if err := l.connect(h); err != nil {
		windows.CloseHandle(h)
		return nil, err
	}
	f, err := winio.NewOpenFile(h)
	if err != nil {
		windows.CloseHandle(h)
		return nil, err
	}
	return &pipeConn{f: f.(pipeFile), path: l.path}, nil
}

// connect waits for a client to connect to h, or for Close.
func (l *pipeListener) connect(h windows.Handle) error {
	ev, err := windows.CreateEvent(nil, 1, 0, nil)
	if err != nil {
		return err
	}
	defer windows.CloseHandle(ev)
	ov := windows.Overlapped{HEvent: ev}
	err = windows.ConnectNamedPipe(h, &ov)
	switch {
	case err == nil, errors.Is(err, windows.ERROR_PIPE_CONNECTED), clientGone(err):
		return nil
	case !errors.Is(err, windows.ERROR_IO_PENDING):
		return err
	}
	which, err := windows.WaitForMultipleObjects([]windows.Handle{ev, l.closeEv}, false, windows.INFINITE)
	if err != nil {
		return err
	}
	if which != windows.WAIT_OBJECT_0 {
		windows.CancelIoEx(h, &ov)
		var n uint32
		windows.GetOverlappedResult(h, &ov, &n, true)
		return net.ErrClosed
	}
	var n uint32
	if err := windows.GetOverlappedResult(h, &ov, &n, false); err != nil && !clientGone(err) {
		return err
	}
	return nil
}

// clientGone reports a client that connected and closed its end before the
// connection was accepted. It is accepted all the same, as a connection
// that reads end of file at once, like a Unix socket in the same case.
func clientGone(err error) bool {
	return errors.Is(err, windows.ERROR_NO_DATA) || errors.Is(err, windows.ERROR_BROKEN_PIPE)
}

// Close stops accepting: a waiting Accept returns net.ErrClosed.
func (l *pipeListener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	windows.SetEvent(l.closeEv)
	if l.next != 0 {
		windows.CloseHandle(l.next)
		l.next = 0
	}
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr(l.path) }

type pipeAddr string

func (a pipeAddr) Network() string { return "pipe" }
func (a pipeAddr) String() string  { return string(a) }

// pipeFile is what go-winio's NewOpenFile returns: overlapped I/O with
// deadlines.
type pipeFile interface {
	io.ReadWriteCloser
	SetReadDeadline(time.Time) error
	SetWriteDeadline(time.Time) error
}

// pipeConn is a connected pipe instance as a net.Conn.
type pipeConn struct {
	f    pipeFile
	path string
}

func (c *pipeConn) Read(b []byte) (int, error)  { return c.f.Read(b) }
func (c *pipeConn) Write(b []byte) (int, error) { return c.f.Write(b) }
func (c *pipeConn) Close() error                { return c.f.Close() }
func (c *pipeConn) LocalAddr() net.Addr         { return pipeAddr(c.path) }
func (c *pipeConn) RemoteAddr() net.Addr        { return pipeAddr(c.path) }
func (c *pipeConn) SetReadDeadline(t time.Time) error {
	return c.f.SetReadDeadline(t)
}
func (c *pipeConn) SetWriteDeadline(t time.Time) error {
	return c.f.SetWriteDeadline(t)
}
func (c *pipeConn) SetDeadline(t time.Time) error {
	if err := c.f.SetReadDeadline(t); err != nil {
		return err
	}
	return c.f.SetWriteDeadline(t)
}

func controlInput() (r interface{ Read([]byte) (int, error) }, closeFn func()) {
	return os.Stdin, func() {}
}

func ignoreSIGPIPE() {}
