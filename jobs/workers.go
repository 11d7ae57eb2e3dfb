package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/riverqueue/river"

	"bonafide"
	"bonafide/liveness"
	"bonafide/media"
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

// run fills a's results; an error means the analysis failed.
func (w *analysisWorker) run(ctx context.Context, a *bonafide.Analysis) error {
	if w.deps.Engine == nil {
		return errNoEngine
	}
	all, err := w.deps.Store.ListMedia(ctx, a.FolderID)
	if err != nil {
		return err
	}
	sources := bonafide.QualityMedia(a, all)
	params := ParseParams(a.Params)
	a.Results = a.Results[:0]
	worst := math.Inf(-1)
	resolution := bonafide.ResolutionSuccess
	for _, m := range sources {
		data, err := w.deps.Blobs.Get(ctx, m.BlobKey)
		if err != nil {
			return fmt.Errorf("reading media %s: %w", m.ID, err)
		}
		res, err := w.deps.Engine.Analyze(ctx, liveness.Input{Name: m.OriginalName, Data: data, Tags: m.Tags})
		if err != nil {
			var me *media.Error
			if errors.As(err, &me) {
				return &mediaError{fmt.Errorf("media %s (%s) could not be analysed: %s: %s", m.ID, m.OriginalName, me.Code, me.Msg)}
			}
			return fmt.Errorf("media %s: %w", m.ID, err)
		}
		r, err := w.result(ctx, a, m, res, params.ExtractBestShot)
		if err != nil {
			return err
		}
		a.Results = append(a.Results, r)
		worst = math.Max(worst, res.ConfidenceSpoofing)
		if res.ResolutionStatus == liveness.StatusDeclined {
			resolution = bonafide.ResolutionDeclined
		}
	}
	a.State, a.Resolution = bonafide.StateFinished, resolution
	if len(sources) == 0 {
		// Oz: "OK without score" when no media suits the analysis.
		a.ResultsData = json.RawMessage(`{"confidence_spoofing":null,"note":"no media with a video_selfie tag or a photo to analyse"}`)
	} else {
		a.ResultsData, _ = json.Marshal(map[string]any{"confidence_spoofing": worst})
	}
	return nil
}

func (w *analysisWorker) result(ctx context.Context, a *bonafide.Analysis, m *bonafide.Media, res *liveness.Result, bestShot bool) (bonafide.MediaResult, error) {
	conf := res.ConfidenceSpoofing
	r := bonafide.MediaResult{MediaID: m.ID, Kind: m.Kind, ConfidenceSpoofing: &conf, Resolution: res.ResolutionStatus}
	if bestShot && res.BestShot != nil && len(res.BestShot.JPEG) > 0 {
		key := fmt.Sprintf("%s/best_shot_%s_%s.jpg", a.FolderID, a.ID, m.ID)
		if err := w.deps.Blobs.Put(ctx, key, res.BestShot.JPEG, "image/jpeg"); err != nil {
			return r, fmt.Errorf("storing the best shot: %w", err)
		}
		r.BestShotKey = key
	}
	r.Details = res.Evidence()
	return r, nil
}

// Params are the per-analysis params we act on.
type Params struct {
	ExtractBestShot bool `json:"extract_best_shot"`
}

// ParseParams reads params with Oz's defaults (extract_best_shot is on by default since 6.0.1).
func ParseParams(raw json.RawMessage) Params {
	p := Params{ExtractBestShot: true}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &p)
	}
	return p
}

// mediaError is a failure of the media itself: retrying will not help.
type mediaError struct{ error }

func (e *mediaError) Unwrap() error { return e.error }

func isMediaError(err error) bool {
	var me *mediaError
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
