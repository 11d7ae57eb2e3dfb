package storetest

import (
	"strings"
	"sync"
	"testing"
	"time"

	"bonafide"
)

func testLoginBackoff(t *testing.T, h *harness) {
	ctx := t.Context()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	got, err := h.s.GetLoginBackoff(ctx, "account:a1")
	ok(t, err, "GetLoginBackoff of an unknown key")
	equal(t, got, bonafide.LoginBackoff{}, "unknown key: the zero entry")

	count := func(b bonafide.LoginBackoff) bonafide.LoginBackoff {
		b.Failures++
		b.Last = now
		if b.Failures >= 3 {
			b.Until = now.Add(time.Duration(b.Failures) * time.Second)
		}
		return b
	}
	var last bonafide.LoginBackoff
	for i := range 3 {
		last, err = h.s.UpdateLoginBackoff(ctx, "account:a1", count)
		ok(t, err, "UpdateLoginBackoff")
		equal(t, last.Failures, i+1, "failures counted")
	}
	want := bonafide.LoginBackoff{Failures: 3, Last: now, Until: now.Add(3 * time.Second)}
	equal(t, last, want, "UpdateLoginBackoff returns what it stored")
	got, err = h.s.GetLoginBackoff(ctx, "account:a1")
	ok(t, err, "GetLoginBackoff")
	equal(t, got, want, "GetLoginBackoff after three failures")
	_, err = h.s.UpdateLoginBackoff(ctx, "", count)
	if err == nil {
		t.Error("UpdateLoginBackoff accepted an empty key")
	}
	_, err = h.s.UpdateLoginBackoff(ctx, strings.Repeat("k", 65), count)
	if err == nil {
		t.Error("UpdateLoginBackoff accepted a 65-byte key")
	}

	// The throttle keeps an account, its (account, address) pairs and addresses under keys that
	// share a hash: each is its own entry, and a 64-byte key is accepted.
	pair := "pair:" + strings.Repeat("ab", 16)
	_, err = h.s.UpdateLoginBackoff(ctx, pair, count)
	ok(t, err, "UpdateLoginBackoff of a pair key")
	_, err = h.s.UpdateLoginBackoff(ctx, strings.Repeat("k", 64), count)
	ok(t, err, "UpdateLoginBackoff of a 64-byte key")
	got, err = h.s.GetLoginBackoff(ctx, pair)
	ok(t, err, "GetLoginBackoff of a pair key")
	equal(t, got.Failures, 1, "a pair's entry is its own")
	ok(t, h.s.DeleteLoginBackoff(ctx, pair), "DeleteLoginBackoff of a pair key")
	got, _ = h.s.GetLoginBackoff(ctx, "account:a1")
	equal(t, got, want, "deleting a pair leaves the account's entry")

	// Concurrent updates of one key all count (they run under the row's lock).
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := h.s.UpdateLoginBackoff(ctx, "address:x", count); err != nil {
				t.Errorf("concurrent UpdateLoginBackoff: %v", err)
			}
		})
	}
	wg.Wait()
	got, err = h.s.GetLoginBackoff(ctx, "address:x")
	ok(t, err, "GetLoginBackoff after concurrent updates")
	equal(t, got.Failures, 8, "every concurrent failure counted")

	ok(t, h.s.DeleteLoginBackoff(ctx, "account:a1"), "DeleteLoginBackoff")
	ok(t, h.s.DeleteLoginBackoff(ctx, "account:a1"), "DeleteLoginBackoff again (no error)")
	got, _ = h.s.GetLoginBackoff(ctx, "account:a1")
	equal(t, got, bonafide.LoginBackoff{}, "deleted key")

	// Purge by end (the later of the last failure and the delay).
	_, err = h.s.UpdateLoginBackoff(ctx, "old", func(bonafide.LoginBackoff) bonafide.LoginBackoff {
		return bonafide.LoginBackoff{Failures: 1, Last: now.Add(-2 * time.Hour)}
	})
	ok(t, err, "UpdateLoginBackoff old")
	_, err = h.s.UpdateLoginBackoff(ctx, "long-delay", func(bonafide.LoginBackoff) bonafide.LoginBackoff {
		return bonafide.LoginBackoff{Failures: 9, Last: now.Add(-2 * time.Hour), Until: now.Add(time.Hour)}
	})
	ok(t, err, "UpdateLoginBackoff long-delay")
	n, err := h.s.DeleteLoginBackoffsBefore(ctx, now.Add(-time.Hour))
	ok(t, err, "DeleteLoginBackoffsBefore")
	equal(t, n, 1, "entries that ended before the cut")
	got, _ = h.s.GetLoginBackoff(ctx, "long-delay")
	equal(t, got.Failures, 9, "an entry still in its delay is kept")
}
