package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"

	"bonafide"
)

// --- folders ----------------------------------------------------------------------------------

const folderCols = `f.id, f.company_id, f.user_id, f.meta_data, f.technical_meta_data, f.resolution_endpoint,
	f.created_at, f.updated_at`

func scanFolder(r scanner) (*bonafide.Folder, error) {
	var f bonafide.Folder
	var meta, tech string
	var created, updated int64
	if err := r.Scan(&f.ID, &f.CompanyID, &f.UserID, &meta, &tech, &f.ResolutionEndpoint, &created, &updated); err != nil {
		return nil, err
	}
	f.MetaData, f.TechnicalMetaData = []byte(meta), []byte(tech)
	f.Created, f.Updated = fromStamp(created), fromStamp(updated)
	return &f, nil
}

// CreateFolder inserts the folder and its media in one transaction. Each media's FolderID is set to f.ID.
func (s *Store) CreateFolder(ctx context.Context, f *bonafide.Folder, media []*bonafide.Media) error {
	newID(&f.ID)
	s.setTimes(&f.Created, &f.Updated)
	meta, err := jsonText("meta_data", f.MetaData, "{}")
	if err != nil {
		return err
	}
	tech, err := jsonText("technical_meta_data", f.TechnicalMetaData, "{}")
	if err != nil {
		return err
	}
	ins, err := s.prepareMedia(f.ID, media)
	if err != nil {
		return err
	}
	err = s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO folders (id, company_id, user_id, meta_data, technical_meta_data,
			resolution_endpoint, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			f.ID, f.CompanyID, f.UserID, meta, tech, f.ResolutionEndpoint, stamp(f.Created), stamp(f.Updated))
		if isPrimaryKey(err) {
			return alreadyExists("folder", f.ID)
		}
		if err != nil {
			return err
		}
		return insertMedia(ctx, tx, ins)
	})
	if err != nil {
		return wrap("create folder", err)
	}
	if len(f.MetaData) == 0 {
		f.MetaData = []byte(meta)
	}
	if len(f.TechnicalMetaData) == 0 {
		f.TechnicalMetaData = []byte(tech)
	}
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
	meta, err := jsonText("meta_data", f.MetaData, "{}")
	if err != nil {
		return err
	}
	tech, err := jsonText("technical_meta_data", f.TechnicalMetaData, "{}")
	if err != nil {
		return err
	}
	f.Updated = s.nowMs()
	res, err := s.db.ExecContext(ctx, `UPDATE folders SET meta_data = ?, technical_meta_data = ?, resolution_endpoint = ?,
		updated_at = ? WHERE id = ?`, meta, tech, f.ResolutionEndpoint, stamp(f.Updated), f.ID)
	if err != nil {
		return wrap("update folder", err)
	}
	return wrap("update folder", mustAffect(res, "folder", f.ID))
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
		add(`f.created_at >= ?`, stamp(*filter.CreatedMin))
	}
	if filter.CreatedMax != nil {
		add(`f.created_at <= ?`, stamp(*filter.CreatedMax))
	}
	if filter.UpdatedMin != nil {
		add(`f.updated_at >= ?`, stamp(*filter.UpdatedMin))
	}
	if filter.UpdatedMax != nil {
		add(`f.updated_at <= ?`, stamp(*filter.UpdatedMax))
	}
	for _, k := range sortedKeys(filter.MetaEquals) {
		add(`EXISTS (SELECT 1 FROM json_each(f.meta_data) j WHERE j.key = ? AND `+metaValueSQL+` = ?)`, k, filter.MetaEquals[k])
	}
	for _, k := range sortedKeys(filter.MetaNotEquals) {
		add(`NOT EXISTS (SELECT 1 FROM json_each(f.meta_data) j WHERE j.key = ? AND `+metaValueSQL+` = ?)`, k, filter.MetaNotEquals[k])
	}
	if st := strings.ToUpper(strings.TrimSpace(filter.ResolutionStatus)); st != "" {
		switch st {
		case bonafide.StatusInitial, bonafide.StateProcessing, bonafide.StateFailed, bonafide.StateFinished:
			add(statusSQL+` = ?`, st)
		case bonafide.ResolutionSuccess, bonafide.ResolutionDeclined, bonafide.ResolutionOperatorRequired:
			add(verdictSQL+` = ?`, st)
		default:
			return nil, 0, bonafide.Errorf(bonafide.CodeInvalidValue, "unknown resolution_status %q", filter.ResolutionStatus)
		}
	}
	var col string
	switch filter.SortField {
	case "", "time_created":
		col = "f.created_at"
	case "time_updated":
		col = "f.updated_at"
	default:
		return nil, 0, bonafide.Errorf(bonafide.CodeInvalidValue, "cannot sort folders by %q", filter.SortField)
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

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// --- media ------------------------------------------------------------------------------------

const mediaCols = `id, folder_id, kind, original_name, field_name, blob_key, content_type, size, sha256, tags,
	meta_data, info, created_at, updated_at`

func scanMedia(r scanner) (*bonafide.Media, error) {
	var m bonafide.Media
	var kind, tags, meta string
	var info sql.NullString
	var created, updated int64
	if err := r.Scan(&m.ID, &m.FolderID, &kind, &m.OriginalName, &m.FieldName, &m.BlobKey, &m.ContentType, &m.Size,
		&m.SHA256, &tags, &meta, &info, &created, &updated); err != nil {
		return nil, err
	}
	var err error
	if m.Tags, err = decodeArray[string]("tags", tags); err != nil {
		return nil, err
	}
	m.Kind, m.MetaData, m.Info = bonafide.MediaKind(kind), []byte(meta), rawOrNil(info)
	m.Created, m.Updated = fromStamp(created), fromStamp(updated)
	return &m, nil
}

// mediaRow is a media ready to insert.
type mediaRow struct {
	m          *bonafide.Media
	tags, meta string
	info       any
}

// prepareMedia fills IDs, folder IDs and times, and validates the JSON, before a transaction starts.
func (s *Store) prepareMedia(folderID string, media []*bonafide.Media) ([]mediaRow, error) {
	rows := make([]mediaRow, 0, len(media))
	for _, m := range media {
		newID(&m.ID)
		m.FolderID = folderID
		s.setTimes(&m.Created, &m.Updated)
		if m.Kind == "" {
			return nil, bonafide.Errorf(bonafide.CodeInvalidValue, "media %s has no kind", m.ID)
		}
		r := mediaRow{m: m}
		var err error
		if r.tags, err = jsonArray("tags", m.Tags); err != nil {
			return nil, err
		}
		if r.meta, err = jsonText("meta_data", m.MetaData, "{}"); err != nil {
			return nil, err
		}
		if r.info, err = jsonNullable("info", m.Info); err != nil {
			return nil, err
		}
		rows = append(rows, r)
	}
	return rows, nil
}

func insertMedia(ctx context.Context, tx *sql.Tx, rows []mediaRow) error {
	if len(rows) == 0 {
		return nil
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO media (`+mediaCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, r := range rows {
		m := r.m
		_, err := stmt.ExecContext(ctx, m.ID, m.FolderID, string(m.Kind), m.OriginalName, m.FieldName, m.BlobKey,
			m.ContentType, m.Size, m.SHA256, r.tags, r.meta, r.info, stamp(m.Created), stamp(m.Updated))
		switch {
		case isPrimaryKey(err):
			return alreadyExists("media", m.ID)
		case isForeignKey(err):
			return bonafide.NotFound("folder", m.FolderID)
		case err != nil:
			return err
		}
		if len(m.MetaData) == 0 {
			m.MetaData = []byte(r.meta)
		}
		if m.Tags == nil {
			m.Tags = []string{}
		}
	}
	return nil
}

// AddMedia inserts media into an existing folder in one transaction and bumps the folder's updated time.
func (s *Store) AddMedia(ctx context.Context, folderID string, media []*bonafide.Media) error {
	rows, err := s.prepareMedia(folderID, media)
	if err != nil {
		return err
	}
	err = s.tx(ctx, func(tx *sql.Tx) error {
		if err := touchFolder(ctx, tx, folderID, stamp(s.now())); err != nil {
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
	tags, err := jsonArray("tags", m.Tags)
	if err != nil {
		return err
	}
	meta, err := jsonText("meta_data", m.MetaData, "{}")
	if err != nil {
		return err
	}
	info, err := jsonNullable("info", m.Info)
	if err != nil {
		return err
	}
	m.Updated = s.nowMs()
	res, err := s.db.ExecContext(ctx, `UPDATE media SET kind = ?, original_name = ?, field_name = ?, blob_key = ?,
		content_type = ?, size = ?, sha256 = ?, tags = ?, meta_data = ?, info = ?, updated_at = ? WHERE id = ?`,
		string(m.Kind), m.OriginalName, m.FieldName, m.BlobKey, m.ContentType, m.Size, m.SHA256, tags, meta, info,
		stamp(m.Updated), m.ID)
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
