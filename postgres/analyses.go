package postgres

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"bonafide"
)

const analysisCols = `id, folder_id, group_id, type, state, resolution, params, meta_data, source_media, results_data,
	results, error, created_at, updated_at`

func scanAnalysis(r scanner) (*bonafide.Analysis, error) {
	var a bonafide.Analysis
	var params, resultsData *string
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
// together form a group. Every folder must exist; its updated time moves to its newest analysis,
// never backwards. The folder rows are locked (in ID order, so concurrent batches cannot deadlock)
// until the transaction ends, which orders this call against FinishAnalysis on other nodes.
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
	var queue []string
	latest := map[string]int64{}
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
		latest[a.FolderID] = max(latest[a.FolderID], stamp(a.Updated))
		if a.State == bonafide.StateProcessing {
			queue = append(queue, a.ID)
		}
	}
	folders := make([]string, 0, len(latest))
	for f := range latest {
		folders = append(folders, f)
	}
	sort.Strings(folders)
	err = s.tx(ctx, func(tx pgx.Tx) error {
		// The folder's updated time moves to its newest analysis (now, for new ones; an
		// imported analysis keeps the folder's own time when that is later).
		for _, f := range folders {
			if err := touchFolder(ctx, tx, f, latest[f]); err != nil {
				return err
			}
		}
		b := &pgx.Batch{}
		for _, r := range rows {
			a := r.a
			b.Queue(`INSERT INTO analyses (`+analysisCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
				a.ID, a.FolderID, a.GroupID, a.Type, a.State, a.Resolution, r.params, r.meta,
				r.source, r.resultsData, r.results, a.Error, stamp(a.Created), stamp(a.Updated))
		}
		br := tx.SendBatch(ctx, b)
		for _, r := range rows {
			if _, err := br.Exec(); err != nil {
				br.Close()
				if isUnique(err, pkAnalysis) {
					return alreadyExists("analysis", r.a.ID)
				}
				if isForeignKey(err, fkAnalysisFold) {
					return bonafide.NotFound("folder", r.a.FolderID)
				}
				return err
			}
		}
		if err := br.Close(); err != nil {
			return err
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
	a, err := scanAnalysis(s.pool.QueryRow(ctx, `SELECT `+analysisCols+` FROM analyses WHERE id = $1`, id))
	if err != nil {
		return nil, notFoundIf(err, "get analysis", "analysis", id)
	}
	return a, nil
}

// ListAnalyses returns a folder's analyses in creation order; NotExist when the folder does not exist.
func (s *Store) ListAnalyses(ctx context.Context, folderID string) ([]*bonafide.Analysis, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+analysisCols+` FROM analyses WHERE folder_id = $1 ORDER BY created_at, seq`, folderID)
	if err != nil {
		return nil, wrap("list analyses", err)
	}
	out, err := collect(rows, scanAnalysis)
	if err != nil {
		return nil, wrap("list analyses", err)
	}
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
//
// Across nodes: the folder row is locked (FOR NO KEY UPDATE) before the analysis' previous state and
// the folder's processing count are read, so concurrent finishers of one folder run one after
// another and exactly one of them sees nothing left processing.
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
	err = s.tx(ctx, func(tx pgx.Tx) error {
		var folderID string
		err := tx.QueryRow(ctx, `SELECT folder_id FROM analyses WHERE id = $1`, a.ID).Scan(&folderID)
		if errors.Is(err, pgx.ErrNoRows) {
			return bonafide.NotFound("analysis", a.ID)
		}
		if err != nil {
			return err
		}
		var endpoint string
		err = tx.QueryRow(ctx, `SELECT resolution_endpoint FROM folders WHERE id = $1 FOR NO KEY UPDATE`, folderID).Scan(&endpoint)
		if errors.Is(err, pgx.ErrNoRows) { // deleted meanwhile, with its analyses
			return bonafide.NotFound("analysis", a.ID)
		}
		if err != nil {
			return err
		}
		var prev string
		err = tx.QueryRow(ctx, `SELECT state FROM analyses WHERE id = $1 FOR UPDATE`, a.ID).Scan(&prev)
		if errors.Is(err, pgx.ErrNoRows) {
			return bonafide.NotFound("analysis", a.ID)
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE analyses SET state = $1, resolution = $2, results_data = $3, results = $4,
			error = $5, updated_at = $6 WHERE id = $7`,
			a.State, a.Resolution, resultsData, results, a.Error, stamp(a.Updated), a.ID); err != nil {
			return err
		}
		if err := touchFolder(ctx, tx, folderID, stamp(a.Updated)); err != nil {
			return err
		}
		a.FolderID = folderID
		if prev != bonafide.StateProcessing || endpoint == "" {
			return nil
		}
		var processing int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM analyses WHERE folder_id = $1 AND state = 'PROCESSING'`,
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
