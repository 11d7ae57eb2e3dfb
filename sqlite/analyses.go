package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"bonafide"
)

// Folder status values beyond the analysis states and resolutions of the root package (oz-api.md §5.4).

const analysisCols = `id, folder_id, group_id, type, state, resolution, params, meta_data, source_media, results_data,
	results, error, created_at, updated_at`

func scanAnalysis(r scanner) (*bonafide.Analysis, error) {
	var a bonafide.Analysis
	var params, resultsData sql.NullString
	var meta, source, results string
	var created, updated int64
	if err := r.Scan(&a.ID, &a.FolderID, &a.GroupID, &a.Type, &a.State, &a.Resolution, &params, &meta, &source,
		&resultsData, &results, &a.Error, &created, &updated); err != nil {
		return nil, err
	}
	var err error
	if a.SourceMedia, err = decodeArray[string]("source_media", source); err != nil {
		return nil, err
	}
	if a.Results, err = decodeArray[bonafide.MediaResult]("results", results); err != nil {
		return nil, err
	}
	a.Params, a.MetaData, a.ResultsData = rawOrNil(params), []byte(meta), rawOrNil(resultsData)
	a.Created, a.Updated = fromStamp(created), fromStamp(updated)
	return &a, nil
}

// analysisRow is an analysis ready to insert.
type analysisRow struct {
	a                     *bonafide.Analysis
	params, resultsData   any
	meta, source, results string
}

