package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

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
	err = s.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO folders (id, company_id, user_id, meta_data, technical_meta_data,
			resolution_endpoint, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			f.ID, f.CompanyID, f.UserID, fr.Meta, fr.Tech, f.ResolutionEndpoint, storeutil.Stamp(f.Created), storeutil.Stamp(f.Updated))
		if isUnique(err, pkFolder) {
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
	f, err := scanFolder(s.pool.QueryRow(ctx, `SELECT `+folderCols+` FROM folders f WHERE f.id = $1`, id))
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
	tag, err := s.pool.Exec(ctx, `UPDATE folders SET meta_data = $1, technical_meta_data = $2, resolution_endpoint = $3,
		updated_at = $4 WHERE id = $5`, fr.Meta, fr.Tech, f.ResolutionEndpoint, storeutil.Stamp(f.Updated), f.ID)
	if err != nil {
		return wrap("update folder", err)
	}
	return mustAffect(tag, "folder", f.ID)
}

// MoveUserFolders moves the folders userID created into companyID.
func (s *Store) MoveUserFolders(ctx context.Context, userID, companyID string) (int, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE folders SET company_id = $1 WHERE user_id = $2 AND company_id <> $1`, companyID, userID)
	if err != nil {
		return 0, wrap("move folders", err)
	}
	return int(tag.RowsAffected()), nil
}

// DeleteFolder deletes the folder with its media and analyses rows (the blobs are the caller's).
// The foreign keys cascade; deleting the folder row first locks it before its children, in the same
// order as FinishAnalysis, so the two cannot deadlock.
func (s *Store) DeleteFolder(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM folders WHERE id = $1`, id)
	if err != nil {
		return wrap("delete folder", err)
	}
	return mustAffect(tag, "folder", id)
}

// touchFolder bumps a folder's updated_at (new media, analyses started or finished), never backwards,
// and reports NotFound when it does not exist. It leaves the folder row locked until the transaction ends.
func touchFolder(ctx context.Context, tx pgx.Tx, id string, ms int64) error {
	tag, err := tx.Exec(ctx, `UPDATE folders SET updated_at = GREATEST(updated_at, $1) WHERE id = $2`, ms, id)
	if err != nil {
		return err
	}
	return mustAffect(tag, "folder", id)
}

// --- folder listing ---------------------------------------------------------------------------

// Derived folder status, in SQL. These must agree with bonafide.FolderStatus (the tests check it) and
// with the sqlite store's.
//
// statusSQL is the folder's resolution_status: INITIAL (no analyses), PROCESSING (any processing),
// FAILED (any failed), else FINISHED.
const statusSQL = `(CASE
	WHEN NOT EXISTS (SELECT 1 FROM analyses a WHERE a.folder_id = f.id) THEN 'INITIAL'
	WHEN EXISTS (SELECT 1 FROM analyses a WHERE a.folder_id = f.id AND a.state = 'PROCESSING') THEN 'PROCESSING'
	WHEN EXISTS (SELECT 1 FROM analyses a WHERE a.folder_id = f.id AND a.state = 'FAILED') THEN 'FAILED'
	ELSE 'FINISHED' END)`

// verdictSQL is the folder's system_resolution: INITIAL, PROCESSING, or the verdict of the last-finished
// group (the group of the analysis with the greatest updated_at, ties to the greatest group_id, which
// compares bytes: COLLATE "C").
const verdictSQL = `(CASE
	WHEN NOT EXISTS (SELECT 1 FROM analyses a WHERE a.folder_id = f.id) THEN 'INITIAL'
	WHEN EXISTS (SELECT 1 FROM analyses a WHERE a.folder_id = f.id AND a.state = 'PROCESSING') THEN 'PROCESSING'
	ELSE (SELECT CASE
			WHEN bool_or(b.state = 'FAILED') THEN 'FAILED'
			WHEN bool_or(b.resolution = 'DECLINED') THEN 'DECLINED'
			WHEN bool_and(b.resolution = 'SUCCESS') THEN 'SUCCESS'
			WHEN bool_or(b.resolution = 'OPERATOR_REQUIRED') THEN 'OPERATOR_REQUIRED'
			ELSE 'DECLINED' END
		FROM analyses b
		WHERE b.folder_id = f.id AND b.group_id = (
			SELECT a.group_id FROM analyses a WHERE a.folder_id = f.id
			ORDER BY a.updated_at DESC, a.group_id DESC LIMIT 1))
	END)`

