package parent

// The size of a Pool: growing, shrinking with draining, and shutting
// down (ownership: see pool.go).

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// Resize changes the number of instances to n (at least 1).
//
// Growing spawns the new instances in parallel, each as Start would (with
// the retries of the pool's Options); each takes requests once ready. The
// ones that fail are not added, and their errors (*SpawnError) are
// returned, joined.
//
// Shrinking removes the instances that are not ready first, then those
// with the fewest requests in flight, the newest first among equals: at
// once they take no new request; Resize waits for their requests in
// flight to end (streams included) until ctx ends or, if ctx has no
// earlier deadline, for DefaultDrainTimeout, then shuts them down (with
// ctx: see Module.Shutdown); requests still in flight then fail with
// ErrClosed. If ctx ended first, Resize returns its error, the size
// changed all the same.
//
// Either way Resize first replaces the instances that closed for good.
// Calls made meanwhile go on; one Resize runs at a time (a second one
// waits), and Shutdown makes one in progress give up at once.
func (p *Pool) Resize(ctx context.Context, n int) error {
	if n < 1 {
		return fmt.Errorf("procwire/parent: pool %q: size must be at least 1 (got %d); use Shutdown to stop every instance", p.name, n)
	}
	p.resizeMu.Lock()
	defer p.resizeMu.Unlock()
	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		return fmt.Errorf("procwire/parent: pool %q: %w", p.name, ErrPoolClosed)
	}
	// The closed instances go, to be replaced; then the surplus.
	var gone []*member
	p.members = slices.DeleteFunc(p.members, func(mem *member) bool {
		if mem.m.State() == Closed {
			gone = append(gone, mem)
			return true
		}
		return false
	})
	grow := n - len(p.members)
	if grow < 0 {
		byCost := slices.Clone(p.members)
		slices.SortStableFunc(byCost, func(a, b *member) int {
			if ra, rb := a.ready.Load(), b.ready.Load(); ra != rb {
				if rb {
					return -1
				}
				return 1
			}
			if la, lb := a.inflight.Load(), b.inflight.Load(); la != lb {
				return int(la - lb)
			}
			return b.id - a.id
		})
		surplus := byCost[:-grow]
		p.members = slices.DeleteFunc(p.members, func(mem *member) bool { return slices.Contains(surplus, mem) })
		gone = append(gone, surplus...)
	}
	p.retiring = append(p.retiring, gone...)
	p.publishLocked()
	p.mu.Unlock()

	var err error
	if grow > 0 {
		err = p.grow(ctx, grow)
	}
	if len(gone) > 0 {
		if derr := p.retire(ctx, gone); derr != nil {
			err = errors.Join(err, derr)
		}
	}
	return err
}

// publishLocked makes the members the routing's; p.mu is held.
func (p *Pool) publishLocked() {
	route := slices.Clone(p.members)
	p.route.Store(&route)
}

// grow spawns k instances in parallel and adds those that start; the
// caller holds resizeMu.
func (p *Pool) grow(ctx context.Context, k int) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	defer context.AfterFunc(p.life, func() { cancel(ErrPoolClosed) })()
	errs := make([]error, k)
	var wg sync.WaitGroup
	for i := range k {
		p.mu.Lock()
		p.lastID++
		mem := &member{id: p.lastID, idle: make(chan struct{}, 1)}
		p.mu.Unlock()
		m, err := newModule(fmt.Sprintf("%s#%d", p.name, mem.id), p.cmd, p.opts, func(l Lifecycle) {
			if l.Kind == StateChange {
				mem.ready.Store(l.State == Ready)
			}
			p.lc.emit(l)
		})
		if err != nil { // the options were checked by StartPool: cannot happen
			errs[i] = err
			continue
		}
		mem.m = m
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i] = m.start(ctx); errs[i] != nil {
				return
			}
			p.mu.Lock()
			if p.closing {
				p.mu.Unlock()
				m.Shutdown(context.WithoutCancel(ctx))
				errs[i] = fmt.Errorf("procwire/parent: pool %q: %w", p.name, ErrPoolClosed)
				return
			}
			at := 0
			for at < len(p.members) && p.members[at].id < mem.id {
				at++
			}
			p.members = slices.Insert(p.members, at, mem)
			for name := range p.names {
				p.forward(mem, name)
			}
			p.publishLocked()
			p.mu.Unlock()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// retire waits for the requests in flight on the members Resize removed
// (see Resize), then shuts them down, in parallel; the caller holds
// resizeMu.
func (p *Pool) retire(ctx context.Context, gone []*member) error {
	drain, cancel := context.WithTimeout(ctx, DefaultDrainTimeout)
	defer cancel()
	defer context.AfterFunc(p.life, cancel)()
	var wg sync.WaitGroup
	for _, mem := range gone {
		mem.retired.Store(true)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for mem.inflight.Load() > 0 {
				select {
				case <-mem.idle:
				case <-drain.Done():
					p.log.Warn("procwire/parent: pool instance removed with requests in flight", "instance", mem.m.Name(), "in_flight", mem.inflight.Load(), "reason", context.Cause(drain))
					mem.m.Shutdown(ctx)
					return
				}
			}
			mem.m.Shutdown(ctx)
		}()
	}
	wg.Wait()
	p.mu.Lock()
	p.retiring = slices.DeleteFunc(p.retiring, func(mem *member) bool { return slices.Contains(gone, mem) })
	p.mu.Unlock()
	return ctx.Err()
}

// Shutdown shuts every instance down in parallel (see Module.Shutdown:
// requests in flight fail with ErrClosed) and returns when all have, every
// event subscription is closed, the last OnEvent callback has returned and
// every lifecycle event has been delivered: no goroutine or process of the
// pool is left. A Resize in progress gives up. Later calls fail with
// ErrNotReady (wrapping ErrPoolClosed); a second Shutdown waits for the
// first (or ctx).
func (p *Pool) Shutdown(ctx context.Context) error {
	if !startClosing(&p.mu, &p.closing, func() { p.route.Store(new([]*member)) }) {
		return waitClosed(ctx, p.closed)
	}
	p.stopLife()
	p.resizeMu.Lock() // a Resize in progress ends: its spawns and drain see life
	p.mu.Lock()
	ms := p.members
	p.members = nil
	p.mu.Unlock()
	inParallel(ms, func(mem *member) error { return mem.m.Shutdown(ctx) })
	p.resizeMu.Unlock()
	p.wg.Wait() // the forwarders: their members' subscriptions are closed
	p.hub.stopLife()
	p.hub.closeSubs()
	p.hub.handlers.Wait()
	p.lc.wait()
	close(p.closed)
	return nil
}
