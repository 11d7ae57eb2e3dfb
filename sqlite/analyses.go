package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"bonafide"
	"bonafide/internal/storeutil"
)

// Folder status values beyond the analysis states and resolutions of the root package (oz-api.md §5.4).

const analysisCols = `id, folder_id, group_id, type, state, resolution, params, meta_data, source_media, results_data,
	results, error, created_at, updated_at`

// analysisSelect is what a read selects: the inserted columns and the operator's decision.
const analysisSelect = analysisCols + `, decision`

func scanAnalysis(r scanner) (*bonafide.Analysis, error) {
	var a bonafide.Analysis
	var c storeutil.AnalysisCols
	if err := r.Scan(&a.ID, &a.FolderID, &a.GroupID, &a.Type, &a.State, &a.Resolution, &c.Params, &c.Meta, &c.Source,
		&c.ResultsData, &c.Results, &a.Error, &c.Created, &c.Updated, &c.Decision); err != nil {
		return nil, err
	}
	if err := c.Decode(&a); err != nil {
		return nil, err
	}
	return &a, nil
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
	b, err := s.codec.PrepareAnalyses(analyses)
	if err != nil {
		return err
	}
	err = s.tx(ctx, func(tx *sql.Tx) error {
		// The folder's updated time moves to its newest analysis (now, for new ones; an
		// imported analysis keeps the folder's own time when that is later).
		for _, f := range b.Folders {
			if err := touchFolder(ctx, tx, f, b.Latest[f]); err != nil {
				return err
			}
		}
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO analyses (`+analysisSelect+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, r := range b.Rows {
			a := r.A
			_, err := stmt.ExecContext(ctx, a.ID, a.FolderID, a.GroupID, a.Type, a.State, a.Resolution, r.Params, r.Meta,
				r.Source, r.ResultsData, r.Results, a.Error, storeutil.Stamp(a.Created), storeutil.Stamp(a.Updated), r.Decision)
			if isPrimaryKey(err) {
				return storeutil.AlreadyExists("analysis", a.ID)
			}
			if err != nil {
				return err
			}
		}
		if len(b.Queue) == 0 {
			return nil
		}
		if err := enq.EnqueueAnalyses(ctx, tx, b.Queue); err != nil {
			return fmt.Errorf("enqueue analyses: %w", err)
		}
		return nil
	})
	if err != nil {
		return wrap("create analyses", err)
	}
	b.Fill()
	return nil
}

// GetAnalysis returns one analysis.
func (s *Store) GetAnalysis(ctx context.Context, id string) (*bonafide.Analysis, error) {
	a, err := scanAnalysis(s.db.QueryRowContext(ctx, `SELECT `+analysisSelect+` FROM analyses WHERE id = ?`, id))
	if err != nil {
		return nil, notFoundIf(err, "get analysis", "analysis", id)
	}
	return a, nil
}

// ListAnalyses returns a folder's analyses in creation order; NotExist when the folder does not exist.
func (s *Store) ListAnalyses(ctx context.Context, folderID string) ([]*bonafide.Analysis, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+analysisSelect+` FROM analyses WHERE folder_id = ? ORDER BY created_at, rowid`, folderID)
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
	fin, err := s.codec.PrepareFinish(a)
	if err != nil {
		return err
	}
	alreadyFinished := false
	err = s.tx(ctx, func(tx *sql.Tx) error {
		var folderID, prev string
		err := tx.QueryRowContext(ctx, `SELECT folder_id, state FROM analyses WHERE id = ?`, a.ID).Scan(&folderID, &prev)
		if errors.Is(err, sql.ErrNoRows) {
			return bonafide.NotFound("analysis", a.ID)
		}
		if err != nil {
			return err
		}
		a.FolderID = folderID
		if prev != bonafide.StateProcessing {
			alreadyFinished = true // the first finish wins: a rescued second run changes nothing
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE analyses SET state = ?, resolution = ?, results_data = ?, results = ?,
			error = ?, updated_at = ? WHERE id = ?`,
			a.State, a.Resolution, fin.ResultsData, fin.Results, a.Error, storeutil.Stamp(a.Updated), a.ID); err != nil {
			return err
		}
		if err := touchFolder(ctx, tx, folderID, storeutil.Stamp(a.Updated)); err != nil {
			return err
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
		if err := enq.EnqueueWebhook(ctx, tx, folderID, storeutil.NewID()); err != nil {
			return fmt.Errorf("enqueue webhook: %w", err)
		}
		return nil
	})
	if err != nil {
		return wrap("finish analysis", err)
	}
	if alreadyFinished {
		return bonafide.ErrAlreadyFinished
	}
	fin.Fill()
	return nil
}

// DecideAnalysis stores an operator's decision on a FINISHED analysis and moves its folder's
// updated time to the decision's, in one transaction; the analysis' resolution, results and times
// stay as they are.
func (s *Store) DecideAnalysis(ctx context.Context, id string, d *bonafide.Decision) error {
	dec, err := storeutil.DecisionJSON(d)
	if err != nil {
		return err
	}
	err = s.tx(ctx, func(tx *sql.Tx) error {
		var folderID, state string
		err := tx.QueryRowContext(ctx, `SELECT folder_id, state FROM analyses WHERE id = ?`, id).Scan(&folderID, &state)
		if errors.Is(err, sql.ErrNoRows) {
			return bonafide.NotFound("analysis", id)
		}
		if err != nil {
			return err
		}
		if state != bonafide.StateFinished {
			return storeutil.NotFinished(id, state)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE analyses SET decision = ? WHERE id = ?`, dec, id); err != nil {
			return err
		}
		return touchFolder(ctx, tx, folderID, storeutil.Stamp(d.At))
	})
	return wrap("decide analysis", err)
}
