package liveness

import (
	"context"
	"fmt"
	"image"
	"math"
	"slices"

	"golang.org/x/image/math/f64"

	"bonafide"
	"bonafide/media"
)

// Face embeddings for biometry (1:1 face match): the face of a media as one unit vector of
// fr_feature.onnx, from the engine's detector and 68 landmarks, aligned on the model's 112x112
// template by the least-squares similarity transform of five points (eye centres, nose tip, mouth
// corners), as the ArcFace family of models is trained; see featureCrop5.

// EmbedFrames is how many frames of a video (or shot set) are embedded: the best ones by detector
// score and face quality. Their unit embeddings are averaged.
const EmbedFrames = 3

// FaceEmbedding is the identity of the face in one media.
type FaceEmbedding struct {
	// Vector is the unit-length mean of the unit embeddings of Frames; nil when no frame had a
	// face that could be aligned.
	Vector         []float32          `json:"-"`
	Frames         []EmbeddedFrame    `json:"frames"`           // the frames embedded, best first
	FramesSeen     int                `json:"frames_seen"`      // frames decoded
	FramesWithFace int                `json:"frames_with_face"` // frames where the detector found a face
	Media          bonafide.MediaInfo `json:"media"`
	Alignment      string             `json:"alignment"`
}

// EmbeddedFrame says which frame of a media was embedded and where its face was.
type EmbeddedFrame struct {
	Index    int     `json:"index"`
	Time     float64 `json:"time"`
	Name     string  `json:"name,omitempty"`
	Box      Box     `json:"box"` // in the frame without letterbox bars, as every engine box
	DetScore float64 `json:"det_score"`
	Quality  float64 `json:"quality"` // the frame's face quality score, 0-1
	Yaw      float64 `json:"yaw"`     // from the landmarks, degrees
}

// Alignment5 names the alignment of Embed.
const Alignment5 = "similarity transform of 5 landmark points (eye centres, nose tip 30, mouth corners 48/54) onto the 112x112 ArcFace template"

