package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"bonafide"
	"bonafide/internal/storeutil"
)

// --- folders ----------------------------------------------------------------------------------

const folderCols = `f.id, f.company_id, f.user_id, f.meta_data, f.technical_meta_data, f.resolution_endpoint,
	f.created_at, f.updated_at`

func scanFolder(r scanner) (*bonafide.Folder, error) {
	var f bonafide.Folder
	var c storeutil.FolderCols
	if err := r.Scan(&f.ID, &f.CompanyID, &f.UserID, &c.Meta, &c.Tech, &f.ResolutionEndpoint, &c.Created, &c.Updated); err != nil {
		return nil, err
	}
	c.Decode(&f)
	return &f, nil
}

// CreateFolder inserts the folder and its media in one transaction. Each media's FolderID is set to f.ID.
func (s *Store) CreateFolder(ctx context.Context, f *bonafide.Folder, media []*bonafide.Media) error {
	fr, err := s.codec.PrepareFolder(f)
	if err != nil {
		return err
	}
	ins, err := s.codec.PrepareMedia(f.ID, media)
	if err != nil {
		return err
	}
	err = s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO folders (id, company_id, user_id, meta_data, technical_meta_data,
			resolution_endpoint, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			f.ID, f.CompanyID, f.UserID, fr.Meta, fr.Tech, f.ResolutionEndpoint, storeutil.Stamp(f.Created), storeutil.Stamp(f.Updated))
		if isPrimaryKey(err) {
			return storeutil.AlreadyExists("folder", f.ID)
		}
		if err != nil {
			return err
		}
		return insertMedia(ctx, tx, ins)
	})
	if err != nil {
		return wrap("create folder", err)
	}
	fr.Fill()
	return nil
}

// GetFolder returns one folder.
func (s *Store) GetFolder(ctx context.Context, id string) (*bonafide.Folder, error) {
	f, err := scanFolder(s.db.QueryRowContext(ctx, `SELECT `+folderCols+` FROM folders f WHERE f.id = ?`, id))
	if err != nil {
		return nil, notFoundIf(err, "get folder", "folder", id)
	}
	return f, nil
}

// UpdateFolder writes the folder's meta_data, technical_meta_data and resolution_endpoint (owner and
// creation time never change); Updated is set to now.
func (s *Store) UpdateFolder(ctx context.Context, f *bonafide.Folder) error {
	fr, err := s.codec.FolderRow(f)
	if err != nil {
		return err
	}
	f.Updated = s.codec.Now()
	res, err := s.db.ExecContext(ctx, `UPDATE folders SET meta_data = ?, technical_meta_data = ?, resolution_endpoint = ?,
		updated_at = ? WHERE id = ?`, fr.Meta, fr.Tech, f.ResolutionEndpoint, storeutil.Stamp(f.Updated), f.ID)
	if err != nil {
		return wrap("update folder", err)
	}
	return wrap("update folder", mustAffect(res, "folder", f.ID))
}