// ListFolders lists folders matching filter.
//
// Everything is filtered, counted and paged in SQL, including the derived resolution status: a folder's
// status is computed by correlated subqueries over its analyses (indexed by folder), so totals and
// pages stay exact. Meta filters look at top-level keys of meta_data with jsonb's ->> operator and the
// key as a bound parameter, so any key (dots, quotes) is matched literally. Values compare as text:
// strings as they are, numbers in their JSON form, true/false as words, JSON null as SQL NULL (never
// equal). MetaNotEquals also matches folders that lack the key. Time bounds are inclusive. Limit < 0
// means no limit; Limit 0 returns no folders (only the total, when asked).
func (s *Store) ListFolders(ctx context.Context, filter bonafide.FolderFilter) ([]*bonafide.Folder, int, error) {
	fq, err := storeutil.ParseFolderFilter(filter)
	if err != nil {
		return nil, 0, err
	}
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if filter.CompanyID != "" {
		where = append(where, `f.company_id = `+arg(filter.CompanyID))
	}
	if filter.UserID != "" {
		where = append(where, `f.user_id = `+arg(filter.UserID))
	}
	if filter.CreatedMin != nil {
		where = append(where, `f.created_at >= `+arg(storeutil.Stamp(*filter.CreatedMin)))
	}
	if filter.CreatedMax != nil {
		where = append(where, `f.created_at <= `+arg(storeutil.Stamp(*filter.CreatedMax)))
	}
	if filter.UpdatedMin != nil {
		where = append(where, `f.updated_at >= `+arg(storeutil.Stamp(*filter.UpdatedMin)))
	}
	if filter.UpdatedMax != nil {
		where = append(where, `f.updated_at <= `+arg(storeutil.Stamp(*filter.UpdatedMax)))
	}
	for _, k := range fq.MetaEquals {
		where = append(where, fmt.Sprintf(`(f.meta_data ->> %s::text) = %s::text`, arg(k), arg(filter.MetaEquals[k])))
	}
	for _, k := range fq.MetaNotEquals {
		where = append(where, fmt.Sprintf(`(f.meta_data ->> %s::text) IS DISTINCT FROM %s::text`, arg(k), arg(filter.MetaNotEquals[k])))
	}
	if filter.AnalysisType != "" {
		where = append(where, `EXISTS (SELECT 1 FROM analyses a WHERE a.folder_id = f.id AND a.type = `+arg(filter.AnalysisType)+`::text)`)
	}
	switch {
	case fq.Status == "":
	case fq.Verdict:
		where = append(where, verdictSQL+` = `+arg(fq.Status)+`::text`)
	default:
		where = append(where, statusSQL+` = `+arg(fq.Status)+`::text`)
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
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM folders f`+whereSQL, args...).Scan(&total); err != nil {
			return nil, 0, wrap("count folders", err)
		}
	}
	var limit any // NULL: no limit
	if filter.Limit >= 0 {
		limit = int64(filter.Limit)
	}
	q := fmt.Sprintf(`SELECT %s FROM folders f%s ORDER BY %s %s, f.id %s LIMIT %s OFFSET %s`,
		folderCols, whereSQL, col, dir, dir, arg(limit), arg(int64(max(filter.Offset, 0))))
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, 0, wrap("list folders", err)
	}
	out, err := collect(rows, scanFolder)
	if err != nil {
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

// insertMedia inserts rows in one round trip (a pipelined batch); the first failure names its media.
func insertMedia(ctx context.Context, tx pgx.Tx, rows []storeutil.MediaRow) error {
	if len(rows) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for _, r := range rows {
		m := r.M
		b.Queue(`INSERT INTO media (`+mediaCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
			m.ID, m.FolderID, string(m.Kind), m.OriginalName, m.FieldName, m.BlobKey,
			m.ContentType, m.Size, m.SHA256, r.Tags, r.Meta, r.Info, storeutil.Stamp(m.Created), storeutil.Stamp(m.Updated))
	}
	br := tx.SendBatch(ctx, b)
	for _, r := range rows {
		m := r.M
		_, err := br.Exec()
		switch {
		case isUnique(err, pkMedia):
			br.Close()
			return storeutil.AlreadyExists("media", m.ID)
		case isForeignKey(err, fkMediaFolder):
			br.Close()
			return bonafide.NotFound("folder", m.FolderID)
		case err != nil:
			br.Close()
			return err
		}
	}
	if err := br.Close(); err != nil {
		return err
	}
	for _, r := range rows {
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
	err = s.tx(ctx, func(tx pgx.Tx) error {
		if err := touchFolder(ctx, tx, folderID, storeutil.Stamp(s.codec.Now())); err != nil {
			return err
		}
		return insertMedia(ctx, tx, rows)
	})
	return wrap("add media", err)
}

// GetMedia returns one media.
func (s *Store) GetMedia(ctx context.Context, id string) (*bonafide.Media, error) {
	m, err := scanMedia(s.pool.QueryRow(ctx, `SELECT `+mediaCols+` FROM media WHERE id = $1`, id))
	if err != nil {
		return nil, notFoundIf(err, "get media", "media", id)
	}
	return m, nil
}

// ListMedia returns a folder's media in upload order; NotExist when the folder does not exist.
func (s *Store) ListMedia(ctx context.Context, folderID string) ([]*bonafide.Media, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+mediaCols+` FROM media WHERE folder_id = $1 ORDER BY created_at, seq`, folderID)
	if err != nil {
		return nil, wrap("list media", err)
	}
	out, err := collect(rows, scanMedia)
	if err != nil {
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
	err := s.pool.QueryRow(ctx, `SELECT 1 FROM folders WHERE id = $1`, id).Scan(&one)
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
	tag, err := s.pool.Exec(ctx, `UPDATE media SET kind = $1, original_name = $2, field_name = $3, blob_key = $4,
		content_type = $5, size = $6, sha256 = $7, tags = $8, meta_data = $9, info = $10, updated_at = $11 WHERE id = $12`,
		string(m.Kind), m.OriginalName, m.FieldName, m.BlobKey, m.ContentType, m.Size, m.SHA256, mr.Tags, mr.Meta, mr.Info,
		storeutil.Stamp(m.Updated), m.ID)
	if err != nil {
		return wrap("update media", err)
	}
	return mustAffect(tag, "media", m.ID)
}

// DeleteMedia deletes one media row (the blob is the caller's).
func (s *Store) DeleteMedia(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM media WHERE id = $1`, id)
	if err != nil {
		return wrap("delete media", err)
	}
	return mustAffect(tag, "media", id)
}

// ReferencedBlobKeys returns which of keys a media row or a best shot of an analysis refers to,
// searching the folders the keys name.
func (s *Store) ReferencedBlobKeys(ctx context.Context, keys []string) (map[string]bool, error) {
	out := map[string]bool{}
	folders := storeutil.KeyFolders(keys)
	if len(keys) == 0 || len(folders) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT blob_key FROM media WHERE folder_id = ANY($1) AND blob_key = ANY($2)
		UNION SELECT r->>'best_shot_key' FROM analyses a, jsonb_array_elements(a.results) r
		WHERE a.folder_id = ANY($1) AND r->>'best_shot_key' = ANY($2)`, folders, keys)
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
