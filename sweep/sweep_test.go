package sweep_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"bonafide"
	"bonafide/blob"
	"bonafide/internal/testkit"
	"bonafide/sqlite"
	"bonafide/sweep"
)

type env struct {
	t     *testing.T
	dir   string
	store *sqlite.Store
	blobs *blob.Bucket
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "b.db"), sqlite.Options{Enqueuer: (&testkit.Enqueuer{}).SQL(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	dir := t.TempDir()
	bk, err := blob.Open(ctx, "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bk.Close() })
	return &env{t: t, dir: dir, store: st, blobs: bk}
}

// put stores a file under key, last written age ago.
func (e *env) put(key string, age time.Duration) {
	e.t.Helper()
	if err := e.blobs.Put(context.Background(), key, []byte("data of "+key), "image/jpeg"); err != nil {
		e.t.Fatal(err)
	}
	if age > 0 {
		when := time.Now().Add(-age)
		if err := os.Chtimes(filepath.Join(e.dir, filepath.FromSlash(key)), when, when); err != nil {
			e.t.Fatal(err)
		}
	}
}

func (e *env) keys() []string {
	e.t.Helper()
	var out []string
	if err := e.blobs.List(context.Background(), "", func(o bonafide.BlobInfo) error { out = append(out, o.Key); return nil }); err != nil {
		e.t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// A sweep removes the old files no row refers to, and only those: referenced media files and best
// shots stay, and so does an orphan younger than the grace period (an upload in flight).
func TestSweepRemovesOnlyOldUnreferencedFiles(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	m := &bonafide.Media{ID: "m1", Kind: bonafide.KindImage, BlobKey: "f1/m1.jpeg"}
	if err := e.store.CreateFolder(ctx, &bonafide.Folder{ID: "f1"}, []*bonafide.Media{m}); err != nil {
		t.Fatal(err)
	}
	a := &bonafide.Analysis{FolderID: "f1", Type: "QUALITY"}
	if err := e.store.CreateAnalyses(ctx, []*bonafide.Analysis{a}); err != nil {
		t.Fatal(err)
	}
	best := "f1/best_shot_" + a.ID + "_m1.jpg"
	if err := e.store.FinishAnalysis(ctx, &bonafide.Analysis{ID: a.ID, State: bonafide.StateFinished, Resolution: bonafide.ResolutionSuccess,
		Results: []bonafide.MediaResult{{MediaID: "m1", Kind: bonafide.KindImage, Resolution: bonafide.ResolutionSuccess, BestShotKey: best}}}); err != nil {
		t.Fatal(err)
	}
	old := 2 * time.Hour
	e.put(m.BlobKey, old)
	e.put(best, old)
	e.put("f1/orphan-of-a-failed-upload.jpeg", old)
	e.put("f1/best_shot_dead-job_m1.jpg", old)
	e.put("deleted-folder/m9.mp4", old)
	e.put("f1/in-flight.jpeg", time.Minute)

	var logs syncBuffer
	s := sweep.New(e.store, e.blobs, slog.New(slog.NewTextHandler(&logs, nil)))
	removed, err := s.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{best, "f1/in-flight.jpeg", m.BlobKey}
	slices.Sort(want)
	if got := e.keys(); !slices.Equal(got, want) || removed != 3 {
		t.Fatalf("after a sweep: removed %d, kept %v; want 3 removed and %v kept", removed, got, want)
	}
	if n, err := s.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("a second sweep: removed %d, %v; want 0", n, err)
	}
}

// Several nodes sweeping at once is safe: together they remove each orphan once, report no error,
// and never touch a referenced file.
func TestConcurrentSweepsAreSafe(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	m := &bonafide.Media{ID: "keep", Kind: bonafide.KindImage, BlobKey: "f1/keep.jpeg"}
	if err := e.store.CreateFolder(ctx, &bonafide.Folder{ID: "f1"}, []*bonafide.Media{m}); err != nil {
		t.Fatal(err)
	}
	e.put(m.BlobKey, 3*time.Hour)
	const orphans = 60
	for i := range orphans {
		e.put("f1/orphan-"+string(rune('a'+i%26))+strings.Repeat("x", i/26)+".jpeg", 3*time.Hour)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for range 4 {
		wg.Go(func() {
			n, err := sweep.New(e.store, e.blobs, slog.New(slog.NewTextHandler(io.Discard, nil))).Sweep(ctx)
			if err != nil {
				t.Errorf("concurrent sweep: %v", err)
			}
			mu.Lock()
			total += n
			mu.Unlock()
		})
	}
	wg.Wait()
	if got := e.keys(); !slices.Equal(got, []string{m.BlobKey}) {
		t.Fatalf("after concurrent sweeps: %v", got)
	}
	if total > orphans {
		t.Errorf("the sweeps together report %d removals of %d orphans", total, orphans)
	}
}

// Start sweeps shortly after it is called and logs how many files it removed; Stop ends it and
// Done says so.
func TestStartSweepsAndLogs(t *testing.T) {
	e := newEnv(t)
	e.put("gone/orphan.jpeg", 2*time.Hour)
	var logs syncBuffer
	s := sweep.New(e.store, e.blobs, slog.New(slog.NewTextHandler(&logs, nil)))
	s.First, s.Every = 10*time.Millisecond, time.Hour
	ctx := context.Background()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "removed=1") {
		if time.Now().After(deadline) {
			t.Fatalf("no sweep logged within 10 s: %q", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := e.keys(); len(got) != 0 {
		t.Errorf("after the first sweep: %v", got)
	}
	stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.Stop(stopCtx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("Done is open after Stop")
	}
	if d := sweep.New(nil, nil, nil); d.Grace != 0 || sweep.DefaultGrace != time.Hour || sweep.DefaultEvery != time.Hour {
		t.Fatal("the documented defaults changed")
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