// MoveUserFolders moves the folders userID created into companyID.
func (s *Store) MoveUserFolders(ctx context.Context, userID, companyID string) (int, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE folders SET company_id = ? WHERE user_id = ? AND company_id <> ?`, companyID, userID, companyID)
	if err != nil {
		return 0, wrap("move folders", err)
	}
	n, err := res.RowsAffected()
	return int(n), wrap("move folders", err)
}

// DeleteFolder deletes the folder with its media and analyses rows (the blobs are the caller's).
func (s *Store) DeleteFolder(ctx context.Context, id string) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		// The foreign keys cascade too; the explicit deletes do not depend on PRAGMA foreign_keys.
		if _, err := tx.ExecContext(ctx, `DELETE FROM analyses WHERE folder_id = ?`, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM media WHERE folder_id = ?`, id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM folders WHERE id = ?`, id)
		if err != nil {
			return err
		}
		return mustAffect(res, "folder", id)
	})
	return wrap("delete folder", err)
}

// touchFolder bumps a folder's updated_at (new media, analyses started or finished) and reports
// NotFound when it does not exist.
func touchFolder(ctx context.Context, tx *sql.Tx, id string, ms int64) error {
	res, err := tx.ExecContext(ctx, `UPDATE folders SET updated_at = max(updated_at, ?) WHERE id = ?`, ms, id)
	if err != nil {
		return err
	}
	return mustAffect(res, "folder", id)
}

// --- folder listing ---------------------------------------------------------------------------

// Derived folder status, in SQL. These must agree with bonafide.FolderStatus (the sqlite tests check it).
//
// statusSQL is the folder's resolution_status: INITIAL (no analyses), PROCESSING (any processing),
// FAILED (any failed), else FINISHED.
const statusSQL = `(CASE
	WHEN NOT EXISTS (SELECT 1 FROM analyses a WHERE a.folder_id = f.id) THEN 'INITIAL'
	WHEN EXISTS (SELECT 1 FROM analyses a WHERE a.folder_id = f.id AND a.state = 'PROCESSING') THEN 'PROCESSING'
	WHEN EXISTS (SELECT 1 FROM analyses a WHERE a.folder_id = f.id AND a.state = 'FAILED') THEN 'FAILED'
	ELSE 'FINISHED' END)`

// verdictSQL is the folder's system_resolution: INITIAL, PROCESSING, or the verdict of the last-finished
// group (the group of the analysis with the greatest updated_at, ties to the greatest group_id).
const verdictSQL = `(CASE
	WHEN NOT EXISTS (SELECT 1 FROM analyses a WHERE a.folder_id = f.id) THEN 'INITIAL'
	WHEN EXISTS (SELECT 1 FROM analyses a WHERE a.folder_id = f.id AND a.state = 'PROCESSING') THEN 'PROCESSING'
	ELSE (SELECT CASE
			WHEN sum(b.state = 'FAILED') > 0 THEN 'FAILED'
			WHEN sum(b.resolution = 'DECLINED') > 0 THEN 'DECLINED'
			WHEN sum(b.resolution <> 'SUCCESS') = 0 THEN 'SUCCESS'
			WHEN sum(b.resolution = 'OPERATOR_REQUIRED') > 0 THEN 'OPERATOR_REQUIRED'
			ELSE 'DECLINED' END
		FROM analyses b
		WHERE b.folder_id = f.id AND b.group_id = (
			SELECT a.group_id FROM analyses a WHERE a.folder_id = f.id
			ORDER BY a.updated_at DESC, a.group_id DESC LIMIT 1))
	END)`

// metaValueSQL is a json_each row's value as the text a client compares with: strings as they are,
// numbers in SQLite's text form, true/false as words, objects and arrays as JSON, null as NULL.
const metaValueSQL = `(CASE j.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' WHEN 'null' THEN NULL
	ELSE CAST(j.value AS TEXT) END)`

// ListFolders lists folders matching filter.
//
// Everything is filtered, counted and paged in SQL, including the derived resolution status: a folder's
// status is computed by correlated subqueries over its analyses (indexed by folder), so totals and
// pages stay exact. Meta filters look at top-level keys of meta_data through json_each, so any key
// (dots, quotes) is matched literally and passed as a bound parameter; values compare as text (see
// metaValueSQL). MetaNotEquals also matches folders that lack the key. Time bounds are inclusive.
// Limit < 0 means no limit; Limit 0 returns no folders (only the total, when asked).
func (s *Store) ListFolders(ctx context.Context, filter bonafide.FolderFilter) ([]*bonafide.Folder, int, error) {
	fq, err := storeutil.ParseFolderFilter(filter)
	if err != nil {
		return nil, 0, err
	}
	var where []string
	var args []any
	add := func(cond string, a ...any) {
		where = append(where, cond)
		args = append(args, a...)
	}
	if filter.CompanyID != "" {
		add(`f.company_id = ?`, filter.CompanyID)
	}
	if filter.UserID != "" {
		add(`f.user_id = ?`, filter.UserID)
	}
	if filter.CreatedMin != nil {
		add(`f.created_at >= ?`, storeutil.Stamp(*filter.CreatedMin))
	}
	if filter.CreatedMax != nil {
		add(`f.created_at <= ?`, storeutil.Stamp(*filter.CreatedMax))
	}
	if filter.UpdatedMin != nil {
		add(`f.updated_at >= ?`, storeutil.Stamp(*filter.UpdatedMin))
	}
	if filter.UpdatedMax != nil {
		add(`f.updated_at <= ?`, storeutil.Stamp(*filter.UpdatedMax))
	}
	for _, k := range fq.MetaEquals {
		add(`EXISTS (SELECT 1 FROM json_each(f.meta_data) j WHERE j.key = ? AND `+metaValueSQL+` = ?)`, k, filter.MetaEquals[k])
	}
	for _, k := range fq.MetaNotEquals {
		add(`NOT EXISTS (SELECT 1 FROM json_each(f.meta_data) j WHERE j.key = ? AND `+metaValueSQL+` = ?)`, k, filter.MetaNotEquals[k])
	}
	if filter.AnalysisType != "" {
		add(`EXISTS (SELECT 1 FROM analyses a WHERE a.folder_id = f.id AND a.type = ?)`, filter.AnalysisType)
	}
	switch {
	case fq.Status == "":
	case fq.Verdict:
		add(verdictSQL+` = ?`, fq.Status)
	default:
		add(statusSQL+` = ?`, fq.Status)
	}
	col := "f.created_at"
	if fq.ByUpdated {
		col = "f.updated_at"
	}
	dir := "DESC"
	if filter.SortAsc {
		dir = "ASC"
	}
	whereSQL := ""
	if len(where) > 0 {
		whereSQL = " WHERE " + strings.Join(where, " AND ")
	}

	total := -1
	if filter.WithTotal {
		if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM folders f`+whereSQL, args...).Scan(&total); err != nil {
			return nil, 0, wrap("count folders", err)
		}
	}
	limit := filter.Limit
	if limit < 0 {
		limit = -1 // SQLite: no limit
	}
	q := fmt.Sprintf(`SELECT %s FROM folders f%s ORDER BY %s %s, f.id %s LIMIT ? OFFSET ?`, folderCols, whereSQL, col, dir, dir)
	rows, err := s.db.QueryContext(ctx, q, append(args, limit, max(filter.Offset, 0))...)
	if err != nil {
		return nil, 0, wrap("list folders", err)
	}
	defer rows.Close()
	out := []*bonafide.Folder{}
	for rows.Next() {
		f, err := scanFolder(rows)
		if err != nil {
			return nil, 0, wrap("list folders", err)
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, wrap("list folders", err)
	}
	return out, total, nil
}

