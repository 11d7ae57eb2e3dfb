package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"bonafide"
)

type analysisWorker struct {
	river.WorkerDefaults[AnalysisArgs]
	deps Deps
	log  *slog.Logger
}

// Work runs one analysis: every source media through the engine, the best shots to blob
// storage, the verdict to the store. It is idempotent: a finished analysis is left alone, so a job
// rescued after a crash either finishes the work or finds it done.
func (w *analysisWorker) Work(ctx context.Context, job *river.Job[AnalysisArgs]) error {
	a, err := w.deps.Store.GetAnalysis(ctx, job.Args.AnalysisID)
	if err != nil {
		if bonafide.CodeOf(err) == bonafide.CodeNotExist {
			return permanent(err) // deleted with its folder
		}
		return err
	}
	if a.State != bonafide.StateProcessing {
		return nil
	}
	start := w.deps.Now()
	err = w.run(ctx, a)
	if err != nil && job.Attempt < min(job.MaxAttempts, analysisErrorAttempts) && !isMediaError(err) {
		w.log.Warn("analysis attempt failed; will retry", "analysis_id", a.ID, "attempt", job.Attempt, "err", err)
		return err
	}
	if err != nil {
		a.State, a.Resolution, a.Error = bonafide.StateFailed, "", err.Error()
		a.ResultsData = json.RawMessage(`{}`)
	}
	if ferr := w.deps.Store.FinishAnalysis(ctx, a); errors.Is(ferr, bonafide.ErrAlreadyFinished) {
		// Another run (on a node thought dead) finished it first; its result stands.
		w.log.Info("analysis already finished by an earlier run; this run's result is discarded", "analysis_id", a.ID)
		return nil
	} else if ferr != nil {
		return ferr
	}
	secs := w.deps.Now().Sub(start).Seconds()
	w.log.Info("analysis finished", "analysis_id", a.ID, "folder_id", a.FolderID, "state", a.State,
		"resolution", a.Resolution, "seconds", secs)
	if w.deps.Observe != nil {
		res := a.Resolution
		if a.State == bonafide.StateFailed {
			res = bonafide.StateFailed
		}
		w.deps.Observe(res, secs)
	}
	return nil
}

// run fills a's results through the analysis pipeline and stores the best shots; an error means
// the analysis failed.
func (w *analysisWorker) run(ctx context.Context, a *bonafide.Analysis) error {
	if w.deps.Analyzer == nil {
		return errNoEngine
	}
	all, err := w.deps.Store.ListMedia(ctx, a.FolderID)
	if err != nil {
		return err
	}
	// Each media is read as a stream from the blob store: a video goes straight to the decoder's
	// temporary file, never whole into memory.
	out, err := w.deps.Analyzer.Run(ctx, a, all, func(ctx context.Context, m *bonafide.Media) (io.ReadCloser, error) {
		return w.deps.Blobs.Open(ctx, m.BlobKey)
	})
	if err != nil {
		return err
	}
	out.Apply(a)
	for i := range a.Results {
		r := &a.Results[i]
		shot := out.BestShots[r.MediaID]
		if len(shot) == 0 {
			continue
		}
		key := fmt.Sprintf("%s/best_shot_%s_%s.jpg", a.FolderID, a.ID, r.MediaID)
		if err := w.deps.Blobs.Put(ctx, key, shot, "image/jpeg"); err != nil {
			return fmt.Errorf("storing the best shot: %w", err)
		}
		r.BestShotKey = key
	}
	return nil
}

// isMediaError reports whether err is a failure of the media itself (a *bonafide.MediaError):
// retrying will not help.
func isMediaError(err error) bool {
	var me *bonafide.MediaError
	return errors.As(err, &me)
}

type webhookWorker struct {
	river.WorkerDefaults[WebhookArgs]
	deps Deps
	log  *slog.Logger
	cfg  Config
}

// NextRetry backs off exponentially.
func (w *webhookWorker) NextRetry(job *river.Job[WebhookArgs]) time.Time {
	return time.Now().Add(backoff(w.cfg.WebhookBackoff, w.cfg.WebhookMaxBackoff, job.Attempt))
}

// Work delivers the folder JSON to its resolution_endpoint, signed with the company's secret.
func (w *webhookWorker) Work(ctx context.Context, job *river.Job[WebhookArgs]) error {
	f, err := w.deps.Store.GetFolder(ctx, job.Args.FolderID)
	if err != nil {
		if bonafide.CodeOf(err) == bonafide.CodeNotExist {
			return permanent(err)
		}
		return err
	}
	if f.ResolutionEndpoint == "" || w.deps.Deliverer == nil {
		return nil
	}
	c, err := w.deps.Store.GetCompany(ctx, f.CompanyID)
	if err != nil {
		return err
	}
	body, err := w.deps.RenderFolder(ctx, f.ID)
	if err != nil {
		return err
	}
	err = w.deps.Deliverer.Deliver(ctx, f.ResolutionEndpoint, c.WebhookSecret, job.Args.EventID, body)
	if err == nil {
		w.log.Info("webhook delivered", "folder_id", f.ID, "webhook_id", job.Args.EventID, "attempt", job.Attempt)
		return nil
	}
	w.log.Warn("webhook delivery failed", "folder_id", f.ID, "webhook_id", job.Args.EventID, "attempt", job.Attempt, "err", err)
	if w.deps.Retryable != nil && !w.deps.Retryable(err) {
		return permanent(err)
	}
	return err
}
