package bonafide

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
)

// Analyzer runs analyses: the one pipeline that the worker (stored analyses) and the Instant API
// both call, so the same media and params give the same result on either path. Implemented by
// package pipeline over the engine.
type Analyzer interface {
	// Run analyses a over the folder's media all, picking the media its type uses (a.SourceMedia
	// when given), and reads each picked media with open, one at a time, closing each when done. It returns the result to store;
	// it does not change a or store anything. An error means the analysis failed: a *MediaError
	// when a media itself could not be analysed (retrying will not help), anything else an
	// internal failure.
	Run(ctx context.Context, a *Analysis, all []*Media, open OpenMedia) (*Outcome, error)
	// Info names the engine and its models, for /api/version.
	Info() EngineInfo
}

// OpenMedia opens one media's bytes as a stream (Blobs.Open for a stored media), so that the
// analysis copies a video to its decoder without holding it whole in memory. The caller closes it.
type OpenMedia func(ctx context.Context, m *Media) (io.ReadCloser, error)

// Outcome is the result of one analysis, ready to store (the worker) or to show (the Instant API).
type Outcome struct {
	State       string          // FINISHED
	Resolution  string          // SUCCESS or DECLINED
	ResultsData json.RawMessage // the analysis-level results_data
	Results     []MediaResult   // one per analysed media, in the order analysed; BestShotKey empty
	// BestShots are the best-shot JPEGs by media id, only when the analysis's params ask for
	// them (extract_best_shot) and the engine found a face. The worker stores them, the Instant
	// API inlines them.
	BestShots map[string][]byte
}

// Apply copies the outcome onto a (state, resolution, results_data, results).
func (o *Outcome) Apply(a *Analysis) {
	a.State, a.Resolution, a.ResultsData = o.State, o.Resolution, o.ResultsData
	a.Results = append([]MediaResult(nil), o.Results...)
	a.Error = ""
}

// MediaError says that a media could not be analysed (a corrupt or unsupported file, a video too
// long, ...): a fault of the input, so retrying will not help. It is the one error type for a bad
// media, from the decoder (package media makes it, Media nil) through the Analyzer (which names
// the stored media) to the worker and the API.
type MediaError struct {
	// Media is the stored media at fault, set by the Analyzer; nil as the decoder reports it; an
	// empty Media when the error is about the analysis's media as a whole.
	Media *Media
	File  string    // the file's name as the decoder was given it; only used in messages
	Code  MediaCode // a stable reason code, e.g. CORRUPT_MEDIA
	Msg   string    // what is wrong with the file, for a person
	// Err is the cause; where the Analyzer names the media, the decoder's own *MediaError, whose
	// text names the file and the cause.
	Err error
}

// MediaCode classifies why a media could not be analysed; the codes are stable (package media
// lists the decoder's, package pipeline those of an analysis as a whole).
type MediaCode string

// Error says what is wrong. As the decoder reports it: "<file>: <msg>: <cause>", leaving out the
// parts that are empty; once the Analyzer names the media: "media <id> (<name>) could not be
// analysed: <code>: <msg>"; about the analysis's media as a whole: "<code>: <msg>".
func (e *MediaError) Error() string {
	switch {
	case e.Media == nil:
		s := e.Msg
		if s == "" {
			s = string(e.Code)
		}
		if e.File != "" {
			s = e.File + ": " + s
		}
		if e.Err != nil {
			s += ": " + e.Err.Error()
		}
		return s
	case e.Media.ID == "":
		return fmt.Sprintf("%s: %s", e.Code, e.Msg)
	}
	return fmt.Sprintf("media %s (%s) could not be analysed: %s: %s", e.Media.ID, e.Media.OriginalName, e.Code, e.Msg)
}

// Unwrap returns the cause.
func (e *MediaError) Unwrap() error { return e.Err }

// AnalysisParams are the per-analysis params Bonafide acts on.
type AnalysisParams struct {
	ExtractBestShot bool `json:"extract_best_shot"`
	// MaxClipSeconds, when above 0, is the longest a video may last (a capture session's time per
	// gesture plus slack): a longer clip fails its gesture (CHALLENGE_NOT_MET, DECLINED), as a
	// recording made before the gestures were known would.
	MaxClipSeconds float64 `json:"max_clip_seconds"`
}

// ParseAnalysisParams reads params with Oz's defaults (extract_best_shot is on by default since
// API 6.0.1). Unknown or mistyped params are ignored, as Oz does.
func ParseAnalysisParams(raw json.RawMessage) AnalysisParams {
	p := AnalysisParams{ExtractBestShot: true}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &p)
	}
	return p
}

// NoMediaNote is the analysis-level note of an analysis that found no media to analyse: Oz's "OK
// without score".
const NoMediaNote = "no media with a video_selfie tag or a photo to analyse"

// Verdict is the analysis-level verdict over its media results: DECLINED when any media was
// declined, else SUCCESS; results_data's confidence_spoofing is the highest of the media's scores
// (null when none has one), and with no media at all a note says so.
func Verdict(results []MediaResult) (resolution string, resultsData json.RawMessage) {
	resolution = ResolutionSuccess
	worst, scored := math.Inf(-1), false
	for _, r := range results {
		if r.ConfidenceSpoofing != nil {
			worst, scored = math.Max(worst, *r.ConfidenceSpoofing), true
		}
		if r.Resolution == ResolutionDeclined {
			resolution = ResolutionDeclined
		}
	}
	var body struct {
		ConfidenceSpoofing *float64 `json:"confidence_spoofing"`
		Note               string   `json:"note,omitempty"`
	}
	if scored {
		body.ConfidenceSpoofing = &worst
	}
	if len(results) == 0 {
		body.Note = NoMediaNote
	}
	data, err := json.Marshal(body)
	if err != nil {
		return resolution, json.RawMessage(`{}`) // only plain values: cannot fail
	}
	return resolution, data
}
