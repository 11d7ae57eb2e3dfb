package liveness

import (
	"image"
	"math"
	"sync"

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
		if f.sampled || f.embedding != nil {
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
// embedded, in order, and how many frames were sampled.
func identityFrames(ff []FrameResult) ([][]float32, int) {
	fit, sampled := identityFit(ff)
	var embs [][]float32
	for _, i := range fit {
		if ff[i].embedding != nil {
			embs = append(embs, ff[i].embedding)
		}
	}
	return embs, sampled
}

// embedIdentity embeds the sampled frames' face crops by need (see identityFirst) and releases
// the crops. frames are the media's frames in order.
func (e *Engine) embedIdentity(frames []FrameResult) error {
	defer func() {
		for i := range frames {
			frames[i].featCrop = nil
		}
	}()
	var ff []*FrameResult
	var located []FrameResult
	for i := range frames {
		if frames[i].landmarks != nil {
			ff = append(ff, &frames[i])
			located = append(located, frames[i])
		}
	}
	fit, _ := identityFit(located)
	var first, rest []*FrameResult
	pick := spread(len(fit), identityFirst)
	for k, i := range fit {
		if pick[k] {
			first = append(first, ff[i])
		} else {
			rest = append(rest, ff[i])
		}
	}
	if err := e.embedFrames(first); err != nil {
		return err
	}
	if len(rest) == 0 {
		return nil
	}
	var embs [][]float32
	for _, f := range first {
		embs = append(embs, f.embedding)
	}
	if len(embs) >= 2*identityMinSide && splitSimilarity(embs) >= identityClear {
		return nil
	}
	return e.embedFrames(rest)
}

// embedFrames runs the embedding model on the kept face crops of frames, on the engine's workers.
func (e *Engine) embedFrames(frames []*FrameResult) error {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	next := make(chan *FrameResult)
	for range min(e.cfg.Workers, len(frames)) {
		wg.Go(func() {
			for f := range next {
				v, err := e.embed(f.featCrop)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
				f.embedding = v
			}
		})
	}
	for _, f := range frames {
		next <- f
	}
	close(next)
	wg.Wait()
	return firstErr
}

// embed is the unit embedding of an aligned face crop.
func (e *Engine) embed(crop *image.RGBA) ([]float32, error) {
	out, err := e.run(onnx.Feature, func(in []float32) { featureTensor(crop, in) })
	if err != nil {
		return nil, err
	}
	return normalize(out[0]), nil
}
