package sweep

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"bonafide"
)

// Retention defaults.
const (
	DefaultRetentionBatch  = 200
	DefaultRetentionBudget = 30 * time.Second
)

// RetentionStore is the part of bonafide.Store the retention run uses.
type RetentionStore interface {
	bonafide.RetentionStore
	ListMedia(ctx context.Context, folderID string) ([]*bonafide.Media, error)
	ListAnalyses(ctx context.Context, folderID string) ([]*bonafide.Analysis, error)
	DeleteFolder(ctx context.Context, id string) error
}

// RetentionCounts is what one retention run removed: media whose files were deleted (the rows
// stay), folders removed whole, and stored files deleted. More says the run stopped at its
// budget with work left. An audit entry of the run is written from it.
type RetentionCounts struct {
	Media   int  `json:"media"`
	Folders int  `json:"folders"`
	Files   int  `json:"files"`
	More    bool `json:"more"`
}

// Retention deletes biometric data past its company's retention (or Default): the media files
// and best shots of media past the media retention (the rows stay, marked deleted), and whole
// folders past the folder retention. It is run by a periodic job (jobs.Config.RetentionInterval),
// which River enqueues on one node at a time.
//
// Each batch goes mark, delete files, finish: the rows are marked first (a marked media shows
// deleted and its URLs answer 410), then the files are deleted, then the rows finished (a media
// recorded as without files; a folder's rows deleted). A run cut anywhere leaves marked rows,
// which the next run finishes first: no row claims a file that is gone, and no file is left
// without a row that names it.
type Retention struct {
	Store   RetentionStore
	Blobs   bonafide.Blobs
	Default bonafide.RetentionPolicy
	Batch   int           // rows marked at a time (default 200)
	Budget  time.Duration // no new batch starts after this (default 30 s); More tells the rest
	Now     func() time.Time
	Log     *slog.Logger
	// Deleted, when set, is told each finished batch: kind "media" or "folder", and how many.
	Deleted func(kind string, n int)
}

func (r *Retention) now() time.Time {
	if r.Now == nil {
		return time.Now()
	}
	return r.Now()
}

func (r *Retention) log() *slog.Logger {
	if r.Log == nil {
		return slog.Default()
	}
	return r.Log
}

func (r *Retention) batch() int {
	if r.Batch <= 0 {
		return DefaultRetentionBatch
	}
	return r.Batch
}

// Run finishes what an earlier run left marked, then marks, deletes and finishes batches of due
// folders and media until none is due, ctx ends or the budget is spent. It logs what it removed.
func (r *Retention) Run(ctx context.Context) (RetentionCounts, error) {
	start := time.Now()
	budget := r.Budget
	if budget <= 0 {
		budget = DefaultRetentionBudget
	}
	var c RetentionCounts
	err := r.run(ctx, &c, start.Add(budget))
	attrs := []any{"media", c.Media, "folders", c.Folders, "files", c.Files, "more", c.More,
		"took", time.Since(start).Round(time.Millisecond)}
	switch {
	case err != nil:
		r.log().Warn("retention run failed", append(attrs, "err", err)...)
	case c.Media > 0 || c.Folders > 0 || c.More:
		r.log().Info("retention run", attrs...)
	}
	return c, err
}

func (r *Retention) run(ctx context.Context, c *RetentionCounts, deadline time.Time) error {
	n := r.batch()
	for {
		// What is marked first: an earlier run's leftovers, then this run's batches.
		if err := r.finishFolders(ctx, c, n); err != nil {
			return err
		}
		if err := r.finishMedia(ctx, c, n); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			c.More = true
			return nil
		}
		now := r.now()
		folders, err := r.Store.MarkFoldersForRetention(ctx, now, r.Default, n)
		if err != nil {
			return fmt.Errorf("retention: mark folders: %w", err)
		}
		media := 0
		if folders < n {
			if media, err = r.Store.MarkMediaForRetention(ctx, now, r.Default, n-folders); err != nil {
				return fmt.Errorf("retention: mark media: %w", err)
			}
		}
		if folders == 0 && media == 0 {
			return nil
		}
	}
}

