package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"bonafide"
	"bonafide/internal/storeutil"
)

// --- folders ----------------------------------------------------------------------------------

const folderCols = `f.id, f.company_id, f.user_id, f.meta_data, f.technical_meta_data, f.resolution_endpoint,
	f.created_at, f.updated_at`

func scanFolder(r Row) (*bonafide.Folder, error) {
	var f bonafide.Folder
	var c storeutil.FolderCols
	if err := r.Scan(&f.ID, &f.CompanyID, &f.UserID, &c.Meta, &c.Tech, &f.ResolutionEndpoint, &c.Created, &c.Updated); err != nil {
		return nil, err
	}
	c.Decode(&f)
	return &f, nil
}

// CreateFolder inserts the folder and its media in one transaction. Each media's FolderID is set to f.ID.
func (s *Store[T]) CreateFolder(ctx context.Context, f *bonafide.Folder, media []*bonafide.Media) error {
	fr, err := s.codec.PrepareFolder(f)
	if err != nil {
		return err
	}
	ins, err := s.codec.PrepareMedia(f.ID, media)
	if err != nil {
		return err
	}
	err = s.tx(ctx, func(tx Tx[T]) error {
		_, err := tx.Exec(ctx, `INSERT INTO folders (id, company_id, user_id, meta_data, technical_meta_data,
			resolution_endpoint, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			f.ID, f.CompanyID, f.UserID, fr.Meta, fr.Tech, f.ResolutionEndpoint, storeutil.Stamp(f.Created), storeutil.Stamp(f.Updated))
		if s.violates(err, pkFolder) {
			return storeutil.AlreadyExists("folder", f.ID)
		}
		if err != nil {
			return err
		}
		return s.insertMedia(ctx, tx, ins)
	})
	if err != nil {
		return s.wrap("create folder", err)
	}
	fr.Fill()
	return nil
}

// GetFolder returns one folder.
func (s *Store[T]) GetFolder(ctx context.Context, id string) (*bonafide.Folder, error) {
	return get(ctx, s, "get folder", "folder", id, scanFolder, `SELECT `+folderCols+` FROM folders f WHERE f.id = ?`, id)
}

// UpdateFolder writes the folder's meta_data, technical_meta_data and resolution_endpoint (owner and
// creation time never change); Updated is set to now.
func (s *Store[T]) UpdateFolder(ctx context.Context, f *bonafide.Folder) error {
	fr, err := s.codec.FolderRow(f)
	if err != nil {
		return err
	}
	f.Updated = s.codec.Now()
	n, err := s.db.Exec(ctx, `UPDATE folders SET meta_data = ?, technical_meta_data = ?, resolution_endpoint = ?,
		updated_at = ? WHERE id = ?`, fr.Meta, fr.Tech, f.ResolutionEndpoint, storeutil.Stamp(f.Updated), f.ID)
	if err != nil {
		return s.wrap("update folder", err)
	}
	return mustAffect(n, "folder", f.ID)
}

// MoveUserFolders moves the folders userID created into companyID.
func (s *Store[T]) MoveUserFolders(ctx context.Context, userID, companyID string) (int, error) {
	return s.count(ctx, "move folders", `UPDATE folders SET company_id = ? WHERE user_id = ? AND company_id <> ?`,
		companyID, userID, companyID)
}

// DeleteFolder deletes the folder with its media and analyses rows (the blobs are the caller's).
// Deleting the folder row first locks it before its children, in the same order as FinishAnalysis,
// so the two cannot deadlock. The foreign keys cascade; the explicit deletes after it do not depend
// on them (SQLite's PRAGMA foreign_keys).
func (s *Store[T]) DeleteFolder(ctx context.Context, id string) error {
	err := s.tx(ctx, func(tx Tx[T]) error {
		n, err := tx.Exec(ctx, `DELETE FROM folders WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if err := mustAffect(n, "folder", id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM analyses WHERE folder_id = ?`, id); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM media WHERE folder_id = ?`, id)
		return err
	})
	return s.wrap("delete folder", err)
}

// touchFolder bumps a folder's updated_at (new media, analyses started or finished), never backwards,
// and reports NotFound when it does not exist. It leaves the folder row locked until the transaction ends.
func (s *Store[T]) touchFolder(ctx context.Context, tx Tx[T], id string, ms int64) error {
	n, err := tx.Exec(ctx, `UPDATE folders SET updated_at = `+s.sx.Greatest("updated_at", "?")+` WHERE id = ?`, ms, id)
	if err != nil {
		return err
	}
	return mustAffect(n, "folder", id)
}

// --- folder listing ---------------------------------------------------------------------------

// Derived folder status, in SQL. These must agree with bonafide.FolderStatus (the stores' tests check
// it).
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
// compares bytes: PostgreSQL's ids are COLLATE "C"). bool_or and bool_and are the dialect's aggregates.
func (s *Store[T]) verdictSQL() string {
	or, and := s.sx.BoolOr, s.sx.BoolAnd
	return `(CASE
	WHEN NOT EXISTS (SELECT 1 FROM analyses a WHERE a.folder_id = f.id) THEN 'INITIAL'
	WHEN EXISTS (SELECT 1 FROM analyses a WHERE a.folder_id = f.id AND a.state = 'PROCESSING') THEN 'PROCESSING'
	ELSE (SELECT CASE
			WHEN ` + or(`b.state = 'FAILED'`) + ` THEN 'FAILED'
			WHEN ` + or(`b.resolution = 'DECLINED'`) + ` THEN 'DECLINED'
			WHEN ` + and(`b.resolution = 'SUCCESS'`) + ` THEN 'SUCCESS'
			WHEN ` + or(`b.resolution = 'OPERATOR_REQUIRED'`) + ` THEN 'OPERATOR_REQUIRED'
			ELSE 'DECLINED' END
		FROM analyses b
		WHERE b.folder_id = f.id AND b.group_id = (
			SELECT a.group_id FROM analyses a WHERE a.folder_id = f.id
			ORDER BY a.updated_at DESC, a.group_id DESC LIMIT 1))
	END)`
}

// ListFolders lists folders matching filter.
//
// Everything is filtered, counted and paged in SQL, including the derived resolution status: a folder's
// status is computed by correlated subqueries over its analyses (indexed by folder), so totals and
// pages stay exact. Meta filters look at top-level keys of meta_data (Syntax.MetaEquals) with the key
// as a bound parameter, so any key (dots, quotes) is matched literally. Values compare as text:
// strings as they are, numbers in their JSON form, true/false as words, JSON null as SQL NULL (never
// equal). MetaNotEquals also matches folders that lack the key. Time bounds are inclusive. Limit < 0
// means no limit; Limit 0 returns no folders (only the total, when asked).
func (s *Store[T]) ListFolders(ctx context.Context, filter bonafide.FolderFilter) ([]*bonafide.Folder, int, error) {
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
		add(s.sx.MetaEquals("f.meta_data"), k, filter.MetaEquals[k])
	}
	for _, k := range fq.MetaNotEquals {
		add(s.sx.MetaNotEquals("f.meta_data"), k, filter.MetaNotEquals[k])
	}
	if filter.AnalysisType != "" {
		add(`EXISTS (SELECT 1 FROM analyses a WHERE a.folder_id = f.id AND a.type = ?)`, filter.AnalysisType)
	}
	switch {
	case fq.Status == "":
	case fq.Verdict:
		add(s.verdictSQL()+` = ?`, fq.Status)
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
		if err := s.db.QueryRow(ctx, `SELECT count(*) FROM folders f`+whereSQL, args...).Scan(&total); err != nil {
			return nil, 0, s.wrap("count folders", err)
		}
	}
	q := fmt.Sprintf(`SELECT %s FROM folders f%s ORDER BY %s %s, f.id %s LIMIT ? OFFSET ?`, folderCols, whereSQL, col, dir, dir)
	rows, err := s.db.Query(ctx, q, append(args, s.limit(filter.Limit), max(filter.Offset, 0))...)
	if err != nil {
		return nil, 0, s.wrap("list folders", err)
	}
	out, err := collect(rows, scanFolder)
	if err != nil {
		return nil, 0, s.wrap("list folders", err)
	}
	return out, total, nil
}

