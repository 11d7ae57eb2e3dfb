// Package testkit holds the test doubles and helpers that the tests of several packages share, so
// that each is written once: a settable clock, a recording job enqueuer, the ffmpeg/ffprobe
// helpers of the video tests, and the ONNX runtime over the pinned models.
//
// It imports neither liveness nor media (their in-package tests use it), and nothing of it runs in
// the server.
package testkit

import (
	"context"
	"database/sql"
	"slices"
	"sync"
	"time"
)

// Clock is a settable clock (a Now func() time.Time for the code under test); safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock starts a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// Enqueuer stands in for the River-backed job enqueuer (jobs.Enqueuer) where the queue is not what
// a test is about. It is a deliberate fake, not a mock of something that could run here: what a
// store must guarantee (enqueue in the same transaction, roll back on failure, webhook only after
// the last analysis) is observable through these recorded calls. SQL adapts it to a store's *sql.Tx;
// a store's own test may wrap it to check, inside the transaction, that the rows are visible.
//
// Set Err to make every call fail (and record nothing); set it only while no store call is running.
type Enqueuer struct {
	Err error

	mu       sync.Mutex
	analyses []string
	webhooks []WebhookCall
	erasures []string
}

// WebhookCall is one recorded EnqueueWebhook.
type WebhookCall struct {
	FolderID, EventID string
}

// EnqueueAnalyses records the analysis IDs unless Err is set.
func (f *Enqueuer) EnqueueAnalyses(_ context.Context, analysisIDs []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Err != nil {
		return f.Err
	}
	f.analyses = append(f.analyses, analysisIDs...)
	return nil
}

// EnqueueWebhook records the call unless Err is set.
func (f *Enqueuer) EnqueueWebhook(_ context.Context, folderID, eventID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Err != nil {
		return f.Err
	}
	f.webhooks = append(f.webhooks, WebhookCall{folderID, eventID})
	return nil
}

// EnqueueErasure records the erasure ID unless Err is set.
func (f *Enqueuer) EnqueueErasure(_ context.Context, erasureID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Err != nil {
		return f.Err
	}
	f.erasures = append(f.erasures, erasureID)
	return nil
}

// Erasures returns every erasure ID enqueued so far, in order.
func (f *Enqueuer) Erasures() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.erasures)
}

// Analyses returns every analysis ID enqueued so far, in order.
func (f *Enqueuer) Analyses() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.analyses)
}

// Webhooks returns every webhook enqueued so far, in order.
func (f *Enqueuer) Webhooks() []WebhookCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.webhooks)
}

// SQL is the enqueuer over a *sql.Tx (it implements sqlite.Enqueuer); the transaction is not used.
func (f *Enqueuer) SQL() SQLEnqueuer { return SQLEnqueuer{f} }

// SQLEnqueuer adapts an Enqueuer to the embedded store's transactions.
type SQLEnqueuer struct{ F *Enqueuer }

// EnqueueAnalyses records the IDs.
func (e SQLEnqueuer) EnqueueAnalyses(ctx context.Context, _ *sql.Tx, ids []string) error {
	return e.F.EnqueueAnalyses(ctx, ids)
}

// EnqueueWebhook records the call.
func (e SQLEnqueuer) EnqueueWebhook(ctx context.Context, _ *sql.Tx, folderID, eventID string) error {
	return e.F.EnqueueWebhook(ctx, folderID, eventID)
}

// EnqueueErasure records the call.
func (e SQLEnqueuer) EnqueueErasure(ctx context.Context, _ *sql.Tx, erasureID string) error {
	return e.F.EnqueueErasure(ctx, erasureID)
}