// finishFolders deletes the files, then the rows, of the folders marked for removal.
func (r *Retention) finishFolders(ctx context.Context, c *RetentionCounts, n int) error {
	for {
		ids, err := r.Store.PendingFolderDeletions(ctx, n)
		if err != nil {
			return fmt.Errorf("retention: pending folders: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		done := 0
		for _, id := range ids {
			files, err := r.folderFiles(ctx, id)
			if err == nil {
				var k int
				k, err = r.deleteFiles(ctx, files)
				c.Files += k
			}
			if err == nil {
				err = r.Store.DeleteFolder(ctx, id)
				if bonafide.CodeOf(err) == bonafide.CodeNotExist {
					err = nil // removed meanwhile (the API, another run)
				}
			}
			if err != nil {
				r.report("folder", done)
				c.Folders += done
				return fmt.Errorf("retention: remove folder %s: %w", id, err)
			}
			done++
		}
		c.Folders += done
		r.report("folder", done)
		if len(ids) < n {
			return nil
		}
	}
}

// folderFiles is every stored file of a folder: those under its key prefix, and those its rows
// name (media files, best shots).
func (r *Retention) folderFiles(ctx context.Context, id string) ([]string, error) {
	seen := map[string]bool{}
	var keys []string
	add := func(k string) {
		if k != "" && !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	if err := r.Blobs.List(ctx, id+"/", func(o bonafide.BlobInfo) error { add(o.Key); return nil }); err != nil {
		return nil, err
	}
	ms, err := r.Store.ListMedia(ctx, id)
	if bonafide.CodeOf(err) == bonafide.CodeNotExist {
		return keys, nil
	}
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		add(m.BlobKey)
	}
	as, err := r.Store.ListAnalyses(ctx, id)
	if err != nil && bonafide.CodeOf(err) != bonafide.CodeNotExist {
		return nil, err
	}
	for _, a := range as {
		for _, res := range a.Results {
			add(res.BestShotKey)
		}
	}
	return keys, nil
}

// finishMedia deletes the files of the media marked deleted, then records them deleted.
func (r *Retention) finishMedia(ctx context.Context, c *RetentionCounts, n int) error {
	for {
		ds, err := r.Store.PendingMediaDeletions(ctx, n)
		if err != nil {
			return fmt.Errorf("retention: pending media: %w", err)
		}
		if len(ds) == 0 {
			return nil
		}
		var done []string
		var errs []error
		for _, d := range ds {
			k, err := r.deleteFiles(ctx, d.Keys)
			c.Files += k
			if err != nil {
				errs = append(errs, fmt.Errorf("media %s: %w", d.MediaID, err))
				continue
			}
			done = append(done, d.MediaID)
		}
		if err := r.Store.FinishMediaDeletions(ctx, done, r.now()); err != nil {
			return fmt.Errorf("retention: finish media: %w", err)
		}
		c.Media += len(done)
		r.report("media", len(done))
		if len(errs) > 0 {
			return fmt.Errorf("retention: delete media files: %w", errors.Join(errs...))
		}
		if len(ds) < n {
			return nil
		}
	}
}

// deleteFiles deletes the stored files; one already gone is not an error. It returns how many it
// deleted.
func (r *Retention) deleteFiles(ctx context.Context, keys []string) (int, error) {
	n := 0
	for _, k := range keys {
		err := r.Blobs.Delete(ctx, k)
		switch {
		case err == nil:
			n++
		case bonafide.CodeOf(err) == bonafide.CodeNotExist:
		default:
			return n, fmt.Errorf("delete %s: %w", k, err)
		}
	}
	return n, nil
}

func (r *Retention) report(kind string, n int) {
	if n > 0 && r.Deleted != nil {
		r.Deleted(kind, n)
	}
}
