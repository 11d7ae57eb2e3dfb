package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"

	"bonafide"
	"bonafide/internal/testkit"
	"bonafide/storetest"
)

var quiet = slog.New(slog.DiscardHandler)

// fakeEnqueuer adapts testkit.Enqueuer (a fake: the real River enqueuer belongs to the jobs
// package) to this store's *sql.Tx, and checks inside the transaction what the store promises: the
// analyses being enqueued are already written, and nothing of the folder is processing when its
// webhook is enqueued.
type fakeEnqueuer struct{ f *testkit.Enqueuer }

func (e fakeEnqueuer) EnqueueAnalyses(ctx context.Context, tx *sql.Tx, ids []string) error {
	for _, id := range ids {
		var state string
		if err := tx.QueryRowContext(ctx, `SELECT state FROM analyses WHERE id = ?`, id).Scan(&state); err != nil {
			return fmt.Errorf("fake enqueuer: analysis %s not visible in the transaction: %w", id, err)
		}
		if state != bonafide.StateProcessing {
			return fmt.Errorf("fake enqueuer: analysis %s is %s", id, state)
		}
	}
	return e.f.EnqueueAnalyses(ctx, ids)
}

func (e fakeEnqueuer) EnqueueWebhook(ctx context.Context, tx *sql.Tx, folderID, eventID string) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM analyses WHERE folder_id = ? AND state = 'PROCESSING'`, folderID).Scan(&n); err != nil {
		return err
	}
	if n != 0 {
		return fmt.Errorf("fake enqueuer: webhook for folder %s while %d analyses are processing", folderID, n)
	}
	return e.f.EnqueueWebhook(ctx, folderID, eventID)
}

func (e fakeEnqueuer) EnqueueErasure(ctx context.Context, tx *sql.Tx, erasureID string) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM erasures WHERE id = ?`, erasureID).Scan(&n); err != nil {
		return err
	}
	if n != 1 {
		return fmt.Errorf("fake enqueuer: erasure %s not visible in the transaction", erasureID)
	}
	return e.f.EnqueueErasure(ctx, erasureID)
}

func tempURL(t *testing.T) string {
	return "sqlite://" + filepath.Join(t.TempDir(), "data", "bonafide.db")
}

func open(t *testing.T, url string, opts Options) *Store {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	s, err := Open(t.Context(), url, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", url, err)
	}
	return s
}

func TestConformance(t *testing.T) {
	// Migrating costs about 2 s under -race, so each subtest opens a copy of one migrated database
	// (Open still runs the migrations on it, as no-ops).
	template := filepath.Join(t.TempDir(), "template.db")
	open(t, "sqlite://"+template, Options{}).Close()
	image, err := os.ReadFile(template)
	if err != nil {
		t.Fatal(err)
	}
	storetest.Run(t, func(t *testing.T, env storetest.Env) bonafide.Store {
		path := filepath.Join(t.TempDir(), "bonafide.db")
		if err := os.WriteFile(path, image, 0o600); err != nil {
			t.Fatal(err)
		}
		return open(t, "sqlite://"+path, Options{Now: env.Now, Enqueuer: fakeEnqueuer{env.Enqueuer}})
	})
}

