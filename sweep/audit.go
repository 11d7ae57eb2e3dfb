package sweep

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"bonafide"
	"bonafide/internal/service"
)

// AuditPurge removes audit entries older than Keep: once in Start, then every Every (a day when
// zero) until Stop. Each purge that removed entries is itself recorded (bonafide.AuditPurge, by the
// system), so the trail says when and how much of it was let go. Keep <= 0 keeps every entry (the
// purge does nothing).
type AuditPurge struct {
	Store bonafide.AuditStore
	Keep  time.Duration
	Every time.Duration
	Now   func() time.Time // time.Now when nil
	Log   *slog.Logger     // slog.Default() when nil

	loop service.Loop
}

var _ service.Service = (*AuditPurge)(nil)

// Start purges once, then in the background every Every until Stop or the end of ctx. Failures are
// logged, not returned.
func (p *AuditPurge) Start(ctx context.Context) error {
	if p.Every <= 0 {
		p.Every = 24 * time.Hour
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.Log == nil {
		p.Log = slog.Default()
	}
	p.Purge(ctx)
	return p.loop.Go(ctx, func(ctx context.Context) {
		service.Every(ctx, p.Every, p.Every, func(ctx context.Context) { p.Purge(ctx) })
	})
}

// Stop ends the purge, waiting for one under way (at most until ctx ends).
func (p *AuditPurge) Stop(ctx context.Context) error { return p.loop.Stop(ctx) }

// Done is closed when the purge has ended.
func (p *AuditPurge) Done() <-chan struct{} { return p.loop.Done() }

// Purge removes the entries older than Keep now and says how many went.
func (p *AuditPurge) Purge(ctx context.Context) int {
	if p.Keep <= 0 {
		return 0
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	log := p.Log
	if log == nil {
		log = slog.Default()
	}
	cut := now().Add(-p.Keep)
	n, err := p.Store.DeleteAuditBefore(ctx, cut)
	if err != nil {
		if ctx.Err() == nil {
			log.Error("purge old audit entries", "err", err)
		}
		return 0
	}
	if n > 0 {
		log.Info("purged old audit entries", "entries", n, "before", cut.UTC().Format(time.RFC3339))
		err := bonafide.Audit(ctx, p.Store, bonafide.AuditEntry{Time: now(), Action: bonafide.AuditPurge,
			Details: map[string]string{"entries": strconv.Itoa(n), "before": cut.UTC().Format(time.RFC3339), "keep": p.Keep.String()}})
		if err != nil && ctx.Err() == nil {
			log.Error("audit entry not recorded", "action", bonafide.AuditPurge, "err", err)
		}
	}
	return n
}