// --- media ------------------------------------------------------------------------------------

const mediaCols = `id, folder_id, kind, original_name, field_name, blob_key, content_type, size, sha256, tags,
	meta_data, info, created_at, updated_at`

// mediaSelect is what a read selects: the inserted columns and the retention's deletion mark.
const mediaSelect = mediaCols + `, deleted_at, deleted_reason`

func scanMedia(r Row) (*bonafide.Media, error) {
	var m bonafide.Media
	var c storeutil.MediaCols
	var deleted *int64
	if err := r.Scan(&m.ID, &m.FolderID, &c.Kind, &m.OriginalName, &m.FieldName, &m.BlobKey, &m.ContentType, &m.Size,
		&m.SHA256, &c.Tags, &c.Meta, &c.Info, &c.Created, &c.Updated, &deleted, &m.DeletedReason); err != nil {
		return nil, err
	}
	if err := c.Decode(&m); err != nil {
		return nil, err
	}
	if deleted != nil {
		t := storeutil.FromStamp(*deleted)
		m.Deleted = &t
	}
	return &m, nil
}

// insertMedia inserts rows (in one round trip where the driver can); the first failure names its media.
func (s *Store[T]) insertMedia(ctx context.Context, tx Tx[T], rows []storeutil.MediaRow) error {
	if len(rows) == 0 {
		return nil
	}
	args := make([][]any, len(rows))
	for i, r := range rows {
		m := r.M
		args[i] = []any{m.ID, m.FolderID, string(m.Kind), m.OriginalName, m.FieldName, m.BlobKey,
			m.ContentType, m.Size, m.SHA256, r.Tags, r.Meta, r.Info, storeutil.Stamp(m.Created), storeutil.Stamp(m.Updated)}
	}
	i, err := tx.ExecEach(ctx, `INSERT INTO media (`+mediaCols+`) VALUES (`+Placeholders(14)+`)`, args)
	switch {
	case s.violates(err, pkMedia):
		return storeutil.AlreadyExists("media", rows[i].M.ID)
	case s.violates(err, fkMediaFolder):
		return bonafide.NotFound("folder", rows[i].M.FolderID)
	case err != nil:
		return err
	}
	for _, r := range rows {
		r.Fill()
	}
	return nil
}

