package sweep_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"bonafide"
	"bonafide/sweep"
)

// failingBlobs fails every Delete after the first left ones, as storage that goes away mid-run.
type failingBlobs struct {
	bonafide.Blobs
	left int
}

func (f *failingBlobs) Delete(ctx context.Context, key string) error {
	if f.left == 0 {
		return errors.New("storage unreachable")
	}
	f.left--
	return f.Blobs.Delete(ctx, key)
}

// A retention run cut half way (here: storage failing after two deletions) leaves its marks; the
// next run finishes them, then removes whole folders past their retention; a run with nothing
// due changes nothing.
func TestRetentionRunFinishesWhatACutRunLeft(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var folders []*bonafide.Folder
	for _, keys := range [][]string{{"a.jpg", "b.jpg", "c.jpg"}, {"d.jpg"}} {
		f := &bonafide.Folder{}
		ms := make([]*bonafide.Media, len(keys))
		if err := e.store.CreateFolder(ctx, f, nil); err != nil {
			t.Fatal(err)
		}
		for i, k := range keys {
			ms[i] = &bonafide.Media{Kind: bonafide.KindImage, BlobKey: f.ID + "/" + k}
			e.put(ms[i].BlobKey, 0)
		}
		if err := e.store.AddMedia(ctx, f.ID, ms); err != nil {
			t.Fatal(err)
		}
		folders = append(folders, f)
	}
	later := func() time.Time { return time.Now().Add(2 * time.Hour) }
	counted := map[string]int{}
	r := &sweep.Retention{Store: e.store, Blobs: &failingBlobs{Blobs: e.blobs, left: 2}, Now: later,
		Default: bonafide.RetentionPolicy{Media: time.Hour}, Batch: 10, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Deleted: func(kind string, n int) { counted[kind] += n }}
	if _, err := r.Run(ctx); err == nil {
		t.Fatal("a run whose storage fails: no error")
	}
	if n := len(e.keys()); n != 2 {
		t.Fatalf("files left after the cut run: %d, want 2", n)
	}
	for _, f := range folders {
		ms, err := e.store.ListMedia(ctx, f.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if m.Deleted == nil {
				t.Fatalf("media %s not marked after the cut run", m.ID)
			}
		}
	}

	r.Blobs = e.blobs
	c, err := r.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Media != 2 || c.Files != 2 || len(e.keys()) != 0 {
		t.Fatalf("second run: %+v, files left %v", c, e.keys())
	}
	if counted["media"] != 4 {
		t.Fatalf("media counted over both runs: %d, want 4", counted["media"])
	}
	if c, err := r.Run(ctx); err != nil || c != (sweep.RetentionCounts{}) {
		t.Fatalf("a run with nothing due: %+v, %v", c, err)
	}

	r.Default.Folders = time.Hour
	c, err = r.Run(ctx)
	if err != nil || c.Folders != 2 || counted["folder"] != 2 {
		t.Fatalf("folder run: %+v, %v (counted %v)", c, err, counted)
	}
	for _, f := range folders {
		if _, err := e.store.GetFolder(ctx, f.ID); bonafide.CodeOf(err) != bonafide.CodeNotExist {
			t.Fatalf("folder %s after the folder run: %v", f.ID, err)
		}
	}
}
