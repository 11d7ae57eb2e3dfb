package jobs

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"bonafide"
)

// ErasureArgs is the job of working one erasure on request (bonafide.ErasureStore).
type ErasureArgs struct {
	ErasureID string `json:"erasure_id"`
}

// Kind names the job kind.
func (ErasureArgs) Kind() string { return "erasure" }

const queueErasure = "erasure"

// erasureBatch is how many folders one run of an erasure job erases before it hands the job back
// (snoozed for no time): every run stays well within the job timeout, and the rest follows at once.
var erasureBatch = 100

// erasureAttempts is the run budget of an erasure job. A run that returns an error (a blob store
// that is down) is retried with River's backoff; a crash costs an attempt too. The work is never
// given up on while attempts are left, and each run resumes where the last stopped.
const erasureAttempts = 50

type erasureWorker struct {
	river.WorkerDefaults[ErasureArgs]
	deps Deps
	log  *slog.Logger
	pace time.Duration
}

// Work erases the folders not yet erased, each one's files first and then its rows in one
// transaction (EraseFolder), so a crash leaves neither a file without a row that the next run would
// not find, nor a half-erased folder; then the persons, and the receipt is closed (FinishErasure).
func (w *erasureWorker) Work(ctx context.Context, job *river.Job[ErasureArgs]) error {
	id := job.Args.ErasureID
	e, err := w.deps.Store.GetErasure(ctx, id)
	if err != nil {
		if bonafide.CodeOf(err) == bonafide.CodeNotExist {
			return permanent(err)
		}
		return err
	}
	if e.Status == bonafide.ErasureFinished || e.DryRun {
		return nil
	}
	folders, err := w.deps.Store.ErasureFolders(ctx, id)
	if err != nil {
		return err
	}
	for i, fid := range folders {
		if i == erasureBatch {
			w.log.Info("erasure continues in the next run", "erasure_id", id, "left", len(folders)-i)
			return river.JobSnooze(0)
		}
		if err := w.eraseFolder(ctx, id, fid); err != nil {
			if ctx.Err() != nil {
				return river.JobSnooze(0) // shutting down or out of time: the next run resumes here
			}
			return err
		}
		if w.pace > 0 {
			select {
			case <-ctx.Done():
				return river.JobSnooze(0)
			case <-time.After(w.pace):
			}
		}
	}
	if err := w.deps.Store.FinishErasure(ctx, id); err != nil {
		return err
	}
	if e, err = w.deps.Store.GetErasure(ctx, id); err == nil {
		w.log.Info("erasure finished", "erasure_id", id, "company_id", e.CompanyID, "user_id", e.UserID,
			"folders", e.Folders, "media", e.Media, "best_shots", e.BestShots, "persons", e.Persons)
	}
	return nil
}

// eraseFolder removes one folder's files, then its rows, then any file written under the folder
// meanwhile (a media added during the erasure).
func (w *erasureWorker) eraseFolder(ctx context.Context, erasureID, folderID string) error {
	var keys []string
	ms, err := w.deps.Store.ListMedia(ctx, folderID)
	if err != nil && bonafide.CodeOf(err) != bonafide.CodeNotExist {
		return err
	}
	for _, m := range ms {
		keys = append(keys, m.BlobKey)
	}
	as, err := w.deps.Store.ListAnalyses(ctx, folderID)
	if err != nil && bonafide.CodeOf(err) != bonafide.CodeNotExist {
		return err
	}
	for _, a := range as {
		for _, r := range a.Results {
			if r.BestShotKey != "" {
				keys = append(keys, r.BestShotKey)
			}
		}
	}
	if err := w.deleteFiles(ctx, folderID, keys); err != nil {
		return err
	}
	if err := w.deps.Store.EraseFolder(ctx, erasureID, folderID); err != nil {
		return err
	}
	return w.deleteFiles(ctx, folderID, nil)
}

// deleteFiles deletes keys and every file stored under the folder's prefix; a file already gone
// is no error.
func (w *erasureWorker) deleteFiles(ctx context.Context, folderID string, keys []string) error {
	err := w.deps.Blobs.List(ctx, folderID+"/", func(b bonafide.BlobInfo) error {
		keys = append(keys, b.Key)
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := w.deps.Blobs.Delete(ctx, k); err != nil && bonafide.CodeOf(err) != bonafide.CodeNotExist {
			return errors.Join(errors.New("erasure: delete stored file "+k), err)
		}
	}
	return nil
}

// EnqueueErasure inserts the job that works an erasure, in the store's transaction.
func (e *Enqueuer[TTx]) EnqueueErasure(ctx context.Context, tx TTx, erasureID string) error {
	_, err := e.client.InsertTx(ctx, tx, ErasureArgs{ErasureID: erasureID},
		&river.InsertOpts{Queue: queueErasure, MaxAttempts: erasureAttempts})
	if err != nil {
		return errors.Join(errors.New("jobs: enqueue erasure"), err)
	}
	return nil
}
