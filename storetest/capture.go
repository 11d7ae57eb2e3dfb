package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"bonafide"
)

// testCaptureSessions: a session round-trips, is found by either of its token hashes, and its
// state moves only from the state the caller read (the one-time use of a capture link).
func testCaptureSessions(t *testing.T, h *harness) {
	ctx := t.Context()
	c := &bonafide.CaptureSession{CompanyID: "co1", UserID: "u1", FolderID: "f1",
		Actions: []string{"video_selfie_left", "video_selfie_smile"}, GestureSeconds: 2.5,
		ReturnURL: "https://example.com/done?x=1", ShowResult: false, TokenHash: "tok-hash",
		State: bonafide.CaptureCreated, Expires: Epoch.Add(10*time.Minute + 123*time.Microsecond)}
	ok(t, h.s.CreateCaptureSession(ctx, c), "CreateCaptureSession")
	if c.ID == "" {
		t.Fatal("CreateCaptureSession left the ID empty")
	}
	sameTime(t, c.Created, Epoch, "created")
	got, err := h.s.GetCaptureSession(ctx, c.ID)
	ok(t, err, "GetCaptureSession")
	equal(t, got.Actions, c.Actions, "actions, in order")
	equal(t, [...]any{got.CompanyID, got.UserID, got.FolderID, got.GestureSeconds, got.ReturnURL, got.ShowResult, got.TokenHash, got.ResultHash, got.State, got.AnalysisID},
		[...]any{"co1", "u1", "f1", 2.5, "https://example.com/done?x=1", false, "tok-hash", "", bonafide.CaptureCreated, ""}, "fields")
	sameTime(t, got.Expires, Epoch.Add(10*time.Minute), "expires (milliseconds)")
	if !got.ResultExpires.IsZero() {
		t.Fatalf("result expiry %v before any upload", got.ResultExpires)
	}
	_, err = h.s.GetCaptureSession(ctx, "missing")
	wantNotFound(t, err, "GetCaptureSession missing")

	byTok, err := h.s.CaptureSessionByToken(ctx, "tok-hash")
	ok(t, err, "CaptureSessionByToken")
	equal(t, byTok.ID, c.ID, "found by the capture token")
	_, err = h.s.CaptureSessionByToken(ctx, "other")
	wantNotFound(t, err, "CaptureSessionByToken unknown")
	_, err = h.s.CaptureSessionByToken(ctx, "")
	wantNotFound(t, err, "CaptureSessionByToken empty (no result token yet)")

	dup := &bonafide.CaptureSession{FolderID: "f2", TokenHash: "tok-hash", State: bonafide.CaptureCreated, Expires: Epoch, GestureSeconds: 3}
	wantCode(t, h.s.CreateCaptureSession(ctx, dup), bonafide.CodeAlreadyExist, "a second session with the same token hash")

	// CREATED -> OPENED; a second opener reading CREATED loses.
	h.clock.Advance(time.Second)
	got.State = bonafide.CaptureOpened
	ok(t, h.s.UpdateCaptureSession(ctx, got, bonafide.CaptureCreated), "open")
	sameTime(t, got.Updated, Epoch.Add(time.Second), "updated")
	stale := *got
	stale.State = bonafide.CaptureOpened
	if err := h.s.UpdateCaptureSession(ctx, &stale, bonafide.CaptureCreated); !errors.Is(err, bonafide.ErrCaptureState) {
		t.Fatalf("update from a state it no longer has: %v, want ErrCaptureState", err)
	}
	// OPENED -> UPLOADED with the result token and the analysis.
	got.State, got.ResultHash, got.AnalysisID = bonafide.CaptureUploaded, "res-hash", "a1"
	got.ResultExpires = Epoch.Add(20 * time.Minute)
	ok(t, h.s.UpdateCaptureSession(ctx, got, bonafide.CaptureOpened), "upload")
	again := *got
	if err := h.s.UpdateCaptureSession(ctx, &again, bonafide.CaptureOpened); !errors.Is(err, bonafide.ErrCaptureState) {
		t.Fatalf("a second upload: %v, want ErrCaptureState", err)
	}
	byRes, err := h.s.CaptureSessionByToken(ctx, "res-hash")
	ok(t, err, "CaptureSessionByToken result")
	equal(t, [...]any{byRes.ID, byRes.State, byRes.AnalysisID, byRes.ResultHash}, [...]any{c.ID, bonafide.CaptureUploaded, "a1", "res-hash"}, "after the upload")
	sameTime(t, byRes.ResultExpires, Epoch.Add(20*time.Minute), "result expiry")
	// Back to OPENED (an upload that failed after the claim): the result token goes.
	byRes.State, byRes.ResultHash, byRes.ResultExpires, byRes.AnalysisID = bonafide.CaptureOpened, "", time.Time{}, ""
	ok(t, h.s.UpdateCaptureSession(ctx, byRes, bonafide.CaptureUploaded), "release")
	_, err = h.s.CaptureSessionByToken(ctx, "res-hash")
	wantNotFound(t, err, "the released result token")
	missing := &bonafide.CaptureSession{ID: "missing", State: bonafide.CaptureOpened}
	wantNotFound(t, h.s.UpdateCaptureSession(ctx, missing, bonafide.CaptureCreated), "UpdateCaptureSession missing")
}

func testDeleteAbandonedCaptureSessions(t *testing.T, h *harness) {
	ctx := t.Context()
	mk := func(state, folder string, expires time.Time) *bonafide.CaptureSession {
		c := &bonafide.CaptureSession{FolderID: folder, Actions: []string{"video_selfie_blank"}, GestureSeconds: 3,
			TokenHash: "tok-" + folder, State: bonafide.CaptureCreated, Expires: expires}
		ok(t, h.s.CreateCaptureSession(ctx, c), "CreateCaptureSession")
		if state != bonafide.CaptureCreated {
			next := *c
			next.State = state
			ok(t, h.s.UpdateCaptureSession(ctx, &next, bonafide.CaptureCreated), "UpdateCaptureSession")
		}
		return c
	}
	cut := Epoch.Add(-time.Hour)
	created := mk(bonafide.CaptureCreated, "f-created", cut.Add(-time.Minute))
	opened := mk(bonafide.CaptureOpened, "f-opened", cut.Add(-time.Minute))
	uploaded := mk(bonafide.CaptureUploaded, "f-uploaded", cut.Add(-time.Minute))
	recent := mk(bonafide.CaptureCreated, "f-recent", cut.Add(time.Minute))
	ids, err := h.s.DeleteAbandonedCaptureSessions(ctx, cut)
	ok(t, err, "DeleteAbandonedCaptureSessions")
	slices.Sort(ids)
	equal(t, ids, []string{"f-created", "f-opened"}, "the folders of the sessions never uploaded whose link expired before the cut")
	for _, c := range []*bonafide.CaptureSession{created, opened} {
		_, err := h.s.GetCaptureSession(ctx, c.ID)
		wantNotFound(t, err, "an abandoned session")
	}
	for _, c := range []*bonafide.CaptureSession{uploaded, recent} {
		_, err := h.s.GetCaptureSession(ctx, c.ID)
		ok(t, err, "a session uploaded, or not yet expired long enough, stays")
	}
	ids, err = h.s.DeleteAbandonedCaptureSessions(ctx, cut)
	ok(t, err, "DeleteAbandonedCaptureSessions again")
	equal(t, len(ids), 0, "nothing left to delete")
}