// --- media ------------------------------------------------------------------------------------

const mediaCols = `id, folder_id, kind, original_name, field_name, blob_key, content_type, size, sha256, tags,
	meta_data, info, created_at, updated_at`

func scanMedia(r scanner) (*bonafide.Media, error) {
	var m bonafide.Media
	var c storeutil.MediaCols
	if err := r.Scan(&m.ID, &m.FolderID, &c.Kind, &m.OriginalName, &m.FieldName, &m.BlobKey, &m.ContentType, &m.Size,
		&m.SHA256, &c.Tags, &c.Meta, &c.Info, &c.Created, &c.Updated); err != nil {
		return nil, err
	}
	if err := c.Decode(&m); err != nil {
		return nil, err
	}
	return &m, nil
}

func insertMedia(ctx context.Context, tx *sql.Tx, rows []storeutil.MediaRow) error {
	if len(rows) == 0 {
		return nil
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO media (`+mediaCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, r := range rows {
		m := r.M
		_, err := stmt.ExecContext(ctx, m.ID, m.FolderID, string(m.Kind), m.OriginalName, m.FieldName, m.BlobKey,
			m.ContentType, m.Size, m.SHA256, r.Tags, r.Meta, r.Info, storeutil.Stamp(m.Created), storeutil.Stamp(m.Updated))
		switch {
		case isPrimaryKey(err):
			return storeutil.AlreadyExists("media", m.ID)
		case isForeignKey(err):
			return bonafide.NotFound("folder", m.FolderID)
		case err != nil:
			return err
		}
		r.Fill()
	}
	return nil
}

// AddMedia inserts media into an existing folder in one transaction and bumps the folder's updated time.
func (s *Store) AddMedia(ctx context.Context, folderID string, media []*bonafide.Media) error {
	rows, err := s.codec.PrepareMedia(folderID, media)
	if err != nil {
		return err
	}
	err = s.tx(ctx, func(tx *sql.Tx) error {
		if err := touchFolder(ctx, tx, folderID, storeutil.Stamp(s.codec.Now())); err != nil {
			return err
		}
		return insertMedia(ctx, tx, rows)
	})
	return wrap("add media", err)
}

// GetMedia returns one media.
func (s *Store) GetMedia(ctx context.Context, id string) (*bonafide.Media, error) {
	m, err := scanMedia(s.db.QueryRowContext(ctx, `SELECT `+mediaCols+` FROM media WHERE id = ?`, id))
	if err != nil {
		return nil, notFoundIf(err, "get media", "media", id)
	}
	return m, nil
}

// ListMedia returns a folder's media in upload order; NotExist when the folder does not exist.
func (s *Store) ListMedia(ctx context.Context, folderID string) ([]*bonafide.Media, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+mediaCols+` FROM media WHERE folder_id = ? ORDER BY created_at, rowid`, folderID)
	if err != nil {
		return nil, wrap("list media", err)
	}
	defer rows.Close()
	out := []*bonafide.Media{}
	for rows.Next() {
		m, err := scanMedia(rows)
		if err != nil {
			return nil, wrap("list media", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("list media", err)
	}
	if len(out) == 0 {
		if err := s.folderExists(ctx, folderID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *Store) folderExists(ctx context.Context, id string) error {
	var one int
	err := s.db.QueryRowContext(ctx, `SELECT 1 FROM folders WHERE id = ?`, id).Scan(&one)
	if err != nil {
		return notFoundIf(err, "get folder", "folder", id)
	}
	return nil
}

// UpdateMedia writes every field of m but ID, FolderID and Created; Updated is set to now.
func (s *Store) UpdateMedia(ctx context.Context, m *bonafide.Media) error {
	mr, err := s.codec.MediaRow(m)
	if err != nil {
		return err
	}
	m.Updated = s.codec.Now()
	res, err := s.db.ExecContext(ctx, `UPDATE media SET kind = ?, original_name = ?, field_name = ?, blob_key = ?,
		content_type = ?, size = ?, sha256 = ?, tags = ?, meta_data = ?, info = ?, updated_at = ? WHERE id = ?`,
		string(m.Kind), m.OriginalName, m.FieldName, m.BlobKey, m.ContentType, m.Size, m.SHA256, mr.Tags, mr.Meta, mr.Info,
		storeutil.Stamp(m.Updated), m.ID)
	if err != nil {
		return wrap("update media", err)
	}
	return wrap("update media", mustAffect(res, "media", m.ID))
}

// DeleteMedia deletes one media row (the blob is the caller's).
func (s *Store) DeleteMedia(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM media WHERE id = ?`, id)
	if err != nil {
		return wrap("delete media", err)
	}
	return wrap("delete media", mustAffect(res, "media", id))
}

// ReferencedBlobKeys returns which of keys a media row or a best shot of an analysis refers to,
// searching the folders the keys name.
func (s *Store) ReferencedBlobKeys(ctx context.Context, keys []string) (map[string]bool, error) {
	out := map[string]bool{}
	folders := storeutil.KeyFolders(keys)
	if len(keys) == 0 || len(folders) == 0 {
		return out, nil
	}
	args := make([]any, 0, len(folders)+len(keys))
	for _, f := range folders {
		args = append(args, f)
	}
	for _, k := range keys {
		args = append(args, k)
	}
	in := func(n int) string { return strings.TrimSuffix(strings.Repeat("?,", n), ",") }
	q := `SELECT blob_key FROM media WHERE folder_id IN (` + in(len(folders)) + `) AND blob_key IN (` + in(len(keys)) + `)
		UNION SELECT json_extract(j.value, '$.best_shot_key') FROM analyses a, json_each(a.results) j
		WHERE a.folder_id IN (` + in(len(folders)) + `) AND json_extract(j.value, '$.best_shot_key') IN (` + in(len(keys)) + `)`
	rows, err := s.db.QueryContext(ctx, q, append(args, args...)...)
	if err != nil {
		return nil, wrap("referenced blob keys", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, wrap("referenced blob keys", err)
		}
		out[k] = true
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("referenced blob keys", err)
	}
	return out, nil
}
