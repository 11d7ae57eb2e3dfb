package liveness

import (
	"image"
	"math"

	"golang.org/x/sync/errgroup"

	"bonafide/onnx"
)

// The identity check embeds faces by need (issue 21): the embedding model is the most expensive
// model a video runs on its light frames. Frames are sampled for it as before (EmbeddingFrames,
// evenly spread) and their aligned face crops kept; once every frame is analysed, identityFirst of
// the sampled frames fit for recognition are embedded, evenly spread over the clip, and the rest
// only when those leave the answer open (split similarity below identityClear). A clip of one
// person scores 0 on the identity signal at any similarity from identityHigh up, so embedding the
// rest could not change its score; a swap of person shows on the spread frames too.
const (
	identityFirst = 5
	identityClear = 0.6
)

// identityFit returns the positions in ff of the sampled frames fit to compare faces, in order,
// and how many frames were sampled. An embedding of a blurred face or of a face turned to profile
// looks like another person's (a live clip turning from one profile to the other gave 0.24; a
// hand-held clip's blurred frames 0.27): a frame counts when its landmark yaw is within
// identityMaxYaw and its sharpness at least identityMinSharp of the sampled frames' median (and
// minSharpness).
func identityFit(ff []FrameResult) ([]int, int) {
	var sampled []int
	var sharp []float64
	for i, f := range ff {
		if f.sampled {
			sampled = append(sampled, i)
			if f.Quality != nil {
				sharp = append(sharp, f.Quality.Sharpness)
			}
		}
	}
	floor := float64(minSharpness)
	if len(sharp) > 0 {
		floor = math.Max(floor, identityMinSharp*median(sharp))
	}
	var fit []int
	for _, i := range sampled {
		f := &ff[i]
		if f.YawLandmarks != nil && math.Abs(*f.YawLandmarks) > identityMaxYaw {
			continue
		}
		if f.Quality == nil || f.Quality.Sharpness < floor {
			continue
		}
		fit = append(fit, i)
	}
	return fit, len(sampled)
}

// identityFrames returns the embeddings of the sampled frames fit to compare faces that were
// embedded, in order, how many frames are fit and how many were sampled.
func identityFrames(ff []FrameResult) (embs [][]float32, fit, sampled int) {
	at, sampled := identityFit(ff)
	for _, i := range at {
		if ff[i].embedding != nil {
			embs = append(embs, ff[i].embedding)
		}
	}
	return embs, len(at), sampled
}

// embedIdentity embeds the sampled frames' face crops by need (see identityFirst) and releases
// the crops. frames are the media's frames in order; only located frames are sampled, so their
// fitness is the same as identitySignal finds among the frames with a face.
func (e *Engine) embedIdentity(frames []FrameResult) error {
	defer func() {
		for i := range frames {
			frames[i].featCrop = nil
		}
	}()
	fit, _ := identityFit(frames)
	var first, rest []*FrameResult
	pick := spread(len(fit), identityFirst)
	for k, i := range fit {
		if pick[k] {
			first = append(first, &frames[i])
		} else {
			rest = append(rest, &frames[i])
		}
	}
	if err := e.embedFrames(first); err != nil || len(rest) == 0 {
		return err
	}
	embs := make([][]float32, len(first))
	for k, f := range first {
		embs[k] = f.embedding
	}
	if len(embs) >= 2*identityMinSide && splitSimilarity(embs) >= identityClear {
		return nil
	}
	return e.embedFrames(rest)
}

// embedFrames runs the embedding model on the kept face crops of frames, as many at once as the
// engine has frame workers.
func (e *Engine) embedFrames(frames []*FrameResult) error {
	var g errgroup.Group
	g.SetLimit(e.cfg.Workers)
	for _, f := range frames {
		g.Go(func() (err error) {
			f.embedding, err = e.embed(f.featCrop)
			return err
		})
	}
	return g.Wait()
}

// embed is the unit embedding of an aligned face crop.
func (e *Engine) embed(crop *image.RGBA) ([]float32, error) {
	out, err := e.run(onnx.Feature, func(in []float32) { featureTensor(crop, in) })
	if err != nil {
		return nil, err
	}
	return normalize(out[0]), nil
}
