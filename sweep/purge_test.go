package sweep_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"bonafide"
	"bonafide/sqlite"
	"bonafide/sweep"
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
	p := &sweep.SessionPurge{Store: st, Every: 10 * time.Millisecond, Now: clock}
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer p.Stop(ctx)
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
	if err := p.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	default:
		t.Fatal("Done is open after Stop")
	}
}

// The purge deletes capture sessions never uploaded a day after their link expired, and their
// folders when nothing was put in them; a folder that received media stays.
func TestSessionPurgeRemovesAbandonedCaptures(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "b.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	session := func(expires time.Time, media bool) (*bonafide.Folder, *bonafide.CaptureSession) {
		t.Helper()
		f := &bonafide.Folder{CompanyID: "co"}
		var ms []*bonafide.Media
		if media {
			ms = []*bonafide.Media{{Kind: bonafide.KindImage, OriginalName: "p.jpg", BlobKey: "k/p.jpg", ContentType: "image/jpeg"}}
		}
		if err := st.CreateFolder(ctx, f, ms); err != nil {
			t.Fatal(err)
		}
		c := &bonafide.CaptureSession{FolderID: f.ID, Actions: []string{"video_selfie_blank"}, GestureSeconds: 3,
			TokenHash: "tok-" + f.ID, State: bonafide.CaptureCreated, Expires: expires}
		if err := st.CreateCaptureSession(ctx, c); err != nil {
			t.Fatal(err)
		}
		return f, c
	}
	emptyOld, c1 := session(now.Add(-bonafide.CaptureSessionKeep-time.Hour), false)
	fullOld, c2 := session(now.Add(-bonafide.CaptureSessionKeep-time.Hour), true)
	recent, c3 := session(now.Add(-time.Hour), false)

	p := &sweep.SessionPurge{Store: st, Every: time.Hour, Now: func() time.Time { return now }}
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*bonafide.CaptureSession{c1, c2} {
		if _, err := st.GetCaptureSession(ctx, c.ID); bonafide.CodeOf(err) != bonafide.CodeNotExist {
			t.Errorf("abandoned session %s survived: %v", c.ID, err)
		}
	}
	if _, err := st.GetCaptureSession(ctx, c3.ID); err != nil {
		t.Errorf("a session expired an hour ago was purged: %v", err)
	}
	if _, err := st.GetFolder(ctx, emptyOld.ID); bonafide.CodeOf(err) != bonafide.CodeNotExist {
		t.Errorf("the empty folder of an abandoned session survived: %v", err)
	}
	for _, f := range []*bonafide.Folder{fullOld, recent} {
		if _, err := st.GetFolder(ctx, f.ID); err != nil {
			t.Errorf("folder %s was deleted: %v", f.ID, err)
		}
	}
}
