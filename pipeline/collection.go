package pipeline

import (
	"context"
	"encoding/json"
	"fmt"

	"bonafide"
	"bonafide/liveness"
)

// Reason codes of a COLLECTION analysis that cannot run.
const (
	CollectionCode        = "COLLECTION_NOT_FOUND"
	CollectionNoFaceCode  = "NO_FACE"
	CollectionUnavailable = "COLLECTION_NOT_AVAILABLE"
)

var _ bonafide.Embedder = (*Pipeline)(nil)

// EmbedFace is the face embedding of one photo or video (nil: no face), as BIOMETRY computes it.
func (p *Pipeline) EmbedFace(ctx context.Context, m *bonafide.Media, data []byte) ([]float32, error) {
	emb, err := p.embed(ctx, m, input(m, data))
	if err != nil {
		return nil, err
	}
	return emb.Vector, nil
}

// collection searches each face of the media (all but photo_id_back) in the collection
// params.collection_id of the folder's company (oz-api.md §10, §5.5): one result per match (with
// person_id) at or above the threshold (decision_threshold, else the biometry threshold), at most
// decision_count per media, and one result without person_id for a media that matched nobody.
// Blacklist semantics: any match DECLINES, no match is SUCCESS.
func (p *Pipeline) collection(ctx context.Context, a *bonafide.Analysis, ms []*bonafide.Media, open bonafide.OpenMedia, _ bonafide.AnalysisParams) (*bonafide.Outcome, error) {
	fail := func(code bonafide.MediaCode, format string, args ...any) error {
		return &bonafide.MediaError{Media: &bonafide.Media{}, Code: code, Msg: fmt.Sprintf(format, args...)}
	}
	params := bonafide.ParseCollectionParams(a.Params)
	if p.collections == nil {
		return nil, fail(CollectionUnavailable, "COLLECTION searches a stored collection and is not available here (the Instant API)")
	}
	if params.CollectionID == "" {
		return nil, fail(CollectionCode, "COLLECTION needs params.collection_id, the collection to search")
	}
	f, err := p.collections.GetFolder(ctx, a.FolderID)
	if bonafide.CodeOf(err) == bonafide.CodeNotExist {
		return nil, fail(CollectionUnavailable, "COLLECTION searches a stored collection and is not available in the Instant API")
	}
	if err != nil {
		return nil, err
	}
	// Read once for the whole analysis: its version says whether the vectors held are current.
	c, err := p.collections.GetCollection(ctx, params.CollectionID)
	if bonafide.CodeOf(err) == bonafide.CodeNotExist {
		p.index.Forget(params.CollectionID) // deleted: its vectors go too
	}
	if bonafide.CodeOf(err) == bonafide.CodeNotExist || (err == nil && c.CompanyID != f.CompanyID) {
		return nil, fail(CollectionCode, "collection %s does not exist in the folder's company", params.CollectionID)
	}
	if err != nil {
		return nil, err
	}
	threshold := p.engine.Config().BiometryThreshold
	if params.DecisionThreshold != nil {
		threshold = *params.DecisionThreshold
	}
	limit := bonafide.DefaultDecisionCount
	if params.DecisionCount != nil {
		limit = *params.DecisionCount
	}
	cal := liveness.DefaultBiometryCalibration()
	minCos := cal.CosineAt(threshold) - 1e-6

	out := &bonafide.Outcome{State: bonafide.StateFinished, Resolution: bonafide.ResolutionSuccess,
		Results: []bonafide.MediaResult{}, BestShots: map[string][]byte{}}
	noFace, matched, faces := []string{}, []string{}, 0
	for _, m := range ms {
		var vec []float32
		err := withInput(ctx, open, m, func(in liveness.Input) error {
			emb, err := p.embed(ctx, m, in)
			if err == nil {
				vec = emb.Vector
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		if vec == nil {
			noFace = append(noFace, m.ID)
			continue
		}
		faces++
		found, err := p.index.Search(ctx, p.collections, c, vec, minCos, limit)
		if err != nil {
			return nil, err
		}
		for _, hit := range found {
			conf := round6(cal.Confidence(hit.Cosine))
			if conf < threshold {
				continue
			}
			data, err := json.Marshal(map[string]any{"confidence": conf, "cosine_similarity": round6(hit.Cosine),
				"person_id": hit.PersonID, "person_image_id": hit.ImageID, "threshold": threshold})
			if err != nil {
				return nil, err
			}
			out.Results = append(out.Results, bonafide.MediaResult{MediaID: m.ID, Kind: m.Kind, Resolution: bonafide.ResolutionDeclined,
				Details: &bonafide.Evidence{PersonID: hit.PersonID, CollectionID: c.ID, ResultsData: data}})
			out.Resolution = bonafide.ResolutionDeclined
			matched = append(matched, hit.PersonID)
		}
		if len(found) == 0 {
			data, _ := json.Marshal(map[string]any{"matches": 0, "threshold": threshold})
			out.Results = append(out.Results, bonafide.MediaResult{MediaID: m.ID, Kind: m.Kind, Resolution: bonafide.ResolutionSuccess,
				Details: &bonafide.Evidence{ResultsData: data}})
		}
	}
	if faces == 0 {
		return nil, fail(CollectionNoFaceCode, "COLLECTION searches faces and found none in the %d media taken (photo_id_back is not used)", len(ms))
	}
	data, err := json.Marshal(map[string]any{"collection_id": c.ID, "collection": map[string]any{"collection_id": c.ID, "alias": c.Alias},
		"matches": len(matched), "person_ids": matched, "threshold": threshold, "decision_count": limit,
		"media_without_face": noFace, "calibration": cal.About})
	if err != nil {
		return nil, err
	}
	out.ResultsData = data
	return out, nil
}