// Embed decodes the media and returns the embedding of its primary face: for a photo its one
// frame, for a video or a shot set the mean of its EmbedFrames best frames (detector score times
// face quality, frontal faces first). A media without a face gives an embedding with a nil
// Vector, not an error. Errors are *media.Error for bad input; anything else is internal.
func (e *Engine) Embed(ctx context.Context, in Input) (*FaceEmbedding, error) {
	m, err := e.open(ctx, in)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	info := m.Info()
	out := &FaceEmbedding{Frames: []EmbeddedFrame{}, Alignment: Alignment5,
		Media: bonafide.MediaInfo{Kind: string(info.Kind), Format: info.Format, Codec: info.Codec,
			Width: info.Width, Height: info.Height, Duration: info.Duration, FPS: info.FPS}}

	type cand struct {
		img  *image.RGBA
		lm   Landmarks
		fr   EmbeddedFrame
		rank float64
	}
	var best []cand // the EmbedFrames best so far, best first
	err = m.Frames(ctx, func(f media.Frame) error {
		out.FramesSeen++
		img, fr, ok, err := e.embedFrame(f.Image)
		if err != nil {
			return err
		}
		if fr.Faces > 0 {
			out.FramesWithFace++
		}
		if !ok {
			return nil
		}
		yaw := 0.0
		if fr.YawLandmarks != nil {
			yaw = *fr.YawLandmarks
		}
		// Frontal faces first: the template is frontal, and a face turned by 45 degrees loses a
		// good part of its similarity.
		c := cand{img: img, lm: *fr.landmarks, rank: fr.DetScore * fr.Quality.Score * (1 - clamp(math.Abs(yaw)/60, 0, 0.8)),
			fr: EmbeddedFrame{Index: f.Index, Time: f.Time, Name: f.Name, Box: *fr.Box, DetScore: round4(fr.DetScore),
				Quality: round4(fr.Quality.Score), Yaw: round4(yaw)}}
		i, _ := slices.BinarySearchFunc(best, c.rank, func(x cand, r float64) int {
			switch {
			case x.rank > r:
				return -1
			case x.rank < r:
				return 1
			}
			return 0
		})
		if i < EmbedFrames {
			best = slices.Insert(best, i, c)
			if len(best) > EmbedFrames {
				best = best[:EmbedFrames]
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("liveness: %s: %w", in.Name, err)
	}
	out.Media.Frames = out.FramesSeen
	var vs [][]float32
	for _, c := range best {
		v, ok, err := e.embedOne(c.img, c.lm)
		if err != nil {
			return nil, fmt.Errorf("liveness: %s: %w", in.Name, err)
		}
		if ok {
			vs = append(vs, v)
			out.Frames = append(out.Frames, c.fr)
		}
	}
	out.Vector = meanUnit(vs)
	return out, nil
}

// embedFrame finds the primary face of one frame and ranks it for embedding.
func (e *Engine) embedFrame(img *image.RGBA) (img2 *image.RGBA, fr FrameResult, ok bool, err error) {
	img = withoutBars(img)
	fr, _, err = e.analyzeFrame(img, frameOpts{})
	if err != nil || fr.Box == nil || fr.landmarks == nil {
		return img, fr, false, err
	}
	return img, fr, true, nil
}

// embedOne runs the embedding model on the aligned face.
func (e *Engine) embedOne(img *image.RGBA, lm Landmarks) ([]float32, bool, error) {
	fc, ok := featureCrop5(img, lm)
	if !ok {
		return nil, false, nil
	}
	v, err := e.embed(fc)
	return v, err == nil, err
}

// fivePoints are the five alignment points of the 68 landmarks, in the template's order: the
// centre of the eye on the image's left (points 36-41), of the other eye (42-47), the nose tip
// (30), the mouth corner on the image's left (48) and the other one (54).
func fivePoints(lm Landmarks) [5][2]float64 {
	mean := func(from, to int) [2]float64 {
		var x, y float64
		for i := from; i <= to; i++ {
			x += lm[i][0]
			y += lm[i][1]
		}
		n := float64(to - from + 1)
		return [2]float64{x / n, y / n}
	}
	return [5][2]float64{mean(36, 41), mean(42, 47), lm[30], lm[48], lm[54]}
}

// similarityFrom is the least-squares similarity transform (rotation, uniform scale,
// translation; no reflection or shear) mapping src onto dst (Umeyama 1991, in 2-D), as
// skimage's SimilarityTransform.estimate that ArcFace's alignment uses.
func similarityFrom(src, dst [][2]float64) (f64.Aff3, bool) {
	var smx, smy, dmx, dmy float64
	for i := range src {
		smx += src[i][0]
		smy += src[i][1]
		dmx += dst[i][0]
		dmy += dst[i][1]
	}
	n := float64(len(src))
	smx, smy, dmx, dmy = smx/n, smy/n, dmx/n, dmy/n
	var ss, a, b float64
	for i := range src {
		px, py := src[i][0]-smx, src[i][1]-smy
		qx, qy := dst[i][0]-dmx, dst[i][1]-dmy
		ss += px*px + py*py
		a += px*qx + py*qy
		b += px*qy - py*qx
	}
	if ss < 1e-9 {
		return f64.Aff3{}, false
	}
	a, b = a/ss, b/ss
	tx := dmx - (a*smx - b*smy)
	ty := dmy - (b*smx + a*smy)
	return f64.Aff3{a, -b, tx, b, a, ty}, true
}

// featureCrop5 warps the face onto the embedding model's 112x112 template with the similarity
// transform of the five points.
func featureCrop5(frame *image.RGBA, lm Landmarks) (*image.RGBA, bool) {
	five := fivePoints(lm)
	m, ok := similarityFrom(five[:], featureRefPoints[:])
	if !ok {
		return nil, false
	}
	return warpAffine(frame, m, featSize, featSize), true
}

// Similarity is the cosine similarity of two embeddings (both unit vectors), in [-1, 1]; 0 when
// either has no vector.
func Similarity(a, b *FaceEmbedding) float64 {
	if a == nil || b == nil || len(a.Vector) == 0 || len(a.Vector) != len(b.Vector) {
		return 0
	}
	return cosine(a.Vector, b.Vector)
}

func meanUnit(vs [][]float32) []float32 {
	if len(vs) == 0 {
		return nil
	}
	sum := make([]float32, len(vs[0]))
	for _, v := range vs {
		for i, x := range v {
			sum[i] += x
		}
	}
	return normalize(sum)
}