func count(t *testing.T, db *sql.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(t.Context(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func TestOpenTwice(t *testing.T) {
	url := tempURL(t)
	ctx := t.Context()
	s := open(t, url, Options{})
	f := &bonafide.Folder{MetaData: []byte(`{"k":"v"}`)}
	if err := s.CreateFolder(ctx, f, nil); err != nil {
		t.Fatal(err)
	}
	ours := count(t, s.DB(), `SELECT count(*) FROM schema_migrations`)
	rivers := count(t, s.DB(), `SELECT count(*) FROM river_migration`)
	if ours == 0 || rivers == 0 {
		t.Fatalf("migrations recorded: ours %d, River's %d", ours, rivers)
	}
	count(t, s.DB(), `SELECT count(*) FROM river_job`)
	var mode string
	if err := s.DB().QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v; want wal", mode, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := open(t, url, Options{})
	defer s2.Close()
	if got := count(t, s2.DB(), `SELECT count(*) FROM schema_migrations`); got != ours {
		t.Errorf("our migrations after reopening: %d, want %d", got, ours)
	}
	if got := count(t, s2.DB(), `SELECT count(*) FROM river_migration`); got != rivers {
		t.Errorf("River migrations after reopening: %d, want %d", got, rivers)
	}
	if _, err := s2.GetFolder(ctx, f.ID); err != nil {
		t.Errorf("folder after reopening: %v", err)
	}
	for _, p := range []string{"foreign_keys", "busy_timeout", "synchronous"} {
		var v int
		if err := s2.DB().QueryRowContext(ctx, `PRAGMA `+p).Scan(&v); err != nil {
			t.Fatal(err)
		}
		want := map[string]int{"foreign_keys": 1, "busy_timeout": 10000, "synchronous": 1}[p]
		if v != want {
			t.Errorf("PRAGMA %s = %d, want %d", p, v, want)
		}
	}
}

func TestOpenURLs(t *testing.T) {
	ctx := t.Context()
	s := open(t, "sqlite::memory:", Options{Enqueuer: fakeEnqueuer{&testkit.Enqueuer{}}})
	f := &bonafide.Folder{}
	if err := s.CreateFolder(ctx, f, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateAnalyses(ctx, []*bonafide.Analysis{{FolderID: f.ID, Type: "QUALITY"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetFolder(ctx, f.ID); err != nil {
		t.Fatalf("memory database lost its folder: %v", err)
	}
	s.Close()

	for _, bad := range []string{"", "postgres://x", "sqlite://", "sqlite:///tmp/x.db?mode=ro", "file:x.db"} {
		if _, err := Open(ctx, bad, Options{Logger: quiet}); err == nil {
			t.Errorf("Open(%q) succeeded", bad)
		}
	}
}

func TestOpenRelative(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	s := open(t, "sqlite://sub/rel.db", Options{})
	s.Close()
	if _, err := os.Stat(filepath.Join(dir, "sub", "rel.db")); err != nil {
		t.Fatalf("relative database not created: %v", err)
	}
}

// TestConcurrentWriters writes from 8 goroutines through two stores (two connections) on one file, so
// writers really contend for SQLite's lock: busy_timeout and BEGIN IMMEDIATE must make all succeed.
func TestConcurrentWriters(t *testing.T) {
	url := tempURL(t)
	enq := fakeEnqueuer{&testkit.Enqueuer{}}
	a := open(t, url, Options{Enqueuer: enq})
	defer a.Close()
	b := open(t, url, Options{Enqueuer: enq})
	defer b.Close()
	const workers, each = 8, 15
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		s := a
		if w%2 == 1 {
			s = b
		}
		wg.Go(func() {
			for i := range each {
				f := &bonafide.Folder{MetaData: fmt.Appendf(nil, `{"w":%d,"i":%d}`, w, i)}
				m := &bonafide.Media{Kind: bonafide.KindImage}
				if err := s.CreateFolder(t.Context(), f, []*bonafide.Media{m}); err != nil {
					errs <- err
					continue
				}
				an := &bonafide.Analysis{FolderID: f.ID, Type: "QUALITY"}
				if err := s.CreateAnalyses(t.Context(), []*bonafide.Analysis{an}); err != nil {
					errs <- err
					continue
				}
				if err := s.FinishAnalysis(t.Context(), &bonafide.Analysis{ID: an.ID, State: bonafide.StateFinished, Resolution: bonafide.ResolutionSuccess}); err != nil {
					errs <- err
				}
				if _, _, err := s.ListFolders(t.Context(), bonafide.FolderFilter{Limit: 5, WithTotal: true}); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	_, total, err := a.ListFolders(t.Context(), bonafide.FolderFilter{ResolutionStatus: "SUCCESS", Limit: 0, WithTotal: true})
	if err != nil {
		t.Fatal(err)
	}
	if total != workers*each {
		t.Fatalf("SUCCESS folders: %d, want %d", total, workers*each)
	}
	if n := len(enq.f.Analyses()); n != workers*each {
		t.Fatalf("enqueued: %d, want %d", n, workers*each)
	}
}

func TestNoEnqueuer(t *testing.T) {
	ctx := t.Context()
	s := open(t, tempURL(t), Options{})
	defer s.Close()
	f := &bonafide.Folder{ResolutionEndpoint: "https://example.com/h"}
	if err := s.CreateFolder(ctx, f, nil); err != nil {
		t.Fatal(err)
	}
	a := &bonafide.Analysis{FolderID: f.ID, Type: "QUALITY"}
	if err := s.CreateAnalyses(ctx, []*bonafide.Analysis{a}); err == nil {
		t.Fatal("CreateAnalyses without an enqueuer succeeded")
	}
	if n := count(t, s.DB(), `SELECT count(*) FROM analyses`); n != 0 {
		t.Fatalf("%d analyses stored without an enqueuer", n)
	}
	fake := &testkit.Enqueuer{}
	// The same database through a store built with an enqueuer (New does not open anything).
	withEnq := New(s.DB(), Options{Enqueuer: fakeEnqueuer{fake}})
	if err := withEnq.CreateAnalyses(ctx, []*bonafide.Analysis{a}); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishAnalysis(ctx, &bonafide.Analysis{ID: a.ID, State: bonafide.StateFinished, Resolution: bonafide.ResolutionSuccess}); err == nil {
		t.Fatal("FinishAnalysis needing a webhook succeeded without an enqueuer")
	}
	got, err := s.GetAnalysis(ctx, a.ID)
	if err != nil || got.State != bonafide.StateProcessing {
		t.Fatalf("after the failed finish: %v, %v", got, err)
	}
}

// riverArgs is a River job for TestRiverInSameTx.
type riverArgs struct {
	AnalysisID string `json:"analysis_id"`
}

func (riverArgs) Kind() string { return "test_analysis" }

// riverEnqueuer inserts real River jobs, then optionally fails (after the jobs are inserted).
type riverEnqueuer struct {
	client *river.Client[*sql.Tx]
	fail   error
}

func (e *riverEnqueuer) EnqueueAnalyses(ctx context.Context, tx *sql.Tx, ids []string) error {
	for _, id := range ids {
		if _, err := e.client.InsertTx(ctx, tx, riverArgs{id}, nil); err != nil {
			return err
		}
	}
	return e.fail
}

func (e *riverEnqueuer) EnqueueWebhook(context.Context, *sql.Tx, string, string) error { return e.fail }

func (e *riverEnqueuer) EnqueueErasure(context.Context, *sql.Tx, string) error { return e.fail }

// TestRiverInSameTx checks the store with a real River client: jobs commit with the analyses, and
// vanish with them when the transaction rolls back.
func TestRiverInSameTx(t *testing.T) {
	ctx := t.Context()
	s := open(t, tempURL(t), Options{})
	defer s.Close()
	client, err := river.NewClient(riversqlite.New(s.DB()), &river.Config{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	enq := &riverEnqueuer{client: client}
	s = New(s.DB(), Options{Enqueuer: enq})
	f := &bonafide.Folder{}
	if err := s.CreateFolder(ctx, f, nil); err != nil {
		t.Fatal(err)
	}
	a1, a2 := &bonafide.Analysis{FolderID: f.ID, Type: "QUALITY"}, &bonafide.Analysis{FolderID: f.ID, Type: "QUALITY"}
	if err := s.CreateAnalyses(ctx, []*bonafide.Analysis{a1, a2}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s.DB(), `SELECT count(*) FROM river_job WHERE kind = 'test_analysis'`); n != 2 {
		t.Fatalf("river jobs: %d, want 2", n)
	}
	var arg string
	if err := s.DB().QueryRowContext(ctx, `SELECT json_extract(args, '$.analysis_id') FROM river_job ORDER BY id LIMIT 1`).Scan(&arg); err != nil {
		t.Fatal(err)
	}
	if arg != a1.ID {
		t.Fatalf("first job's analysis_id %s, want %s", arg, a1.ID)
	}

	enq.fail = errors.New("boom after insert")
	if err := s.CreateAnalyses(ctx, []*bonafide.Analysis{{FolderID: f.ID, Type: "QUALITY"}}); err == nil {
		t.Fatal("CreateAnalyses succeeded")
	}
	if n := count(t, s.DB(), `SELECT count(*) FROM river_job`); n != 2 {
		t.Fatalf("river jobs after a rolled-back CreateAnalyses: %d, want 2", n)
	}
	if n := count(t, s.DB(), `SELECT count(*) FROM analyses`); n != 2 {
		t.Fatalf("analyses after a rolled-back CreateAnalyses: %d, want 2", n)
	}
}

// TestFolderStatusAgreesWithSQL derives every folder's status in Go (FolderStatus) and checks it against
// the ListFolders resolution filter on the conformance scenario.
func TestFolderStatusAgreesWithSQL(t *testing.T) {
	ctx := t.Context()
	enq, clock := &testkit.Enqueuer{}, testkit.NewClock(storetest.Epoch)
	s := open(t, tempURL(t), Options{Now: clock.Now, Enqueuer: fakeEnqueuer{enq}})
	defer s.Close()
	want := storetest.ResolutionScenario(t, s, enq, clock)
	folders, _, err := s.ListFolders(ctx, bonafide.FolderFilter{Limit: -1})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range folders {
		as, err := s.ListAnalyses(ctx, f.ID)
		if err != nil {
			t.Fatal(err)
		}
		rs, verdict := bonafide.FolderStatus(as)
		for value, ids := range want {
			in := slices.Contains(ids, f.ID)
			if match := rs == value || verdict == value; match != in {
				t.Errorf("folder %s: FolderStatus = (%s, %s); SQL filter %s selects it: %v", f.ID, rs, verdict, value, in)
			}
		}
	}
}

func TestFolderStatus(t *testing.T) {
	at := func(s int) time.Time { return storetest.Epoch.Add(time.Duration(s) * time.Second) }
	an := func(group, state, res string, updated int) *bonafide.Analysis {
		return &bonafide.Analysis{GroupID: group, State: state, Resolution: res, Updated: at(updated)}
	}
	const (
		P, F, X = bonafide.StateProcessing, bonafide.StateFinished, bonafide.StateFailed
		S, D, O = bonafide.ResolutionSuccess, bonafide.ResolutionDeclined, bonafide.ResolutionOperatorRequired
	)
	cases := []struct {
		name        string
		as          []*bonafide.Analysis
		rs, verdict string
	}{
		{"none", nil, "INITIAL", "INITIAL"},
		{"processing", []*bonafide.Analysis{an("g", F, S, 1), an("g", P, "", 0)}, P, P},
		{"success", []*bonafide.Analysis{an("g", F, S, 1), an("g", F, S, 2)}, F, S},
		{"declined", []*bonafide.Analysis{an("g", F, S, 1), an("g", F, D, 2)}, F, D},
		{"failed", []*bonafide.Analysis{an("g", F, D, 1), an("g", X, "", 2)}, X, X},
		{"operator", []*bonafide.Analysis{an("g", F, S, 1), an("g", F, O, 2)}, F, O},
		{"declined beats operator", []*bonafide.Analysis{an("g", F, D, 1), an("g", F, O, 2)}, F, D},
		{"unknown resolution fails closed", []*bonafide.Analysis{an("g", F, "", 1)}, F, D},
		{"last group wins", []*bonafide.Analysis{an("a", F, D, 1), an("b", F, S, 2)}, F, S},
		{"last finished, not last created", []*bonafide.Analysis{an("b", F, S, 1), an("a", F, D, 2)}, F, D},
		{"old failure", []*bonafide.Analysis{an("a", X, "", 1), an("b", F, S, 2)}, X, S},
		{"tie goes to the greater group", []*bonafide.Analysis{an("b", F, S, 2), an("a", F, D, 2)}, F, S},
	}
	for _, c := range cases {
		rs, verdict := bonafide.FolderStatus(c.as)
		if rs != c.rs || verdict != c.verdict {
			t.Errorf("%s: FolderStatus = (%s, %s), want (%s, %s)", c.name, rs, verdict, c.rs, c.verdict)
		}
	}
}
