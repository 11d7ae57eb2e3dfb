package service

import (
	"context"
	"time"
)

// Every calls fn after first (at once when first <= 0) and then every interval, until ctx ends.
// Calls never overlap: a slow call delays the next tick.
func Every(ctx context.Context, first, interval time.Duration, fn func(context.Context)) {
	timer := time.NewTimer(max(first, 0))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		fn(ctx)
		timer.Reset(interval)
	}
}
