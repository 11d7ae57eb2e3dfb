package bonafide_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"bonafide"
	"bonafide/sqlite"
)

// The session purge runs once in Start, then every Every, until Stop.
func TestSessionPurgeRunsPeriodically(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "b.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u := &bonafide.User{Email: "a@example.com", Role: bonafide.RoleClient}
	if err := st.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	for _, s := range []*bonafide.Session{{TokenHash: "gone-at-start", Expires: now.Add(-time.Second)}, {TokenHash: "gone-later", Expires: now.Add(time.Hour)}} {
		s.UserID = u.ID
		if err := st.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	p := &bonafide.SessionPurge{Store: st, Every: 10 * time.Millisecond, Now: clock}
	p.Start(ctx)
	defer p.Stop()
	if _, err := st.GetSession(ctx, "gone-at-start"); bonafide.CodeOf(err) != bonafide.CodeNotExist {
		t.Fatalf("an expired session survived Start: %v", err)
	}
	if _, err := st.GetSession(ctx, "gone-later"); err != nil {
		t.Fatalf("a live session was purged: %v", err)
	}
	mu.Lock()
	now = now.Add(2 * time.Hour)
	mu.Unlock()
	for deadline := time.Now().Add(5 * time.Second); ; {
		if _, err := st.GetSession(ctx, "gone-later"); bonafide.CodeOf(err) == bonafide.CodeNotExist {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the periodic purge did not remove a session that expired")
		}
		time.Sleep(5 * time.Millisecond)
	}
	p.Stop()
}
