package sqlstore

// Retention (issue 20, section 1): the store's side of the periodic retention run. The run goes
// mark, remove files, finish; every step here is idempotent, so a run cut anywhere is finished by
// the next one.

import (
	"context"
	"time"

	"bonafide"
	"bonafide/internal/storeutil"
)

// msDuration is a stored retention (milliseconds, NULL for the default) as a duration.
func msDuration(ms *int64) *time.Duration {
	if ms == nil {
		return nil
	}
	d := time.Duration(*ms) * time.Millisecond
	return &d
}

// durationMS is a retention as stored: milliseconds, or NULL for the default.
func durationMS(d *time.Duration) any {
	if d == nil {
		return nil
	}
	return d.Milliseconds()
}

// SetCompanyRetention stores a company's retention setting and moves its updated time.
func (s *Store[T]) SetCompanyRetention(ctx context.Context, companyID string, r bonafide.Retention) error {
	n, err := s.db.Exec(ctx, `UPDATE companies SET retention_media = ?, retention_folders = ?, updated_at = ? WHERE id = ?`,
		durationMS(r.Media), durationMS(r.Folders), storeutil.Stamp(s.codec.Now()), companyID)
	if err != nil {
		return s.wrap("set company retention", err)
	}
	return mustAffect(n, "company", companyID)
}

// noneProcessing is the condition "folder f has no analysis processing".
const noneProcessing = `NOT EXISTS (SELECT 1 FROM analyses a WHERE a.folder_id = f.id AND a.state = 'PROCESSING')`

// MarkMediaForRetention marks deleted the media due under their company's retention (or def's).
// A media is due once both its upload and its folder's last analysis (the folder's creation when
// it has none) are the retention ago; a folder with an analysis processing waits.
func (s *Store[T]) MarkMediaForRetention(ctx context.Context, now time.Time, def bonafide.RetentionPolicy, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	d, at := def.Media.Milliseconds(), storeutil.Stamp(now)
	return s.count(ctx, "mark media for retention", `UPDATE media SET deleted_at = ?, deleted_reason = ?
		WHERE deleted_at IS NULL AND id IN (
			SELECT m.id FROM media m JOIN folders f ON f.id = m.folder_id LEFT JOIN companies c ON c.id = f.company_id
			WHERE m.deleted_at IS NULL AND f.retention_marked_at IS NULL
				AND COALESCE(c.retention_media, ?) > 0
				AND m.created_at + COALESCE(c.retention_media, ?) <= ?
				AND COALESCE((SELECT max(a.updated_at) FROM analyses a WHERE a.folder_id = f.id), f.created_at)
					+ COALESCE(c.retention_media, ?) <= ?
				AND `+noneProcessing+`
			ORDER BY m.created_at, m.id LIMIT ?)`,
		at, bonafide.DeletedByRetention, d, d, at, d, at, limit)
}

// PendingMediaDeletions lists media marked deleted whose files are not yet removed (those of
// folders marked for removal are left to the folder's removal), with their file and best shots.
func (s *Store[T]) PendingMediaDeletions(ctx context.Context, limit int) ([]bonafide.MediaDeletion, error) {
	type row struct{ id, folder, key string }
	rows, err := list(ctx, s, "pending media deletions", func(r Row) (row, error) {
		var x row
		err := r.Scan(&x.id, &x.folder, &x.key)
		return x, err
	}, `SELECT m.id, m.folder_id, m.blob_key FROM media m
		WHERE m.deleted_at IS NOT NULL AND m.files_deleted_at IS NULL
			AND NOT EXISTS (SELECT 1 FROM folders f WHERE f.id = m.folder_id AND f.retention_marked_at IS NOT NULL)
		ORDER BY m.deleted_at, m.id LIMIT ?`, max(limit, 0))
	if err != nil {
		return nil, err
	}
	out := make([]bonafide.MediaDeletion, 0, len(rows))
	shots := map[string][]bonafide.MediaResult{} // each folder's analysis results, read once
	for _, x := range rows {
		rs, ok := shots[x.folder]
		if !ok {
			as, err := list(ctx, s, "pending media deletions", scanAnalysis,
				`SELECT `+analysisSelect+` FROM analyses WHERE folder_id = ?`, x.folder)
			if err != nil {
				return nil, err
			}
			for _, a := range as {
				rs = append(rs, a.Results...)
			}
			shots[x.folder] = rs
		}
		d := bonafide.MediaDeletion{MediaID: x.id, FolderID: x.folder}
		if x.key != "" {
			d.Keys = append(d.Keys, x.key)
		}
		for _, r := range rs {
			if r.MediaID == x.id && r.BestShotKey != "" {
				d.Keys = append(d.Keys, r.BestShotKey)
			}
		}
		out = append(out, d)
	}
	return out, nil
}

// FinishMediaDeletions records that the media's files are removed.
func (s *Store[T]) FinishMediaDeletions(ctx context.Context, mediaIDs []string, now time.Time) error {
	if len(mediaIDs) == 0 {
		return nil
	}
	in, args := s.sx.In("id", mediaIDs)
	_, err := s.count(ctx, "finish media deletions", `UPDATE media SET files_deleted_at = ? WHERE files_deleted_at IS NULL AND `+in,
		append([]any{storeutil.Stamp(now)}, args...)...)
	return err
}

// MarkFoldersForRetention marks for removal the folders due under their company's folder
// retention (or def's), and marks every media of a marked folder deleted, in one transaction.
func (s *Store[T]) MarkFoldersForRetention(ctx context.Context, now time.Time, def bonafide.RetentionPolicy, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	d, at := def.Folders.Milliseconds(), storeutil.Stamp(now)
	var marked int64
	err := s.tx(ctx, func(tx Tx[T]) error {
		var err error
		marked, err = tx.Exec(ctx, `UPDATE folders SET retention_marked_at = ?
			WHERE retention_marked_at IS NULL AND id IN (
				SELECT f.id FROM folders f LEFT JOIN companies c ON c.id = f.company_id
				WHERE f.retention_marked_at IS NULL
					AND COALESCE(c.retention_folders, ?) > 0
					AND f.created_at + COALESCE(c.retention_folders, ?) <= ?
					AND `+noneProcessing+`
				ORDER BY f.created_at, f.id LIMIT ?)`, at, d, d, at, limit)
		if err != nil || marked == 0 {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE media SET deleted_at = ?, deleted_reason = ?
			WHERE deleted_at IS NULL AND folder_id IN (SELECT id FROM folders WHERE retention_marked_at IS NOT NULL)`,
			at, bonafide.DeletedByRetention)
		return err
	})
	if err != nil {
		return 0, s.wrap("mark folders for retention", err)
	}
	return int(marked), nil
}

// PendingFolderDeletions lists the folders marked for removal, oldest mark first.
func (s *Store[T]) PendingFolderDeletions(ctx context.Context, limit int) ([]string, error) {
	return list(ctx, s, "pending folder deletions", func(r Row) (string, error) {
		var id string
		err := r.Scan(&id)
		return id, err
	}, `SELECT id FROM folders WHERE retention_marked_at IS NOT NULL ORDER BY retention_marked_at, id LIMIT ?`, max(limit, 0))
}