// CreateAnalyses inserts the analyses and, in the same transaction, enqueues a job for each one that is
// PROCESSING (the default state). Analyses without a GroupID share one new group ID: analyses created
// together form a group. Every folder must exist; its updated time is bumped.
func (s *Store) CreateAnalyses(ctx context.Context, analyses []*bonafide.Analysis) error {
	if len(analyses) == 0 {
		return nil
	}
	enq, err := s.enqueuer()
	if err != nil {
		return err
	}
	group := ""
	rows := make([]analysisRow, 0, len(analyses))
	var folders, queue []string
	seen := map[string]bool{}
	for _, a := range analyses {
		if a.FolderID == "" {
			return bonafide.Errorf(bonafide.CodeInvalidValue, "analysis has no folder")
		}
		if a.Type == "" {
			return bonafide.Errorf(bonafide.CodeInvalidValue, "analysis has no type")
		}
		newID(&a.ID)
		if a.GroupID == "" {
			if group == "" {
				group = uuid.NewString()
			}
			a.GroupID = group
		}
		if a.State == "" {
			a.State = bonafide.StateProcessing
		}
		s.setTimes(&a.Created, &a.Updated)
		r := analysisRow{a: a}
		if r.params, err = jsonNullable("params", a.Params); err != nil {
			return err
		}
		if r.meta, err = jsonText("meta_data", a.MetaData, "{}"); err != nil {
			return err
		}
		if r.resultsData, err = jsonNullable("results_data", a.ResultsData); err != nil {
			return err
		}
		if r.source, err = jsonArray("source_media", a.SourceMedia); err != nil {
			return err
		}
		if r.results, err = jsonArray("results", a.Results); err != nil {
			return err
		}
		rows = append(rows, r)
		if !seen[a.FolderID] {
			seen[a.FolderID] = true
			folders = append(folders, a.FolderID)
		}
		if a.State == bonafide.StateProcessing {
			queue = append(queue, a.ID)
		}
	}
	err = s.tx(ctx, func(tx *sql.Tx) error {
		// The folder's updated time moves to its newest analysis (now, for new ones; an
		// imported analysis keeps the folder's own time when that is later).
		latest := map[string]int64{}
		for _, r := range rows {
			latest[r.a.FolderID] = max(latest[r.a.FolderID], stamp(r.a.Updated))
		}
		for _, f := range folders {
			if err := touchFolder(ctx, tx, f, latest[f]); err != nil {
				return err
			}
		}
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO analyses (`+analysisCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, r := range rows {
			a := r.a
			_, err := stmt.ExecContext(ctx, a.ID, a.FolderID, a.GroupID, a.Type, a.State, a.Resolution, r.params, r.meta,
				r.source, r.resultsData, r.results, a.Error, stamp(a.Created), stamp(a.Updated))
			if isPrimaryKey(err) {
				return alreadyExists("analysis", a.ID)
			}
			if err != nil {
				return err
			}
		}
		if len(queue) == 0 {
			return nil
		}
		if err := enq.EnqueueAnalyses(ctx, tx, queue); err != nil {
			return fmt.Errorf("enqueue analyses: %w", err)
		}
		return nil
	})
	if err != nil {
		return wrap("create analyses", err)
	}
	for _, r := range rows {
		a := r.a
		if len(a.MetaData) == 0 {
			a.MetaData = []byte(r.meta)
		}
		if a.SourceMedia == nil {
			a.SourceMedia = []string{}
		}
		if a.Results == nil {
			a.Results = []bonafide.MediaResult{}
		}
	}
	return nil
}

// GetAnalysis returns one analysis.
func (s *Store) GetAnalysis(ctx context.Context, id string) (*bonafide.Analysis, error) {
	a, err := scanAnalysis(s.db.QueryRowContext(ctx, `SELECT `+analysisCols+` FROM analyses WHERE id = ?`, id))
	if err != nil {
		return nil, notFoundIf(err, "get analysis", "analysis", id)
	}
	return a, nil
}

// ListAnalyses returns a folder's analyses in creation order; NotExist when the folder does not exist.
func (s *Store) ListAnalyses(ctx context.Context, folderID string) ([]*bonafide.Analysis, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+analysisCols+` FROM analyses WHERE folder_id = ? ORDER BY created_at, rowid`, folderID)
	if err != nil {
		return nil, wrap("list analyses", err)
	}
	defer rows.Close()
	out := []*bonafide.Analysis{}
	for rows.Next() {
		a, err := scanAnalysis(rows)
		if err != nil {
			return nil, wrap("list analyses", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("list analyses", err)
	}
	rows.Close()
	if len(out) == 0 {
		if err := s.folderExists(ctx, folderID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// FinishAnalysis writes a's final State (FINISHED or FAILED), Resolution, ResultsData, Results and Error;
// Updated is set to now and FolderID is filled from the stored row. In the same transaction, when this
// call moved the analysis out of PROCESSING, no analysis of the folder is still processing and the
// folder has a resolution_endpoint, it enqueues the folder's webhook with a new event ID. Finishing an
// analysis that was already finished (a retried job) rewrites it but enqueues no second webhook.
func (s *Store) FinishAnalysis(ctx context.Context, a *bonafide.Analysis) error {
	if a.State != bonafide.StateFinished && a.State != bonafide.StateFailed {
		return bonafide.Errorf(bonafide.CodeInvalidValue, "cannot finish analysis %s with state %q", a.ID, a.State)
	}
	resultsData, err := jsonNullable("results_data", a.ResultsData)
	if err != nil {
		return err
	}
	results, err := jsonArray("results", a.Results)
	if err != nil {
		return err
	}
	a.Updated = s.nowMs()
	err = s.tx(ctx, func(tx *sql.Tx) error {
		var folderID, prev string
		err := tx.QueryRowContext(ctx, `SELECT folder_id, state FROM analyses WHERE id = ?`, a.ID).Scan(&folderID, &prev)
		if errors.Is(err, sql.ErrNoRows) {
			return bonafide.NotFound("analysis", a.ID)
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE analyses SET state = ?, resolution = ?, results_data = ?, results = ?,
			error = ?, updated_at = ? WHERE id = ?`,
			a.State, a.Resolution, resultsData, results, a.Error, stamp(a.Updated), a.ID); err != nil {
			return err
		}
		if err := touchFolder(ctx, tx, folderID, stamp(a.Updated)); err != nil {
			return err
		}
		a.FolderID = folderID
		if prev != bonafide.StateProcessing {
			return nil
		}
		var endpoint string
		var processing int
		if err := tx.QueryRowContext(ctx, `SELECT resolution_endpoint,
			(SELECT count(*) FROM analyses WHERE folder_id = folders.id AND state = 'PROCESSING')
			FROM folders WHERE id = ?`, folderID).Scan(&endpoint, &processing); err != nil {
			return err
		}
		if endpoint == "" || processing > 0 {
			return nil
		}
		enq, err := s.enqueuer()
		if err != nil {
			return err
		}
		if err := enq.EnqueueWebhook(ctx, tx, folderID, uuid.NewString()); err != nil {
			return fmt.Errorf("enqueue webhook: %w", err)
		}
		return nil
	})
	if err != nil {
		return wrap("finish analysis", err)
	}
	if a.Results == nil {
		a.Results = []bonafide.MediaResult{}
	}
	return nil
}
