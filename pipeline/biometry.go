package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"bonafide"
	"bonafide/liveness"
)

// BiometryCode is the reason code of a BIOMETRY analysis that has fewer than two media with a face.
const BiometryCode = "NOT_ENOUGH_FACES"

// biometryMedia is one media's face for the comparison.
type biometryMedia struct {
	MediaID   string                   `json:"media_id"`
	MediaType bonafide.MediaKind       `json:"media_type"`
	Frames    []liveness.EmbeddedFrame `json:"frames"` // the frames embedded (a video: its best ones), with their boxes
}

// biometry compares every pair of the media with a face (oz-api.md 5.5): one result per pair,
// results_data min_confidence (the least similar pair, which decides) and max_confidence. Fewer
// than two media with a face fail the analysis.
func (p *Pipeline) biometry(ctx context.Context, _ *bonafide.Analysis, ms []*bonafide.Media, open bonafide.OpenMedia, _ bonafide.AnalysisParams) (*bonafide.Outcome, error) {
	type face struct {
		m   *bonafide.Media
		emb *liveness.FaceEmbedding
	}
	var faces []face
	var noFace []*bonafide.Media
	for _, m := range ms {
		var emb *liveness.FaceEmbedding
		err := withInput(ctx, open, m, func(in liveness.Input) (err error) {
			emb, err = p.embed(ctx, m, in)
			return err
		})
		if err != nil {
			return nil, err
		}
		if emb.Vector == nil {
			noFace = append(noFace, m)
			continue
		}
		faces = append(faces, face{m, emb})
	}
	if len(faces) < 2 {
		var names []string
		for _, m := range noFace {
			names = append(names, fmt.Sprintf("%s (%s)", m.ID, m.OriginalName))
		}
		msg := fmt.Sprintf("BIOMETRY compares faces and needs at least two photos or videos with a face (photo_id_back is not used): %d media taken, %d with a face", len(ms), len(faces))
		if len(names) > 0 {
			msg += "; no face found in " + strings.Join(names, ", ")
		}
		return nil, &bonafide.MediaError{Media: &bonafide.Media{}, Code: BiometryCode, Msg: msg}
	}
	cal := liveness.DefaultBiometryCalibration()
	threshold := p.engine.Config().BiometryThreshold
	out := &bonafide.Outcome{State: bonafide.StateFinished, Resolution: bonafide.ResolutionSuccess,
		Results: []bonafide.MediaResult{}, BestShots: map[string][]byte{}}
	minC, maxC := math.Inf(1), math.Inf(-1)
	for i, a := range faces {
		for _, b := range faces[i+1:] {
			sim := liveness.Similarity(a.emb, b.emb)
			conf := round6(cal.Confidence(sim))
			res := bonafide.ResolutionSuccess
			if conf < threshold {
				res = bonafide.ResolutionDeclined
				out.Resolution = bonafide.ResolutionDeclined
			}
			minC, maxC = math.Min(minC, conf), math.Max(maxC, conf)
			data, err := json.Marshal(map[string]any{
				"confidence":        conf,
				"cosine_similarity": round6(sim),
				"threshold":         threshold,
				"media": []biometryMedia{
					{MediaID: a.m.ID, MediaType: a.m.Kind, Frames: a.emb.Frames},
					{MediaID: b.m.ID, MediaType: b.m.Kind, Frames: b.emb.Frames},
				},
			})
			if err != nil {
				return nil, err
			}
			out.Results = append(out.Results, bonafide.MediaResult{MediaID: a.m.ID, Kind: a.m.Kind, Resolution: res,
				Details: &bonafide.Evidence{ResultsData: data}})
		}
	}
	noFaceIDs := []string{}
	for _, m := range noFace {
		noFaceIDs = append(noFaceIDs, m.ID)
	}
	data, err := json.Marshal(map[string]any{"min_confidence": minC, "max_confidence": maxC, "threshold": threshold,
		"pairs": len(out.Results), "media_without_face": noFaceIDs,
		"calibration": cal.About, "alignment": liveness.Alignment5})
	if err != nil {
		return nil, err
	}
	out.ResultsData = data
	return out, nil
}

func round6(v float64) float64 { return math.Round(v*1e6) / 1e6 }
