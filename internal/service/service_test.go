package service

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

func wait(t *testing.T, c <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: not within 5 s", what)
	}
}

// Go runs the function until Stop, which waits for it; Done is closed after; the loop starts again.
func TestLoopStartStopWait(t *testing.T) {
	var l Loop
	wait(t, l.Done(), "Done of a loop never started")
	if err := l.Stop(t.Context()); err != nil {
		t.Fatalf("Stop of a loop never started: %v", err)
	}
	for round := range 2 {
		running, returned := make(chan struct{}), make(chan struct{})
		if err := l.Go(t.Context(), func(ctx context.Context) {
			close(running)
			<-ctx.Done()
			time.Sleep(10 * time.Millisecond) // Stop must wait for this
			close(returned)
		}); err != nil {
			t.Fatalf("round %d: Go: %v", round, err)
		}
		wait(t, running, "the function to run")
		if err := l.Go(t.Context(), func(context.Context) {}); !errors.Is(err, ErrStarted) {
			t.Fatalf("Go on a running loop: %v", err)
		}
		select {
		case <-l.Done():
			t.Fatal("Done closed while running")
		default:
		}
		if err := l.Stop(t.Context()); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		select {
		case <-returned:
		default:
			t.Fatal("Stop returned before the function did")
		}
		wait(t, l.Done(), "Done after Stop")
	}
}

// The loop ends with the context it was started with; Stop gives up when its own context ends.
func TestLoopContexts(t *testing.T) {
	var l Loop
	ctx, cancel := context.WithCancel(t.Context())
	if err := l.Go(ctx, func(ctx context.Context) { <-ctx.Done() }); err != nil {
		t.Fatal(err)
	}
	cancel()
	wait(t, l.Done(), "Done after the start context ended")

	release := make(chan struct{})
	defer close(release)
	if err := l.Go(t.Context(), func(context.Context) { <-release }); err != nil {
		t.Fatal(err)
	}
	short, cancelShort := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancelShort()
	if err := l.Stop(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stop of a function that does not return: %v", err)
	}
}

type fake struct {
	name     string
	log      *[]string
	startErr error
	Loop
}

func (f *fake) Start(ctx context.Context) error {
	*f.log = append(*f.log, "start "+f.name)
	if f.startErr != nil {
		return f.startErr
	}
	return f.Go(ctx, func(ctx context.Context) { <-ctx.Done() })
}

func (f *fake) Stop(ctx context.Context) error {
	*f.log = append(*f.log, "stop "+f.name)
	return f.Loop.Stop(ctx)
}

var _ Service = (*fake)(nil)

// A group stops what it started, the last first; a service that failed to start is not stopped.
func TestGroupStopsInReverse(t *testing.T) {
	var log []string
	var g Group
	a, b := &fake{name: "a", log: &log}, &fake{name: "b", log: &log}
	bad := &fake{name: "bad", log: &log, startErr: errors.New("no")}
	for _, s := range []*fake{a, b} {
		if err := g.Start(t.Context(), s); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.Start(t.Context(), bad); err == nil {
		t.Fatal("a failed start was not reported")
	}
	if err := g.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := []string{"start a", "start b", "start bad", "stop b", "stop a"}
	if !slices.Equal(log, want) {
		t.Fatalf("calls %v, want %v", log, want)
	}
	wait(t, a.Done(), "a stopped")
	wait(t, b.Done(), "b stopped")
	if err := g.Stop(t.Context()); err != nil || len(log) != len(want) {
		t.Fatalf("a second Stop: %v, calls %v", err, log)
	}
}
