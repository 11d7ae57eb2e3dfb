// Package pipeline is the one analysis pipeline: the worker (stored analyses) and the Instant API
// both run an analysis through Pipeline.Run, so the same media and params give the same result on
// either path. It implements bonafide.Analyzer over the liveness engine; the API and the workers
// see only that interface.
//
// Each analysis type is one entry of the registry analyzers: how it runs over the media it uses.
// QUALITY analyses each media and its verdict is bonafide.Verdict; BIOMETRY compares every pair.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"bonafide"
	"bonafide/liveness"
)

var _ bonafide.Analyzer = (*Pipeline)(nil)

// Pipeline runs analyses with one engine. It is safe for concurrent use.
type Pipeline struct {
	engine *liveness.Engine
	types  map[string]analysisType
	// collections is where COLLECTION reads folders and collections (nil: it fails, as in the
	// Instant API); index holds the searched collections' vectors.
	collections bonafide.CollectionSource
	index       FaceIndex
}

// WithCollections lets the pipeline run COLLECTION analyses over the store's collections, keeping
// at most memory bytes of their vectors (0: DefaultFaceIndexBytes).
func (p *Pipeline) WithCollections(src bonafide.CollectionSource, memory int64) *Pipeline {
	p.collections = src
	p.index.MaxBytes = memory
	return p
}

// analysisType is how the pipeline runs one of the domain's analysis types (the registry
// bonafide.AnalysisTypes: its name and which media it takes).
type analysisType struct {
	bonafide.AnalysisType
	run runner
}

// runner runs one analysis over the media its type picked. (A method expression of Pipeline:
// the receiver comes first.)
type runner func(p *Pipeline, ctx context.Context, a *bonafide.Analysis, ms []*bonafide.Media, open bonafide.OpenMedia, params bonafide.AnalysisParams) (*bonafide.Outcome, error)

// analyzers are how each analysis type of the registry bonafide.AnalysisTypes runs, by its name:
// the registry says which types there are, this only how each runs (TestEveryTypeRuns checks that
// every type that runs has a runner here and that nothing else has one).
var analyzers = map[string]runner{
	"QUALITY":    perMedia((*Pipeline).quality),
	"BIOMETRY":   (*Pipeline).biometry,
	"COLLECTION": (*Pipeline).collection,
}

// New builds the pipeline over an engine (not nil).
func New(engine *liveness.Engine) *Pipeline {
	p := &Pipeline{engine: engine, types: map[string]analysisType{}}
	for _, t := range bonafide.AnalysisTypes() {
		if f, ok := analyzers[t.Name]; ok {
			p.types[t.Name] = analysisType{AnalysisType: t, run: f}
		}
	}
	return p
}

// Info names the engine and its models.
func (p *Pipeline) Info() bonafide.EngineInfo { return p.engine.Info() }

// Run analyses a over the folder's media all (see bonafide.Analyzer).
func (p *Pipeline) Run(ctx context.Context, a *bonafide.Analysis, all []*bonafide.Media, open bonafide.OpenMedia) (*bonafide.Outcome, error) {
	t, ok := p.types[strings.ToUpper(a.Type)]
	if !ok {
		return nil, bonafide.UnknownAnalysisType(a.Type)
	}
	return t.run(p, ctx, a, t.Sources(a, all), open, bonafide.ParseAnalysisParams(a.Params))
}

// perMedia runs an analysis whose media are analysed one by one and whose verdict is
// bonafide.Verdict. Media are opened and analysed one at a time, each read as a stream.
func perMedia(analyze func(p *Pipeline, ctx context.Context, m *bonafide.Media, in liveness.Input, params bonafide.AnalysisParams) (bonafide.MediaResult, []byte, error)) runner {
	return func(p *Pipeline, ctx context.Context, _ *bonafide.Analysis, ms []*bonafide.Media, open bonafide.OpenMedia, params bonafide.AnalysisParams) (*bonafide.Outcome, error) {
		out := &bonafide.Outcome{State: bonafide.StateFinished, Results: []bonafide.MediaResult{}, BestShots: map[string][]byte{}}
		for _, m := range ms {
			var r bonafide.MediaResult
			var shot []byte
			err := withInput(ctx, open, m, func(in liveness.Input) (err error) {
				r, shot, err = analyze(p, ctx, m, in, params)
				return err
			})
			if err != nil {
				return nil, err
			}
			out.Results = append(out.Results, r)
			if len(shot) > 0 {
				out.BestShots[m.ID] = shot
			}
		}
		out.Resolution, out.ResultsData = bonafide.Verdict(out.Results)
		return out, nil
	}
}

