package procwire

import (
	"crypto/subtle"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/procwire/procwire-go/wire"
)

// Limits on connections that have not authenticated yet.
const (
	maxPendingAuth = 16   // unauthenticated connections served at once
	maxTokenLength = 1024 // longest AUTH payload read
)

// acceptor accepts connections on the worker's listener and adopts exactly
// one: the first, or with a token the first whose first frame is an AUTH
// frame carrying it. Adoption closes the listener (removing the socket
// file) and every other pending connection.
type acceptor struct {
	ln          net.Listener
	token       []byte
	maxPayload  uint32
	bufSize     int
	authTimeout time.Duration
	log         *slog.Logger

	adopted chan adoption // receives the adopted connection, once
	failed  chan error    // receives a listener failure before adoption

	mu      sync.Mutex
	pending map[net.Conn]struct{}
	closed  bool
	taken   bool
	wg      sync.WaitGroup
}

type adoption struct {
	nc net.Conn
	r  *wire.Reader
}

func newAcceptor(ln net.Listener, token string, maxPayload uint32, bufSize int, log *slog.Logger) *acceptor {
	a := &acceptor{
		ln:          ln,
		maxPayload:  maxPayload,
		bufSize:     bufSize,
		authTimeout: DefaultAuthTimeout,
		log:         log,
		adopted:     make(chan adoption, 1),
		failed:      make(chan error, 1),
		pending:     make(map[net.Conn]struct{}),
	}
	if token != "" {
		a.token = []byte(token)
	}
	return a
}

func (a *acceptor) start() {
	a.wg.Add(1)
	go a.run()
}

func (a *acceptor) run() {
	defer a.wg.Done()
	for {
		nc, err := a.ln.Accept()
		if err != nil {
			a.mu.Lock()
			quiet := a.closed || a.taken
			a.mu.Unlock()
			if !quiet {
				a.failed <- err
			}
			return
		}
		if a.token == nil {
			a.adopt(nc, wire.NewReader(nc, a.maxPayload, a.bufSize))
			return
		}
		a.mu.Lock()
		switch {
		case a.closed || a.taken:
			a.mu.Unlock()
			nc.Close()
			return
		case len(a.pending) >= maxPendingAuth:
			a.mu.Unlock()
			a.log.Warn("procwire: refusing a connection: too many unauthenticated connections", "limit", maxPendingAuth)
			nc.Close()
			continue
		}
		a.pending[nc] = struct{}{}
		a.wg.Add(1)
		a.mu.Unlock()
		go a.authenticate(nc)
	}
}

// authenticate reads the first frame of nc and adopts nc if it is an AUTH
// frame with the right token. Otherwise nc is closed with everything that
// arrived on it.
func (a *acceptor) authenticate(nc net.Conn) {
	defer a.wg.Done()
	reject := func(reason string, args ...any) {
		a.log.Warn("procwire: closing an unauthenticated connection: "+reason, args...)
		a.forget(nc)
		nc.Close()
	}
	nc.SetReadDeadline(time.Now().Add(a.authTimeout))
	r := wire.NewReader(nc, a.maxPayload, a.bufSize)
	h, err := r.ReadHeader()
	if err != nil {
		var pe *wire.ProtocolError
		if errors.As(err, &pe) {
			reject("invalid first frame", "reason", pe.Reason)
		} else {
			reject("no AUTH frame", "error", err)
		}
		return
	}
	if h.Method != wire.MethodAuth {
		reject("first frame is not AUTH", "method_id", h.Method)
		return
	}
	if h.Length > maxTokenLength {
		reject("AUTH payload too long", "length", h.Length)
		return
	}
	var buf [maxTokenLength]byte
	tok := buf[:h.Length]
	if err := r.ReadPayload(tok); err != nil {
		reject("truncated AUTH frame", "error", err)
		return
	}
	if subtle.ConstantTimeCompare(tok, a.token) != 1 {
		reject("wrong token")
		return
	}
	nc.SetReadDeadline(time.Time{})
	a.forget(nc)
	a.adopt(nc, r)
}

func (a *acceptor) forget(nc net.Conn) {
	a.mu.Lock()
	delete(a.pending, nc)
	a.mu.Unlock()
}

// adopt hands nc to the worker unless another connection was adopted or the
// acceptor closed first.
func (a *acceptor) adopt(nc net.Conn, r *wire.Reader) {
	a.mu.Lock()
	if a.closed || a.taken {
		a.mu.Unlock()
		nc.Close()
		return
	}
	a.taken = true
	for other := range a.pending {
		other.Close()
	}
	a.mu.Unlock()
	a.ln.Close()
	a.adopted <- adoption{nc: nc, r: r}
}

// close stops accepting, closes pending connections and waits for the
// acceptor's goroutines.
func (a *acceptor) close() {
	a.mu.Lock()
	a.closed = true
	for nc := range a.pending {
		nc.Close()
	}
	a.mu.Unlock()
	a.ln.Close()
	a.wg.Wait()
}
