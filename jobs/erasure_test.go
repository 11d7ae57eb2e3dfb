package jobs

import (
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"

	"bonafide"
	"bonafide/blob"
)

// An erasure's job, enqueued with the receipt, removes every selected folder's files (those of its
// rows and any other under its prefix) and rows, in runs of erasureBatch folders, then the persons,
// and closes the receipt; what was not selected stays.
func TestErasureJob(t *testing.T) {
	old := erasureBatch
	erasureBatch = 2 // three folders: two runs
	t.Cleanup(func() { erasureBatch = old })
	eachDriver(t, func(t *testing.T, open func(*testing.T, Config) *env) {
		ctx := t.Context()
		cfg := testConfig()
		e := open(t, cfg)
		blobs, err := blob.Open(ctx, "mem://")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { blobs.Close() })
		folder := func(client string) *bonafide.Folder {
			f := &bonafide.Folder{CompanyID: "co", MetaData: []byte(`{"client_id": "` + client + `"}`)}
			m := &bonafide.Media{Kind: bonafide.KindImage}
			if err := e.store.CreateFolder(ctx, f, []*bonafide.Media{m}); err != nil {
				t.Fatal(err)
			}
			m.BlobKey = f.ID + "/photo.jpg"
			if err := e.store.UpdateMedia(ctx, m); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{m.BlobKey, f.ID + "/stray.bin"} {
				if err := blobs.Put(ctx, k, []byte("x"), "application/octet-stream"); err != nil {
					t.Fatal(err)
				}
			}
			return f
		}
		erase := []*bonafide.Folder{folder("c-42"), folder("c-42"), folder("c-42")}
		keep := folder("c-43")
		er := &bonafide.Erasure{CompanyID: "co", Selector: bonafide.ErasureSelector{FolderMeta: map[string]string{"client_id": "c-42"}}}
		if err := e.store.CreateErasure(ctx, er); err != nil {
			t.Fatal(err)
		}
		if jobs := e.jobs(t, ErasureArgs{}.Kind()); len(jobs) != 1 || jobs[0].State != rivertype.JobStateAvailable || jobs[0].Queue != queueErasure {
			t.Fatalf("after CreateErasure: %+v, want one available erasure job", jobs)
		}
		e.start(t, Deps{Blobs: blobs}, cfg)
		var got *bonafide.Erasure
		eventually(t, "the erasure", 20*time.Second, func() bool {
			got, err = e.store.GetErasure(ctx, er.ID)
			return err == nil && got.Status == bonafide.ErasureFinished
		})
		if got.Folders != 3 || got.Media != 3 || got.Finished.IsZero() {
			t.Fatalf("receipt %+v", got)
		}
		files := func(f *bonafide.Folder) (n int) {
			_ = blobs.List(ctx, f.ID+"/", func(bonafide.BlobInfo) error { n++; return nil })
			return n
		}
		for _, f := range erase {
			if n := files(f); n != 0 {
				t.Errorf("folder %s: %d files left", f.ID, n)
			}
			if _, err := e.store.GetFolder(ctx, f.ID); bonafide.CodeOf(err) != bonafide.CodeNotExist {
				t.Errorf("folder %s: %v, want gone", f.ID, err)
			}
		}
		if n := files(keep); n != 2 {
			t.Errorf("the unselected folder has %d files, want 2", n)
		}
		if _, err := e.store.GetFolder(ctx, keep.ID); err != nil {
			t.Errorf("the unselected folder: %v", err)
		}
	})
}
