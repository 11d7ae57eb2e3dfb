package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"bonafide"
	"bonafide/internal/testkit"
	"bonafide/storetest"
)

const envURL = "BONAFIDE_TEST_POSTGRES_URL"

var quiet = slog.New(slog.DiscardHandler)

// testURL is the fresh database this test binary created (empty when PostgreSQL tests are off).
var testURL string

// TestMain creates one fresh database per test binary and drops it (WITH (FORCE)) at the end.
// Tests that need an empty store get a fresh schema in it (see freshSchema).
func TestMain(m *testing.M) {
	base := os.Getenv(envURL)
	if base == "" {
		os.Exit(m.Run())
	}
	ctx := context.Background()
	name := "bonafide_test_" + randHex(6)
	var err error
	testURL, err = createDatabase(ctx, base, name)
	if err != nil {
		fmt.Fprintf(os.Stderr, "postgres tests: %v\n", err)
		os.Exit(1)
	}
	code := m.Run()
	if err := dropDatabase(ctx, base, name); err != nil {
		fmt.Fprintf(os.Stderr, "postgres tests: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// withDatabase returns base with its database (path) replaced.
func withDatabase(base, db string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	u.Path = "/" + db
	return u.String(), nil
}

// withParam returns u with a query parameter set (pgx passes unknown ones as runtime parameters).
func withParam(raw, key, value string) string {
	u, err := url.Parse(raw)
	if err != nil {
		panic(err)
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

func createDatabase(ctx context.Context, base, name string) (string, error) {
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", fmt.Errorf("connect to %s: %w", envURL, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return withDatabase(base, name)
}

func dropDatabase(ctx context.Context, base, name string) error {
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", envURL, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `DROP DATABASE IF EXISTS `+pgx.Identifier{name}.Sanitize()+` WITH (FORCE)`); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

// needPG skips the test when PostgreSQL tests are off.
func needPG(t *testing.T) {
	t.Helper()
	if testURL == "" {
		t.Skip(envURL + " is not set: skipping PostgreSQL tests (e.g. " + envURL +
			"=postgres://postgres@127.0.0.1:5432/test?sslmode=disable; .ci/run sets it)")
	}
}

// freshSchema creates an empty schema in the test database and returns a URL whose connections use it
// (search_path), so each store under test starts empty, River's tables included.
func freshSchema(t *testing.T) string {
	t.Helper()
	needPG(t)
	schema := "t_" + randHex(6)
	conn, err := pgx.Connect(t.Context(), testURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), `CREATE SCHEMA `+schema); err != nil {
		t.Fatal(err)
	}
	return withParam(testURL, "search_path", schema)
}

// freshDatabase creates another database for one test and drops it when the test ends.
func freshDatabase(t *testing.T) string {
	t.Helper()
	needPG(t)
	base := os.Getenv(envURL)
	name := "bonafide_test_" + randHex(6)
	u, err := createDatabase(t.Context(), base, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := dropDatabase(context.Background(), base, name); err != nil {
			t.Error(err)
		}
	})
	return u
}

func open(t *testing.T, url string, opts Options) *Store {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	s, err := Open(t.Context(), url, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func count(t *testing.T, db interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(t.Context(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// fakeEnqueuer adapts testkit.Enqueuer to this store's pgx.Tx, and checks inside the transaction
// what the store promises: the analyses being enqueued are already written, and nothing of the folder
// is processing when its webhook is enqueued.
type fakeEnqueuer struct{ f *testkit.Enqueuer }

func (e fakeEnqueuer) EnqueueAnalyses(ctx context.Context, tx pgx.Tx, ids []string) error {
	for _, id := range ids {
		var state string
		if err := tx.QueryRow(ctx, `SELECT state FROM analyses WHERE id = $1`, id).Scan(&state); err != nil {
			return fmt.Errorf("fake enqueuer: analysis %s not visible in the transaction: %w", id, err)
		}
		if state != bonafide.StateProcessing {
			return fmt.Errorf("fake enqueuer: analysis %s is %s", id, state)
		}
	}
	return e.f.EnqueueAnalyses(ctx, ids)
}

func (e fakeEnqueuer) EnqueueWebhook(ctx context.Context, tx pgx.Tx, folderID, eventID string) error {
	var n int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM analyses WHERE folder_id = $1 AND state = 'PROCESSING'`, folderID).Scan(&n); err != nil {
		return err
	}
	if n != 0 {
		return fmt.Errorf("fake enqueuer: webhook for folder %s while %d analyses are processing", folderID, n)
	}
	return e.f.EnqueueWebhook(ctx, folderID, eventID)
}

func (e fakeEnqueuer) EnqueueErasure(ctx context.Context, tx pgx.Tx, erasureID string) error {
	var n int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM erasures WHERE id = $1`, erasureID).Scan(&n); err != nil {
		return err
	}
	if n != 1 {
		return fmt.Errorf("fake enqueuer: erasure %s not visible in the transaction", erasureID)
	}
	return e.f.EnqueueErasure(ctx, erasureID)
}

func TestConformance(t *testing.T) {
	needPG(t)
	storetest.Run(t, func(t *testing.T, env storetest.Env) bonafide.Store {
		return open(t, freshSchema(t), Options{Now: env.Now, Enqueuer: fakeEnqueuer{env.Enqueuer}})
	})
}

// TestMigrateConcurrently starts four "nodes" migrating one fresh database at once: the advisory lock
// must serialise them, all must succeed, and one set of tables must result.
func TestMigrateConcurrently(t *testing.T) {
	u := freshDatabase(t)
	const nodes = 4
	var wg sync.WaitGroup
	errs := make([]error, nodes)
	for i := range nodes {
		wg.Go(func() {
			pool, err := pgxpool.New(t.Context(), u)
			if err != nil {
				errs[i] = err
				return
			}
			defer pool.Close()
			errs[i] = Migrate(t.Context(), pool, quiet)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("node %d: Migrate: %v", i, err)
		}
	}
	s := open(t, u, Options{}) // and once more, as a node starting later
	defer s.Close()
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if n := count(t, s.Pool(), `SELECT count(*) FROM schema_migrations`); n != len(ms) {
		t.Errorf("schema_migrations rows: %d, want %d", n, len(ms))
	}
	for _, table := range []string{"schema_migrations", "companies", "users", "sessions", "folders", "media", "analyses",
		"river_job", "river_migration", "river_leader", "river_queue"} {
		if n := count(t, s.Pool(), `SELECT count(*) FROM pg_tables WHERE tablename = $1`, table); n != 1 {
			t.Errorf("tables named %s: %d, want 1", table, n)
		}
	}
	rm, err := rivermigrate.New(riverpgxv5.New(s.Pool()), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := len(rm.AllVersions())
	if n := count(t, s.Pool(), `SELECT count(*) FROM river_migration`); n != want {
		t.Errorf("river_migration rows: %d, want %d", n, want)
	}
	count(t, s.Pool(), `SELECT count(*) FROM river_job`)
	// The lock is released: nobody holds an advisory lock any more.
	if n := count(t, s.Pool(), `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`); n != 0 {
		t.Errorf("advisory locks still held after Migrate: %d", n)
	}
}

func TestOpenTwice(t *testing.T) {
	u := freshSchema(t)
	ctx := t.Context()
	s := open(t, u, Options{})
	f := &bonafide.Folder{MetaData: []byte(`{"k":"v"}`)}
	if err := s.CreateFolder(ctx, f, nil); err != nil {
		t.Fatal(err)
	}
	ours := count(t, s.Pool(), `SELECT count(*) FROM schema_migrations`)
	rivers := count(t, s.Pool(), `SELECT count(*) FROM river_migration`)
	if ours == 0 || rivers == 0 {
		t.Fatalf("migrations recorded: ours %d, River's %d", ours, rivers)
	}
	s.Close()
	s2 := open(t, u, Options{})
	defer s2.Close()
	if got := count(t, s2.Pool(), `SELECT count(*) FROM schema_migrations`); got != ours {
		t.Errorf("our migrations after reopening: %d, want %d", got, ours)
	}
	if got := count(t, s2.Pool(), `SELECT count(*) FROM river_migration`); got != rivers {
		t.Errorf("River migrations after reopening: %d, want %d", got, rivers)
	}
	if _, err := s2.GetFolder(ctx, f.ID); err != nil {
		t.Errorf("folder after reopening: %v", err)
	}
	if max := s2.Pool().Config().MaxConns; max < 8 {
		t.Errorf("default pool size %d, want at least 8", max)
	}
	s3 := open(t, withParam(u, "pool_max_conns", "3"), Options{SkipMigrate: true})
	defer s3.Close()
	if max := s3.Pool().Config().MaxConns; max != 3 {
		t.Errorf("pool_max_conns=3 gave %d", max)
	}
}

func TestOpenSkipMigrate(t *testing.T) {
	u := freshSchema(t)
	s := open(t, u, Options{SkipMigrate: true})
	defer s.Close()
	if n := count(t, s.Pool(), `SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()`); n != 0 {
		t.Fatalf("SkipMigrate created %d tables", n)
	}
	if err := Migrate(t.Context(), s.Pool(), quiet); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetFolder(t.Context(), "x"); bonafide.CodeOf(err) != bonafide.CodeNotExist {
		t.Fatalf("GetFolder after Migrate: %v", err)
	}
}

func TestOpenURLs(t *testing.T) {
	// Rejected before any connection is tried, so this runs without PostgreSQL too.
	for _, bad := range []string{"", "sqlite:///tmp/x.db", "mysql://x", "host=localhost dbname=x", "postgres://x/y?pool_max_conns=1"} {
		if _, err := Open(t.Context(), bad, Options{Logger: quiet}); err == nil {
			t.Errorf("Open(%q) succeeded", bad)
		}
	}
	if _, err := poolConfig("postgresql://u:secret@h/db"); err != nil {
		t.Errorf("postgresql:// rejected: %v", err)
	}
	_, err := Open(t.Context(), "mysql://u:hunter2@h/db", Options{Logger: quiet})
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error leaks the password or is missing: %v", err)
	}
}

func TestJSONBUnstorable(t *testing.T) {
	for raw, bad := range map[string]bool{
		`{"a":"b"}`:                   false,
		`{"a":"\u00e9\ud83d\ude00"}`:  false,
		`{"a":"\\u0000"}`:             false, // an escaped backslash, then text
		`{"a":"\u0000"}`:              true,
		`{"a":"\ud800"}`:              true,
		`{"a":"\ud800x"}`:             true,
		`{"a":"\ud800\n"}`:            true,
		`{"a":"\udc00"}`:              true,
		`{"a":"\ud800\u0041"}`:        true,
		`["\\", "\ud83d\ude00", "x"]`: false,
	} {
		if got := jsonbUnstorable([]byte(raw)) != ""; got != bad {
			t.Errorf("jsonbUnstorable(%s) = %v, want %v", raw, got, bad)
		}
	}
}

// TestJSONBLimits checks that JSON PostgreSQL cannot store is refused as an invalid value, not an
// internal error.
func TestJSONBLimits(t *testing.T) {
	s := open(t, freshSchema(t), Options{})
	defer s.Close()
	ctx := t.Context()
	err := s.CreateFolder(ctx, &bonafide.Folder{MetaData: []byte(`{"a":"\u0000"}`)}, nil)
	if bonafide.CodeOf(err) != bonafide.CodeInvalidValue {
		t.Errorf("meta_data with \\u0000: %v", err)
	}
	err = s.CreateFolder(ctx, &bonafide.Folder{MetaData: []byte(`{"n":1e999999}`)}, nil)
	if bonafide.CodeOf(err) != bonafide.CodeInvalidValue {
		t.Errorf("meta_data with a huge number: %v", err)
	}
	f := &bonafide.Folder{MetaData: []byte(`{"u":"h\u00e9llo","big":12345678901234567890}`)}
	if err := s.CreateFolder(ctx, f, nil); err != nil {
		t.Fatal(err)
	}
	got, _, err := s.ListFolders(ctx, bonafide.FolderFilter{MetaEquals: map[string]string{"u": "héllo", "big": "12345678901234567890"}, Limit: -1})
	if err != nil || len(got) != 1 {
		t.Fatalf("meta filter on unicode and a big number: %d folders, %v", len(got), err)
	}
}

func TestNoEnqueuer(t *testing.T) {
	ctx := t.Context()
	s := open(t, freshSchema(t), Options{})
	defer s.Close()
	f := &bonafide.Folder{ResolutionEndpoint: "https://example.com/h"}
	if err := s.CreateFolder(ctx, f, nil); err != nil {
		t.Fatal(err)
	}
	a := &bonafide.Analysis{FolderID: f.ID, Type: "QUALITY"}
	if err := s.CreateAnalyses(ctx, []*bonafide.Analysis{a}); err == nil {
		t.Fatal("CreateAnalyses without an enqueuer succeeded")
	}
	if n := count(t, s.Pool(), `SELECT count(*) FROM analyses`); n != 0 {
		t.Fatalf("%d analyses stored without an enqueuer", n)
	}
	fake := &testkit.Enqueuer{}
	// The same database through a store built with an enqueuer (New does not open anything).
	withEnq := New(s.Pool(), Options{Enqueuer: fakeEnqueuer{fake}})
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
	client *river.Client[pgx.Tx]
	fail   error
}

func (e *riverEnqueuer) EnqueueAnalyses(ctx context.Context, tx pgx.Tx, ids []string) error {
	for _, id := range ids {
		if _, err := e.client.InsertTx(ctx, tx, riverArgs{id}, nil); err != nil {
			return err
		}
	}
	return e.fail
}

func (e *riverEnqueuer) EnqueueWebhook(context.Context, pgx.Tx, string, string) error { return e.fail }

func (e *riverEnqueuer) EnqueueErasure(context.Context, pgx.Tx, string) error { return e.fail }

// TestRiverInSameTx checks the store with a real River client: jobs commit with the analyses, and
// vanish with them when the transaction rolls back.
func TestRiverInSameTx(t *testing.T) {
	ctx := t.Context()
	s := open(t, freshSchema(t), Options{})
	defer s.Close()
	client, err := river.NewClient(riverpgxv5.New(s.Pool()), &river.Config{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	enq := &riverEnqueuer{client: client}
	s = New(s.Pool(), Options{Enqueuer: enq})
	f := &bonafide.Folder{}
	if err := s.CreateFolder(ctx, f, nil); err != nil {
		t.Fatal(err)
	}
	a1, a2 := &bonafide.Analysis{FolderID: f.ID, Type: "QUALITY"}, &bonafide.Analysis{FolderID: f.ID, Type: "QUALITY"}
	if err := s.CreateAnalyses(ctx, []*bonafide.Analysis{a1, a2}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s.Pool(), `SELECT count(*) FROM river_job WHERE kind = 'test_analysis'`); n != 2 {
		t.Fatalf("river jobs: %d, want 2", n)
	}
	var arg string
	if err := s.Pool().QueryRow(ctx, `SELECT args->>'analysis_id' FROM river_job ORDER BY id LIMIT 1`).Scan(&arg); err != nil {
		t.Fatal(err)
	}
	if arg != a1.ID {
		t.Fatalf("first job's analysis_id %s, want %s", arg, a1.ID)
	}

	enq.fail = errors.New("boom after insert")
	if err := s.CreateAnalyses(ctx, []*bonafide.Analysis{{FolderID: f.ID, Type: "QUALITY"}}); err == nil {
		t.Fatal("CreateAnalyses succeeded")
	}
	if n := count(t, s.Pool(), `SELECT count(*) FROM river_job`); n != 2 {
		t.Fatalf("river jobs after a rolled-back CreateAnalyses: %d, want 2", n)
	}
	if n := count(t, s.Pool(), `SELECT count(*) FROM analyses`); n != 2 {
		t.Fatalf("analyses after a rolled-back CreateAnalyses: %d, want 2", n)
	}
}

// TestConcurrentFinish finishes every analysis of a folder at once through two stores (two nodes):
// the folder lock must let exactly one of them see nothing left processing and enqueue the webhook.
func TestConcurrentFinish(t *testing.T) {
	u := freshSchema(t)
	ctx := t.Context()
	fake := &testkit.Enqueuer{}
	nodes := []*Store{open(t, u, Options{Enqueuer: fakeEnqueuer{fake}}), open(t, u, Options{Enqueuer: fakeEnqueuer{fake}, SkipMigrate: true})}
	for _, s := range nodes {
		defer s.Close()
	}
	const rounds, each = 10, 6
	for round := range rounds {
		f := &bonafide.Folder{ResolutionEndpoint: "https://example.com/h"}
		if err := nodes[0].CreateFolder(ctx, f, nil); err != nil {
			t.Fatal(err)
		}
		var as []*bonafide.Analysis
		for range each {
			as = append(as, &bonafide.Analysis{FolderID: f.ID, Type: "QUALITY"})
		}
		if err := nodes[1].CreateAnalyses(ctx, as); err != nil {
			t.Fatal(err)
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		errs := make(chan error, each*2)
		for i, a := range as {
			for retry := range 2 { // each analysis finished twice, as by a retried job
				wg.Go(func() {
					<-start
					s := nodes[(i+retry)%2]
					errs <- s.FinishAnalysis(ctx, &bonafide.Analysis{ID: a.ID, State: bonafide.StateFinished, Resolution: bonafide.ResolutionSuccess})
				})
			}
		}
		close(start)
		wg.Wait()
		close(errs)
		won := 0
		for err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, bonafide.ErrAlreadyFinished):
				t.Fatal(err)
			}
		}
		if won != each {
			t.Fatalf("round %d: %d finishes won, want exactly one per analysis (%d)", round, won, each)
		}
		hooks := fake.Webhooks()
		if len(hooks) != round+1 || hooks[round].FolderID != f.ID {
			t.Fatalf("round %d: webhooks %+v, want exactly one more, for folder %s", round, hooks, f.ID)
		}
	}
}

// TestFolderStatusAgreesWithSQL derives every folder's status in Go (FolderStatus) and checks it against
// the ListFolders resolution filter on the conformance scenario.
func TestFolderStatusAgreesWithSQL(t *testing.T) {
	ctx := t.Context()
	enq, clock := &testkit.Enqueuer{}, testkit.NewClock(storetest.Epoch)
	s := open(t, freshSchema(t), Options{Now: clock.Now, Enqueuer: fakeEnqueuer{enq}})
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

// TestCollation checks that ordering and tie-breaks compare bytes, as in SQLite and Go, whatever the
// database locale: IDs differing in case and punctuation sort by byte value.
func TestCollation(t *testing.T) {
	ctx := t.Context()
	s := open(t, freshSchema(t), Options{})
	defer s.Close()
	ids := []string{"a-b", "aB", "a_b", "ab", "Ab", "a b"}
	for _, id := range ids {
		if err := s.CreateFolder(ctx, &bonafide.Folder{ID: id, Created: storetest.Epoch}, nil); err != nil {
			t.Fatal(err)
		}
	}
	got, _, err := s.ListFolders(ctx, bonafide.FolderFilter{SortAsc: true, Limit: -1})
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(ids)
	slices.Sort(want)
	var gotIDs []string
	for _, f := range got {
		gotIDs = append(gotIDs, f.ID)
	}
	if !slices.Equal(gotIDs, want) {
		t.Fatalf("folders in ID order: %v, want %v", gotIDs, want)
	}
}
