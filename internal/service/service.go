// Package service gives the server's background work one shape. A Service starts in the
// background and returns, stops when asked (waiting for its work to end), and says when it has
// ended: the sweepers of sweep (unreferenced files, expired sessions), the job queue of jobs
// (with its scale-out heartbeat) all have it, and cmd/bonafide's serve starts them in a Group
// and stops them the one way. Loop is the goroutine with its stop signal that a service built in
// this module runs its work in; Every is the tick of the periodic ones.
package service

import (
	"context"
	"errors"
	"sync"
)

// Service is a piece of background work.
type Service interface {
	// Start begins the work in the background and returns once it runs (or failed to start).
	// The work ends when Stop is called or ctx ends.
	Start(ctx context.Context) error
	// Stop asks the work to end and waits for it, at most until ctx ends (then it returns ctx's
	// error and the work ends on its own). Stopping a service that never started does nothing.
	Stop(ctx context.Context) error
	// Done is closed when the work has ended: after Stop, or once the context of Start ended.
	Done() <-chan struct{}
}

// ErrStarted is what Loop.Go returns for a loop that is already running.
var ErrStarted = errors.New("service: already started")

// closed is the Done of a loop that never started: there is nothing to wait for.
var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// Loop runs one function in its own goroutine until Stop or the end of its context. The zero
// Loop is ready to use; a stopped Loop may be started again.
type Loop struct {
	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// Go runs fn in a goroutine with a context that ends with ctx or at Stop; fn should return soon
// after its context ends.
func (l *Loop) Go(ctx context.Context, fn func(ctx context.Context)) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done != nil {
		select {
		case <-l.done:
		default:
			return ErrStarted
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	l.cancel, l.done = cancel, done
	go func() {
		defer close(done)
		defer cancel()
		fn(ctx)
	}()
	return nil
}

// Stop ends the loop's context and waits for fn to return, at most until ctx ends.
func (l *Loop) Stop(ctx context.Context) error {
	l.mu.Lock()
	cancel, done := l.cancel, l.done
	l.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Done is closed when fn has returned (at once for a loop never started).
func (l *Loop) Done() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done == nil {
		return closed
	}
	return l.done
}

// Group starts services in order and stops those it started in the reverse order, so that a
// service stops before the ones it was started after (and may depend on).
type Group struct {
	mu      sync.Mutex
	started []Service
}

// Start starts s and, when it started, keeps it for Stop.
func (g *Group) Start(ctx context.Context, s Service) error {
	if err := s.Start(ctx); err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.started = append(g.started, s)
	return nil
}

// Stop stops every started service, the last started first, each within ctx, and forgets them;
// it returns their errors joined.
func (g *Group) Stop(ctx context.Context) error {
	g.mu.Lock()
	started := g.started
	g.started = nil
	g.mu.Unlock()
	var errs []error
	for i := len(started) - 1; i >= 0; i-- {
		errs = append(errs, started[i].Stop(ctx))
	}
	return errors.Join(errs...)
}
