// Package storetest is the conformance suite every bonafide.Store implementation runs (sqlite, postgres).
package storetest

import (
	"context"
	"slices"
	"sync"
	"time"
)

// FakeEnqueuer stands in for the River-backed job enqueuer. It is a deliberate fake, not a mock of
// something that could run here: the real enqueuer lives in the jobs package, and what the store must
// guarantee (enqueue in the same transaction, roll back on failure, webhook only after the last
// analysis) is observable through these recorded calls. Each store's test adapts it to that store's
// transaction type; the adapter may also check, inside the transaction, that the rows are visible.
//
// Set Err to make every call fail (and record nothing); set it only while no store call is running.
type FakeEnqueuer struct {
	Err error

	mu       sync.Mutex
	analyses []string
	webhooks []WebhookCall
}

// WebhookCall is one recorded EnqueueWebhook.
type WebhookCall struct {
	FolderID, EventID string
}

// EnqueueAnalyses records the analysis IDs unless Err is set.
func (f *FakeEnqueuer) EnqueueAnalyses(_ context.Context, analysisIDs []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Err != nil {
		return f.Err
	}
	f.analyses = append(f.analyses, analysisIDs...)
	return nil
}

// EnqueueWebhook records the call unless Err is set.
func (f *FakeEnqueuer) EnqueueWebhook(_ context.Context, folderID, eventID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Err != nil {
		return f.Err
	}
	f.webhooks = append(f.webhooks, WebhookCall{folderID, eventID})
	return nil
}

// Analyses returns every analysis ID enqueued so far, in order.
func (f *FakeEnqueuer) Analyses() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.analyses)
}

// Webhooks returns every webhook enqueued so far, in order.
func (f *FakeEnqueuer) Webhooks() []WebhookCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.webhooks)
}

// Clock is a manual clock for the store under test.
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

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Env is what a store under test is opened with: install Enqueuer (adapted) and use Now as its clock.
type Env struct {
	Enqueuer *FakeEnqueuer
	Now      func() time.Time
}