// AddMedia inserts media into an existing folder in one transaction and bumps the folder's updated time.
func (s *Store[T]) AddMedia(ctx context.Context, folderID string, media []*bonafide.Media) error {
	rows, err := s.codec.PrepareMedia(folderID, media)
	if err != nil {
		return err
	}
	err = s.tx(ctx, func(tx Tx[T]) error {
		if err := s.touchFolder(ctx, tx, folderID, storeutil.Stamp(s.codec.Now())); err != nil {
			return err
		}
		return s.insertMedia(ctx, tx, rows)
	})
	return s.wrap("add media", err)
}

// GetMedia returns one media.
func (s *Store[T]) GetMedia(ctx context.Context, id string) (*bonafide.Media, error) {
	return get(ctx, s, "get media", "media", id, scanMedia, `SELECT `+mediaSelect+` FROM media WHERE id = ?`, id)
}

// ListMedia returns a folder's media in upload order; NotExist when the folder does not exist.
func (s *Store[T]) ListMedia(ctx context.Context, folderID string) ([]*bonafide.Media, error) {
	return inFolder(ctx, s, "list media", scanMedia, `SELECT `+mediaSelect+` FROM media WHERE folder_id = ? ORDER BY created_at, `+s.sx.InsertOrder, folderID)
}

// inFolder lists the rows of query, whose one argument is folderID; NotExist when the folder does
// not exist.
func inFolder[T, V any](ctx context.Context, s *Store[T], op string, scan func(Row) (V, error), query, folderID string) ([]V, error) {
	out, err := list(ctx, s, op, scan, query, folderID)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		if err := s.folderExists(ctx, folderID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *Store[T]) folderExists(ctx context.Context, id string) error {
	var one int
	err := s.db.QueryRow(ctx, `SELECT 1 FROM folders WHERE id = ?`, id).Scan(&one)
	if err != nil {
		return s.notFoundIf(err, "get folder", "folder", id)
	}
	return nil
}

// UpdateMedia writes every field of m but ID, FolderID and Created; Updated is set to now.
func (s *Store[T]) UpdateMedia(ctx context.Context, m *bonafide.Media) error {
	mr, err := s.codec.MediaRow(m)
	if err != nil {
		return err
	}
	m.Updated = s.codec.Now()
	n, err := s.db.Exec(ctx, `UPDATE media SET kind = ?, original_name = ?, field_name = ?, blob_key = ?,
		content_type = ?, size = ?, sha256 = ?, tags = ?, meta_data = ?, info = ?, updated_at = ? WHERE id = ?`,
		string(m.Kind), m.OriginalName, m.FieldName, m.BlobKey, m.ContentType, m.Size, m.SHA256, mr.Tags, mr.Meta, mr.Info,
		storeutil.Stamp(m.Updated), m.ID)
	if err != nil {
		return s.wrap("update media", err)
	}
	return mustAffect(n, "media", m.ID)
}

// DeleteMedia deletes one media row (the blob is the caller's).
func (s *Store[T]) DeleteMedia(ctx context.Context, id string) error {
	n, err := s.db.Exec(ctx, `DELETE FROM media WHERE id = ?`, id)
	if err != nil {
		return s.wrap("delete media", err)
	}
	return mustAffect(n, "media", id)
}

// ReferencedBlobKeys returns which of keys a media row or a best shot of an analysis refers to,
// searching the folders the keys name.
func (s *Store[T]) ReferencedBlobKeys(ctx context.Context, keys []string) (map[string]bool, error) {
	out := map[string]bool{}
	folders := storeutil.KeyFolders(keys)
	if len(keys) == 0 || len(folders) == 0 {
		return out, nil
	}
	inFolders, fargs := s.sx.In("folder_id", folders)
	inKeys, kargs := s.sx.In("blob_key", keys)
	inAFolders, _ := s.sx.In("a.folder_id", folders)
	best := s.sx.JSONField("r", "best_shot_key")
	inBest, _ := s.sx.In(best, keys)
	args := slices.Concat(fargs, kargs, fargs, kargs)
	rows, err := s.db.Query(ctx, `SELECT blob_key FROM media WHERE `+inFolders+` AND `+inKeys+`
		UNION SELECT `+best+` FROM analyses a, `+s.sx.JSONElements("a.results", "r")+`
		WHERE `+inAFolders+` AND `+inBest, args...)
	if err != nil {
		return nil, s.wrap("referenced blob keys", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, s.wrap("referenced blob keys", err)
		}
		out[k] = true
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("referenced blob keys", err)
	}
	return out, nil
}
