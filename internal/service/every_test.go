package service

import (
	"context"
	"testing"
	"time"
)

// The first call comes after first, the next ones every interval, and Every returns when ctx ends.
func TestEvery(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	calls := make(chan time.Time, 10)
	start := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		Every(ctx, 0, 10*time.Millisecond, func(context.Context) { calls <- time.Now() })
	}()
	var seen []time.Time
	for len(seen) < 3 {
		select {
		case c := <-calls:
			seen = append(seen, c)
		case <-time.After(5 * time.Second):
			t.Fatalf("only %d calls", len(seen))
		}
	}
	if seen[1].Sub(seen[0]) < 10*time.Millisecond || seen[0].Before(start) {
		t.Fatalf("calls at %v: not spaced by the interval", seen)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Every did not return when its context ended")
	}
}
