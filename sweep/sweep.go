// Package sweep holds the background services that remove what nothing needs any more: the
// Sweeper removes stored files no row refers to, the SessionPurge expired sessions, old login
// throttle entries and abandoned capture sessions. Both are service.Services: Start, Stop, Done.
//
// The Sweeper removes the media file or best shot left by an upload that failed half way, a
// worker that died between storing a best shot and committing its result, or a delete whose file
// removal failed. A file is removed only when it is older than Grace and, checked against the
// store after it was listed, no media row or analysis result names it. Every node of a scale-out
// deployment may sweep at the same time: deletes are idempotent (a file another node removed
// first is not an error), and only unreferenced files past the grace period are touched. Grace
// must exceed the longest time between storing a file and committing the row that names it (an
// upload: seconds; an analysis's best shot: the job timeout), so the default of an hour leaves a
// wide margin.
package sweep

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"bonafide"
	"bonafide/internal/service"
)

// Defaults.
const (
	DefaultGrace = time.Hour
	DefaultEvery = time.Hour
	DefaultFirst = time.Minute
	batchSize    = 500
)

// Store is the part of bonafide.Store the sweep uses.
type Store interface {
	ReferencedBlobKeys(ctx context.Context, keys []string) (map[string]bool, error)
}

// Sweeper removes unreferenced stored files. Set its fields before Start or Sweep.
type Sweeper struct {
	Store Store
	Blobs bonafide.Blobs
	Grace time.Duration // only files last written longer ago are candidates (default 1 h)
	Every time.Duration // Run sweeps this often (default 1 h)
	First time.Duration // Run's first sweep comes this long after start (default 1 min)
	Now   func() time.Time
	Log   *slog.Logger

	loop service.Loop
}

var _ service.Service = (*Sweeper)(nil)

// New returns a sweeper with the default timings.
func New(store Store, blobs bonafide.Blobs, log *slog.Logger) *Sweeper {
	return &Sweeper{Store: store, Blobs: blobs, Log: log}
}

func (s *Sweeper) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

func (s *Sweeper) log() *slog.Logger {
	if s.Log == nil {
		return slog.Default()
	}
	return s.Log
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Start sweeps First after it is called and then Every, in the background until Stop or the end
// of ctx; it logs what each sweep removed. A failed sweep is logged and tried again at the next
// tick.
func (s *Sweeper) Start(ctx context.Context) error {
	return s.loop.Go(ctx, func(ctx context.Context) {
		service.Every(ctx, orDefault(s.First, DefaultFirst), orDefault(s.Every, DefaultEvery), s.tick)
	})
}

// Stop ends the sweeps, waiting for one under way (at most until ctx ends).
func (s *Sweeper) Stop(ctx context.Context) error { return s.loop.Stop(ctx) }

// Done is closed when the sweeps have ended.
func (s *Sweeper) Done() <-chan struct{} { return s.loop.Done() }

func (s *Sweeper) tick(ctx context.Context) {
	start := time.Now()
	removed, err := s.Sweep(ctx)
	if err != nil && ctx.Err() == nil {
		s.log().Warn("sweep of unreferenced files failed", "removed", removed, "err", err)
	} else if err == nil {
		s.log().Info("swept unreferenced files", "removed", removed, "took", time.Since(start).Round(time.Millisecond))
	}
}

// Sweep lists every stored file once and removes those older than Grace that no row refers to. It
// returns how many it removed.
func (s *Sweeper) Sweep(ctx context.Context) (removed int, err error) {
	return s.sweep(ctx, s.now().Add(-orDefault(s.Grace, DefaultGrace)))
}

// SweepAll removes every stored file that no row refers to, however new: only for storage that
// nothing else writes meanwhile (the embedded server at start, before it serves or works).
func (s *Sweeper) SweepAll(ctx context.Context) (removed int, err error) {
	return s.sweep(ctx, s.now().Add(time.Second))
}

func (s *Sweeper) sweep(ctx context.Context, cutoff time.Time) (removed int, err error) {
	var batch []string
	flush := func() error {
		n, err := s.removeUnreferenced(ctx, batch, cutoff)
		removed += n
		batch = batch[:0]
		return err
	}
	err = s.Blobs.List(ctx, "", func(o bonafide.BlobInfo) error {
		if !o.ModTime.Before(cutoff) {
			return nil
		}
		batch = append(batch, o.Key)
		if len(batch) >= batchSize {
			return flush()
		}
		return nil
	})
	if err == nil && len(batch) > 0 {
		err = flush()
	}
	return removed, err
}

// removeUnreferenced deletes the keys of batch that no row names, each after checking that it was
// not written again since it was listed.
func (s *Sweeper) removeUnreferenced(ctx context.Context, batch []string, cutoff time.Time) (int, error) {
	refs, err := s.Store.ReferencedBlobKeys(ctx, batch)
	if err != nil {
		return 0, fmt.Errorf("sweep: which files are referenced: %w", err)
	}
	removed := 0
	for _, k := range batch {
		if refs[k] {
			continue
		}
		if fresh, err := s.rewritten(ctx, k, cutoff); err != nil || fresh {
			continue
		}
		if err := s.Blobs.Delete(ctx, k); err != nil {
			if bonafide.CodeOf(err) == bonafide.CodeNotExist {
				continue // another node removed it first
			}
			if ctx.Err() != nil {
				return removed, ctx.Err()
			}
			s.log().Warn("sweep: unreferenced file not deleted", "key", k, "err", err)
			continue
		}
		s.log().Debug("sweep: removed an unreferenced file", "key", k)
		removed++
	}
	return removed, nil
}

// rewritten reports whether key was written after cutoff (or is gone), as when a retried job
// stores its best shot again under the same key while the sweep runs.
func (s *Sweeper) rewritten(ctx context.Context, key string, cutoff time.Time) (bool, error) {
	found := false
	fresh := true
	err := s.Blobs.List(ctx, key, func(o bonafide.BlobInfo) error {
		if o.Key == key {
			found, fresh = true, !o.ModTime.Before(cutoff)
		}
		return nil
	})
	return fresh || !found, err
}