// input is the engine's input for a media's bytes.
func input(m *bonafide.Media, data []byte) liveness.Input {
	return liveness.Input{Name: m.OriginalName, Data: data, Tags: m.Tags}
}

// withInput opens m with open and calls fn with the engine's input over its stream, closing the
// stream when fn returns.
func withInput(ctx context.Context, open bonafide.OpenMedia, m *bonafide.Media, fn func(liveness.Input) error) error {
	r, err := open(ctx, m)
	if err != nil {
		return fmt.Errorf("reading media %s: %w", m.ID, err)
	}
	defer r.Close()
	return fn(liveness.Input{Name: m.OriginalName, Reader: r, Tags: m.Tags})
}

// mediaError is an engine error on media m as the domain reports it: the file's fault (a
// *bonafide.MediaError from the decoder) is named by the media (its decoder's error kept as the
// cause), anything else stays internal, named by the media.
func mediaError(m *bonafide.Media, err error) error {
	var me *bonafide.MediaError
	if errors.As(err, &me) {
		return &bonafide.MediaError{Media: m, Code: me.Code, Msg: me.Msg, Err: err}
	}
	return fmt.Errorf("media %s: %w", m.ID, err)
}

// embed is the face embedding of a stored media (BIOMETRY, COLLECTION and the persons of a
// collection all embed this way).
func (p *Pipeline) embed(ctx context.Context, m *bonafide.Media, in liveness.Input) (*liveness.FaceEmbedding, error) {
	emb, err := p.engine.Embed(ctx, in)
	if err != nil {
		return nil, mediaError(m, err)
	}
	return emb, nil
}

// quality is liveness with a best shot: the engine's score, verdict and evidence for one media.
func (p *Pipeline) quality(ctx context.Context, m *bonafide.Media, in liveness.Input, params bonafide.AnalysisParams) (bonafide.MediaResult, []byte, error) {
	res, err := p.engine.Analyze(ctx, in)
	if err != nil {
		return bonafide.MediaResult{}, nil, mediaError(m, err)
	}
	if params.MaxClipSeconds > 0 && m.Kind == bonafide.KindVideo {
		overLong(res, params.MaxClipSeconds)
	}
	conf := res.ConfidenceSpoofing
	r := bonafide.MediaResult{MediaID: m.ID, Kind: m.Kind, ConfidenceSpoofing: &conf, Resolution: res.ResolutionStatus,
		Details: res.Evidence()}
	var shot []byte
	if params.ExtractBestShot && res.BestShot != nil {
		// The verdict stands without its picture: a crop that cannot be encoded (it always can, in
		// memory) leaves the media without a best shot, as it did when Analyze encoded it.
		if s, err := res.BestShot.JPEG(); err == nil {
			shot = s
		}
	}
	return r, shot, nil
}

// overLong declines a video that lasts longer than max seconds (the time a capture session gave
// its gesture): the duration is the container's, or the last analysed frame's time when the
// container does not say (a browser's MediaRecorder WebM often does not).
func overLong(res *liveness.Result, max float64) {
	d := res.Media.Duration
	for _, f := range res.Frames {
		d = math.Max(d, f.Time)
	}
	if d <= max {
		return
	}
	res.ResolutionStatus = liveness.StatusDeclined
	res.Reasons = append(res.Reasons, bonafide.Reason{Code: liveness.ReasonChallengeNotMet,
		Message: fmt.Sprintf("the clip lasts %.1f s, longer than the %.1f s allowed for its gesture", d, max)})
}
