package sweep

import (
	"context"
	"log/slog"
	"time"

	"bonafide"
	"bonafide/internal/service"
)

// PurgeStore is the part of bonafide.Store the session purge uses.
type PurgeStore interface {
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error)
	DeleteLoginBackoffsBefore(ctx context.Context, before time.Time) (int, error)
	DeleteAbandonedCaptureSessions(ctx context.Context, before time.Time) ([]string, error)
	ListMedia(ctx context.Context, folderID string) ([]*bonafide.Media, error)
	ListAnalyses(ctx context.Context, folderID string) ([]*bonafide.Analysis, error)
	DeleteFolder(ctx context.Context, id string) error
}

// SessionPurge deletes expired sessions, login throttle entries that ended
// bonafide.LoginBackoffKeep ago, and capture sessions never uploaded (with their empty folders)
// bonafide.CaptureSessionKeep after their link expired: once in Start, then every Every (an hour
// when zero) until Stop. Expired sessions are refused anyway; this keeps the table from growing
// with every login.
type SessionPurge struct {
	Store PurgeStore
	Every time.Duration
	Now   func() time.Time // time.Now when nil
	Log   *slog.Logger     // slog.Default() when nil

	loop service.Loop
}

var _ service.Service = (*SessionPurge)(nil)

// Start purges once, then in the background every Every until Stop or the end of ctx. The first
// purge is done when Start returns; its failures are logged, not returned.
func (p *SessionPurge) Start(ctx context.Context) error {
	if p.Every <= 0 {
		p.Every = time.Hour
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.Log == nil {
		p.Log = slog.Default()
	}
	p.purge(ctx)
	return p.loop.Go(ctx, func(ctx context.Context) { service.Every(ctx, p.Every, p.Every, p.purge) })
}

// Stop ends the purge, waiting for one under way (at most until ctx ends).
func (p *SessionPurge) Stop(ctx context.Context) error { return p.loop.Stop(ctx) }

// Done is closed when the purge has ended.
func (p *SessionPurge) Done() <-chan struct{} { return p.loop.Done() }

func (p *SessionPurge) purge(ctx context.Context) {
	n, err := p.Store.DeleteExpiredSessions(ctx, p.Now())
	switch {
	case err != nil && ctx.Err() == nil:
		p.Log.Error("purge expired sessions", "err", err)
	case n > 0:
		p.Log.Info("purged expired sessions", "sessions", n)
	}
	p.purgeCaptures(ctx)
	n, err = p.Store.DeleteLoginBackoffsBefore(ctx, p.Now().Add(-bonafide.LoginBackoffKeep))
	switch {
	case err != nil && ctx.Err() == nil:
		p.Log.Error("purge old login throttle entries", "err", err)
	case n > 0:
		p.Log.Info("purged old login throttle entries", "entries", n)
	}
}

// purgeCaptures deletes the capture sessions never uploaded whose link expired
// bonafide.CaptureSessionKeep
// ago, and each one's folder when it is still empty (no media, no analysis): an abandoned
// capture leaves nothing in the folder list.
func (p *SessionPurge) purgeCaptures(ctx context.Context) {
	ids, err := p.Store.DeleteAbandonedCaptureSessions(ctx, p.Now().Add(-bonafide.CaptureSessionKeep))
	if err != nil {
		if ctx.Err() == nil {
			p.Log.Error("purge abandoned capture sessions", "err", err)
		}
		return
	}
	folders := 0
	for _, id := range ids {
		ms, err := p.Store.ListMedia(ctx, id)
		if err != nil {
			continue // deleted already, or the next purge will not see it again: the folder stays
		}
		as, err := p.Store.ListAnalyses(ctx, id)
		if err != nil || len(ms) > 0 || len(as) > 0 {
			continue
		}
		if err := p.Store.DeleteFolder(ctx, id); err == nil {
			folders++
		}
	}
	if len(ids) > 0 {
		p.Log.Info("purged abandoned capture sessions", "sessions", len(ids), "empty_folders", folders)
	}
}
