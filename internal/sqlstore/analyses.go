package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"bonafide"
	"bonafide/internal/storeutil"
)

const analysisCols = `id, folder_id, group_id, type, state, resolution, params, meta_data, source_media, results_data,
	results, error, created_at, updated_at`

// analysisSelect is what a read selects: the inserted columns and the operator's decision.
const analysisSelect = analysisCols + `, decision`

func scanAnalysis(r Row) (*bonafide.Analysis, error) {
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
// together form a group. Every folder must exist; its updated time moves to its newest analysis,
// never backwards. The folder rows are locked (in ID order, so concurrent batches cannot deadlock)
// until the transaction ends, which orders this call against FinishAnalysis on other nodes.
func (s *Store[T]) CreateAnalyses(ctx context.Context, analyses []*bonafide.Analysis) error {
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
	folders := slices.Sorted(slices.Values(b.Folders))
	err = s.tx(ctx, func(tx Tx[T]) error {
		// The folder's updated time moves to its newest analysis (now, for new ones; an
		// imported analysis keeps the folder's own time when that is later).
		for _, f := range folders {
			if err := s.touchFolder(ctx, tx, f, b.Latest[f]); err != nil {
				return err
			}
		}
		args := make([][]any, len(b.Rows))
		for i, r := range b.Rows {
			a := r.A
			args[i] = []any{a.ID, a.FolderID, a.GroupID, a.Type, a.State, a.Resolution, r.Params, r.Meta,
				r.Source, r.ResultsData, r.Results, a.Error, storeutil.Stamp(a.Created), storeutil.Stamp(a.Updated), r.Decision}
		}
		i, err := tx.ExecEach(ctx, `INSERT INTO analyses (`+analysisSelect+`) VALUES (`+Placeholders(15)+`)`, args)
		switch {
		case s.violates(err, pkAnalysis):
			return storeutil.AlreadyExists("analysis", b.Rows[i].A.ID)
		case s.violates(err, fkAnalysisFold):
			return bonafide.NotFound("folder", b.Rows[i].A.FolderID)
		case err != nil:
			return err
		}
		if len(b.Queue) == 0 {
			return nil
		}
		if err := enq.EnqueueAnalyses(ctx, tx.Native(), b.Queue); err != nil {
			return fmt.Errorf("enqueue analyses: %w", err)
		}
		return nil
	})
	if err != nil {
		return s.wrap("create analyses", err)
	}
	b.Fill()
	return nil
}

// GetAnalysis returns one analysis.
func (s *Store[T]) GetAnalysis(ctx context.Context, id string) (*bonafide.Analysis, error) {
	return get(ctx, s, "get analysis", "analysis", id, scanAnalysis, `SELECT `+analysisSelect+` FROM analyses WHERE id = ?`, id)
}

// ListAnalyses returns a folder's analyses in creation order; NotExist when the folder does not exist.
func (s *Store[T]) ListAnalyses(ctx context.Context, folderID string) ([]*bonafide.Analysis, error) {
	return inFolder(ctx, s, "list analyses", scanAnalysis, `SELECT `+analysisSelect+` FROM analyses WHERE folder_id = ? ORDER BY created_at, `+s.sx.InsertOrder, folderID)
}

// FinishAnalysis writes a's final State (FINISHED or FAILED), Resolution, ResultsData, Results and Error;
// Updated is set to now and FolderID is filled from the stored row. In the same transaction, when this
// call moved the analysis out of PROCESSING, no analysis of the folder is still processing and the
// folder has a resolution_endpoint, it enqueues the folder's webhook with a new event ID. The first
// finish wins: finishing an analysis that is no longer PROCESSING (a retried or rescued job) changes
// nothing, enqueues nothing and returns bonafide.ErrAlreadyFinished (FolderID is still filled).
//
// Concurrent finishers: the folder row is locked (Syntax.ForNoKeyUpdate; SQLite's single writer
// serialises the whole transaction) before the analysis' previous state and the folder's processing
// count are read, so finishers of one folder run one after another and exactly one of them sees
// nothing left processing.
func (s *Store[T]) FinishAnalysis(ctx context.Context, a *bonafide.Analysis) error {
	fin, err := s.codec.PrepareFinish(a)
	if err != nil {
		return err
	}
	alreadyFinished := false
	err = s.tx(ctx, func(tx Tx[T]) error {
		var folderID string
		err := tx.QueryRow(ctx, `SELECT folder_id FROM analyses WHERE id = ?`, a.ID).Scan(&folderID)
		if errors.Is(err, sql.ErrNoRows) {
			return bonafide.NotFound("analysis", a.ID)
		}
		if err != nil {
			return err
		}
		var endpoint string
		err = tx.QueryRow(ctx, `SELECT resolution_endpoint FROM folders WHERE id = ?`+s.sx.ForNoKeyUpdate, folderID).Scan(&endpoint)
		if errors.Is(err, sql.ErrNoRows) { // deleted meanwhile, with its analyses
			return bonafide.NotFound("analysis", a.ID)
		}
		if err != nil {
			return err
		}
		var prev string
		err = tx.QueryRow(ctx, `SELECT state FROM analyses WHERE id = ?`+s.sx.ForUpdate, a.ID).Scan(&prev)
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
		if _, err := tx.Exec(ctx, `UPDATE analyses SET state = ?, resolution = ?, results_data = ?, results = ?,
			error = ?, updated_at = ? WHERE id = ?`,
			a.State, a.Resolution, fin.ResultsData, fin.Results, a.Error, storeutil.Stamp(a.Updated), a.ID); err != nil {
			return err
		}
		if err := s.touchFolder(ctx, tx, folderID, storeutil.Stamp(a.Updated)); err != nil {
			return err
		}
		if endpoint == "" {
			return nil
		}
		var processing int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM analyses WHERE folder_id = ? AND state = 'PROCESSING'`,
			folderID).Scan(&processing); err != nil {
			return err
		}
		if processing > 0 {
			return nil
		}
		enq, err := s.enqueuer()
		if err != nil {
			return err
		}
		if err := enq.EnqueueWebhook(ctx, tx.Native(), folderID, storeutil.NewID()); err != nil {
			return fmt.Errorf("enqueue webhook: %w", err)
		}
		return nil
	})
	if err != nil {
		return s.wrap("finish analysis", err)
	}
	if alreadyFinished {
		return bonafide.ErrAlreadyFinished
	}
	fin.Fill()
	return nil
}

// DecideAnalysis stores an operator's decision on a FINISHED analysis and moves its folder's
// updated time to the decision's, in one transaction; the analysis' resolution, results and times
// stay as they are. The analysis row is locked, so of two operators deciding at once the later
// commit is the decision kept.
func (s *Store[T]) DecideAnalysis(ctx context.Context, id string, d *bonafide.Decision) error {
	dec, err := storeutil.DecisionJSON(d)
	if err != nil {
		return err
	}
	err = s.tx(ctx, func(tx Tx[T]) error {
		var folderID, state string
		err := tx.QueryRow(ctx, `SELECT folder_id, state FROM analyses WHERE id = ?`+s.sx.ForUpdate, id).Scan(&folderID, &state)
		if errors.Is(err, sql.ErrNoRows) {
			return bonafide.NotFound("analysis", id)
		}
		if err != nil {
			return err
		}
		if state != bonafide.StateFinished {
			return storeutil.NotFinished(id, state)
		}
		if _, err := tx.Exec(ctx, `UPDATE analyses SET decision = ? WHERE id = ?`, dec, id); err != nil {
			return err
		}
		return s.touchFolder(ctx, tx, folderID, storeutil.Stamp(d.At))
	})
	return s.wrap("decide analysis", err)
}
