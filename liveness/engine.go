package liveness

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"bonafide/media"
	"bonafide/onnx"
)

// minSharpness is the Laplacian variance below which a face counts as blurred.
const minSharpness = 40

// eyeOpenIndex is the softmax index of fr_eye.onnx that means "open" (on open eyes of our webcam
// clips it is the larger class for the subject's right eye).
const eyeOpenIndex = 0

// Config tunes the engine. The zero value is not valid: start from DefaultConfig.
type Config struct {
	Threshold         float64      // confidence_spoofing at or above this is DECLINED (Oz: 0.5)
	BiometryThreshold float64      // a face-match confidence at or above this is the same person (Oz: 0.85)
	DeclineMultiple   bool         // several faces of similar size decline the media
	MultipleFaceRatio float64      // second face area / primary area (raw detector boxes) that counts as "similar size"
	MultipleFaceScore float64      // detector score a second face needs to count
	MultipleFaceShare float64      // share of the frames with a face in which a second face must be seen
	Workers           int          // frames analysed in parallel per media
	EmbeddingFrames   int          // frames sampled for the identity check
	FullFrames        int          // at most this many frames, evenly spread, get the passive model and head pose
	Limits            media.Limits // input limits
	FFmpeg, FFprobe   string
	Fusion            *Fusion     // nil: the passive set's calibration (the shipped one: DefaultFusion)
	Passive           *PassiveSet // the passive anti-spoof models; nil: the shipped set (ShippedPassiveSet)
	Now               func() time.Time
}

// DefaultConfig is the documented default configuration.
func DefaultConfig() Config {
	limits := media.DefaultLimits()
	// Every model works on crops of at most 224x224 pixels, so frames larger than 720 pixels on the
	// long side only cost decoding time and memory: a selfie face is still 150-300 pixels wide.
	limits.MaxFrameSide = 720
	return Config{
		Threshold:         0.5,
		BiometryThreshold: DefaultBiometryThreshold,
		DeclineMultiple:   true,
		MultipleFaceRatio: 0.5,
		MultipleFaceScore: 0.9,
		MultipleFaceShare: 0.3,
		Workers:           runtime.NumCPU(),
		EmbeddingFrames:   10,
		FullFrames:        12,
		Limits:            limits,
		FFmpeg:            "ffmpeg",
		FFprobe:           "ffprobe",
		Now:               time.Now,
	}
}

// Engine analyses media. One Engine serves concurrent calls; it holds no per-call state.
type Engine struct {
	cfg     Config
	models  map[string]*onnx.Model
	dec     *media.Decoder
	fusion  *Fusion
	passive *PassiveSet
	info    EngineInfo
	bufs    *buffers
	// inspectPassive, when set (tests only), sees every passive model input before its run.
	inspectPassive func(signal string, in []float32)
}

// New builds an engine over loaded models.
func New(rt *onnx.Runtime, cfgs ...Config) (*Engine, error) {
	cfg := DefaultConfig()
	if len(cfgs) > 0 {
		cfg = cfgs[0]
	}
	if cfg.Threshold <= 0 || cfg.Threshold > 1 {
		return nil, fmt.Errorf("liveness: threshold %v must be in (0, 1]", cfg.Threshold)
	}
	if cfg.BiometryThreshold <= 0 || cfg.BiometryThreshold > 1 {
		return nil, fmt.Errorf("liveness: biometry threshold %v must be in (0, 1]", cfg.BiometryThreshold)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 1
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	e := &Engine{cfg: cfg, models: map[string]*onnx.Model{}, bufs: &buffers{}, passive: cfg.Passive}
	if e.passive == nil {
		set, err := ShippedPassiveSet(rt)
		if err != nil {
			return nil, err
		}
		e.passive = set
	}
	e.fusion = cfg.Fusion
	if e.fusion == nil && e.passive.Fusion != nil {
		e.fusion = e.passive.Fusion
	}
	if e.fusion == nil {
		e.fusion = DefaultFusion()
	}
	if err := e.fusion.validate(); err != nil {
		return nil, err
	}
	e.info = EngineInfo{Version: Version, Calibration: e.fusion.Name, Passive: e.passive.Name}
	for _, n := range onnx.Names {
		m := rt.Model(n)
		if m == nil {
			return nil, fmt.Errorf("liveness: model %q is not loaded", n)
		}
		e.models[n] = m
		e.info.Models = append(e.info.Models, ModelInfo{Name: n, File: m.File, SHA256: m.SHA256})
	}
	for _, m := range e.passive.Members {
		e.info.Models = append(e.info.Models, ModelInfo{Name: m.Signal, File: m.View.String() + " view", SHA256: m.Model.SHA256})
	}
	e.dec = media.NewDecoder(cfg.Limits)
	e.dec.FFmpeg, e.dec.FFprobe = cfg.FFmpeg, cfg.FFprobe
	return e, nil
}

// Info describes the engine and its models.
func (e *Engine) Info() EngineInfo { return e.info }

// Input is one media to analyse: its bytes, or a stream of them.
type Input struct {
	Name string // for messages only
	Data []byte // the file's bytes, when Reader is nil
	// Reader, when not nil, yields the file's bytes (a stored media read from its blob store): a
	// video is copied from it to the decoder's temporary file and never held whole in memory
	// (media.Decoder.OpenReader). The engine reads it once and does not close it.
	Reader io.Reader
	Tags   []string // Oz media tags, e.g. video_selfie_blank
}

// open opens the input's media, from its Reader when it has one.
func (e *Engine) open(ctx context.Context, in Input) (*media.Media, error) {
	if in.Reader != nil {
		return e.dec.OpenReader(ctx, in.Name, in.Reader)
	}
	return e.dec.Open(ctx, in.Name, in.Data)
}

// Analyze decodes the media, runs the models on its frames and fuses the signals. Errors are
// *media.Error for bad input; anything else is an internal failure.
func (e *Engine) Analyze(ctx context.Context, in Input) (*Result, error) {
	start := e.cfg.Now()
	m, err := e.open(ctx, in)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	info := m.Info()
	tags := normalizeTags(in.Tags)
	wantSmile := slices.Contains(tags, "video_selfie_smile")
	expected := max(1, info.Frames)
	// The identity check needs at least four embeddings; a photo or a short shot set gets none.
	embedAt := map[int]bool{}
	if expected >= 4 {
		embedAt = spread(expected, max(4, e.cfg.EmbeddingFrames))
	}
	fullStep := max(1, (expected+e.cfg.FullFrames-1)/max(1, e.cfg.FullFrames))

	type job struct {
		idx   int
		frame media.Frame
	}
	jobs := make(chan job)
	var (
		mu       sync.Mutex
		results  []FrameResult
		bestQ    = -1.0
		bestCrop *image.RGBA
		bestIdx  = -1
		firstErr error
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for range e.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				opts := frameOpts{
					full:       j.idx%fullStep == 0,
					backup:     fullStep > 1 && j.idx%fullStep == fullStep/2,
					expression: wantSmile,
					embedding:  embedAt[j.idx],
					keepCrop:   true,
				}
				fr, crop, err := e.analyzeFrame(j.frame.Image, opts)
				fr.Index, fr.Time, fr.Name = j.frame.Index, j.frame.Time, j.frame.Name
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
					cancel()
				}
				results = append(results, fr)
				if fr.Quality != nil && (fr.Passive != nil || fr.deferred != nil) && crop != nil && fr.Quality.Score > bestQ {
					bestQ, bestCrop, bestIdx = fr.Quality.Score, crop, fr.Index
				}
				mu.Unlock()
			}
		}()
	}
	n := 0
	ferr := m.Frames(ctx, func(f media.Frame) error {
		select {
		case jobs <- job{idx: n, frame: f}:
			n++
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return nil, fmt.Errorf("liveness: %s: %w", in.Name, firstErr)
	}
	if ferr != nil {
		return nil, ferr
	}
	slices.SortFunc(results, func(a, b FrameResult) int { return a.Index - b.Index })
	// The backup frames' passive runs only when decide reads it: when the face is missing from
	// most of the full frames, or from all of them.
	full := len(fullFrames(results))
	useBackup := full < e.cfg.FullFrames/2 || full == 0
	for i := range results {
		if err := e.runDeferred(&results[i], useBackup); err != nil {
			return nil, fmt.Errorf("liveness: %s: %w", in.Name, err)
		}
	}

	r := &Result{
		Threshold: e.cfg.Threshold,
		Tags:      tags,
		Frames:    results,
		Engine:    e.info,
		Media: MediaInfo{Kind: string(info.Kind), Format: info.Format, Codec: info.Codec,
			Width: info.Width, Height: info.Height, Duration: info.Duration, FPS: info.FPS, Frames: len(results)},
		Reasons:    []Reason{},
		Signals:    []Signal{},
		Challenges: []Challenge{},
	}
	e.decide(r, tags)
	if bestIdx >= 0 && r.BestShot == nil {
		for _, fr := range results {
			if fr.Index == bestIdx {
				var buf bytes.Buffer
				if err := jpeg.Encode(&buf, bestCrop, &jpeg.Options{Quality: 90}); err == nil {
					r.BestShot = &BestShot{Frame: fr.Index, Time: fr.Time, Box: *fr.Box, Quality: fr.Quality.Score, JPEG: buf.Bytes()}
				}
			}
		}
	}
	r.Timing.TotalMS = float64(e.cfg.Now().Sub(start).Microseconds()) / 1000
	return r, nil
}

// spread marks n evenly spread indices of 0..total-1 (all of them when n >= total).
func spread(total, n int) map[int]bool {
	out := map[int]bool{}
	if total <= n {
		for i := range total {
			out[i] = true
		}
		return out
	}
	for k := range n {
		out[int(math.Round(float64(k)*float64(total-1)/float64(n-1)))] = true
	}
	return out
}

func normalizeTags(tags []string) []string {
	out := []string{}
	for _, t := range tags {
		for _, p := range strings.Split(t, ",") {
			if p = strings.ToLower(strings.TrimSpace(p)); p != "" && !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}

// decide computes the signals, applies the fusion and the policy, and fills the verdict.
func (e *Engine) decide(r *Result, tags []string) {
	ff := faceFrames(r.Frames)
	add := func(code, msg string, args ...any) {
		r.Reasons = append(r.Reasons, Reason{Code: code, Message: fmt.Sprintf(msg, args...)})
	}
	defer func() {
		if r.ConfidenceSpoofing >= e.cfg.Threshold {
			r.ResolutionStatus = StatusDeclined
		} else {
			r.ResolutionStatus = StatusSuccess
		}
	}()
	if len(ff) == 0 {
		r.ConfidenceSpoofing = 1
		add(ReasonNoFace, "no face was found in any of the %d frames", len(r.Frames))
		r.Challenges = checkChallenges(tags, r.Frames)
		return
	}

	// Passive anti-spoof over frames of good quality. When the face is missing from most of the
	// full frames, the backup frames (half-way between them, passive model only) join in, so the
	// score does not rest on two or three frames that the sampling happened to hit.
	full := fullFrames(r.Frames)
	if len(full) < e.cfg.FullFrames/2 {
		for _, f := range ff {
			if f.Passive != nil && f.Yaw == nil {
				full = append(full, f)
			}
		}
	}
	if len(full) == 0 {
		full = ff
	}
	// Frames of good quality when there are enough of them, otherwise every frame with the model.
	pick := func(minQ float64) (passive, wide, scales []float64) {
		for _, f := range full {
			if f.Passive == nil || f.Quality.Score < minQ {
				continue
			}
			passive = append(passive, *f.Passive)
			scales = append(scales, f.PassiveScale)
			if f.PassiveWide != nil {
				wide = append(wide, *f.PassiveWide)
			}
		}
		return
	}
	passive, wide, scales := pick(0.3)
	if len(passive) < max(1, len(full)/4) {
		passive, wide, scales = pick(-1)
	}
	ctxScale := median(scales)
	sig := map[string]*Signal{}
	for _, m := range e.passive.Members {
		v := passive
		if m.Signal == "passive_wide" {
			v = wide
		}
		if len(v) == 0 {
			// The face was only seen on frames the passive models did not run on: no evidence of life.
			sig[m.Signal] = &Signal{Name: m.Signal, Score: ptr(1), Value: 1,
				Detail: "not measured: no frame with the passive models had a face; counted as an attack"}
			continue
		}
		p := trimmedMean(v)
		sig[m.Signal] = &Signal{Name: m.Signal, Score: ptr(p), Value: p,
			Detail: fmt.Sprintf("trimmed mean of P(attack) of the %s passive model (%s, %gx view of the face box) over %d frames (median room around the face %.2fx)",
				e.passive.Name, m.Model.SHA256[:12], m.View.Scale, len(v), ctxScale)}
	}

	// Challenges.
	r.Challenges = checkChallenges(tags, r.Frames)
	var unmet []string
	var anyChallenge bool
	for _, c := range r.Challenges {
		if c.Action == "nothing" {
			continue
		}
		anyChallenge = true
		if !c.Met {
			unmet = append(unmet, fmt.Sprintf("%s (%s: measured %.2f, needed %.2f)", c.Tag, c.Action, c.Measured, c.Needed))
		}
	}
	if anyChallenge {
		s := 0.0
		if len(unmet) > 0 {
			s = 1
			add(ReasonChallengeNotMet, "the requested gesture was not seen: %s", strings.Join(unmet, "; "))
		}
		sig["challenge"] = &Signal{Name: "challenge", Score: ptr(s), Value: float64(len(unmet)),
			Detail: "1 when a requested gesture was not seen"}
	}

	// Flatness, from the sharpest, largest view of the face.
	ref := 0
	for i, f := range ff {
		if f.Quality.Score > ff[ref].Quality.Score {
			ref = i
		}
	}
	// It counts only when the face stays in view: with the face in and out of the frame, the few
	// frames left (a live clip of the development set had 7 of 25) flip it with the sampling.
	fs := flatness(ff, ref)
	used := fmt.Sprintf("%d of %d frames with a face moved at least %.0f%% of the eye distance (median motion %.2f eye distances), %d of them with an out-of-plane part of at least %.0f%%",
		fs.Moved, len(ff), flatMinMotion*100, fs.Motion, fs.Counted, flatMinOutOfPlane*100)
	if fs.Counted > 0 {
		used += fmt.Sprintf(" (median %.3f eye distances)", fs.OutOfPlane)
	}
	switch {
	case fs.Counted >= flatMinFrames && 2*len(ff) < len(r.Frames):
		sig["flatness"] = &Signal{Name: "flatness", Value: fs.Ratio,
			Detail: fmt.Sprintf("not measured: the face was found in only %d of %d frames (%s)", len(ff), len(r.Frames), used)}
	case fs.Counted >= flatMinFrames:
		s := sigmoid((flatMid - fs.Ratio) / flatSpread)
		sig["flatness"] = &Signal{Name: "flatness", Score: ptr(s), Value: fs.Ratio,
			Detail: fmt.Sprintf("median share of the out-of-plane landmark motion (what a similarity leaves) that the best homography leaves unexplained: %s", used)}
		if s >= 0.5 {
			add(ReasonFlatSurface, "the face moves like a flat picture: one homography explains its out-of-plane landmark motion but for %.0f%%", fs.Ratio*100)
		}
	case len(ff) >= 4 && fs.Moved >= flatMinFrames:
		sig["flatness"] = &Signal{Name: "flatness",
			Detail: fmt.Sprintf("not measured: the face moved with the camera only (%s; a similarity explains the rest, which a photo and a head share)", used)}
	case len(ff) >= 4:
		sig["flatness"] = &Signal{Name: "flatness",
			Detail: fmt.Sprintf("not measured: the face hardly moved (%s)", used)}
	}

	// Identity continuity, on the sampled frames fit for recognition.
	embs, sampled := identityFrames(ff)
	if len(embs) >= identityMinFrames {
		sim := splitSimilarity(embs)
		s := clamp((identityHigh-sim)/(identityHigh-identityLow), 0, 1)
		sig["identity"] = &Signal{Name: "identity", Score: ptr(s), Value: sim,
			Detail: fmt.Sprintf("lowest cosine similarity between the mean %s embeddings before and after any point of the clip (%d of %d sampled frames sharp and within %.0f degrees of frontal, at least %d on each side)",
				onnx.Registry[onnx.Feature].File, len(embs), sampled, identityMaxYaw, identityMinSide)}
		if s >= 0.5 {
			add(ReasonIdentityChanged, "the face does not look like the same person throughout (similarity %.2f)", sim)
		}
	} else if sampled >= identityMinFrames {
		sig["identity"] = &Signal{Name: "identity",
			Detail: fmt.Sprintf("not measured: only %d of %d sampled frames were sharp and within %.0f degrees of frontal (%d needed)", len(embs), sampled, identityMaxYaw, identityMinFrames)}
	}

	for _, name := range signalOrder {
		if s, ok := sig[name]; ok {
			if s.Score != nil {
				s.Weight = e.fusion.Weights[name]
			}
			r.Signals = append(r.Signals, *s)
		}
	}
	// The passive models' own verdict: their evidence alone under the fusion reaches the threshold.
	var own []Signal
	var ps []string
	for _, m := range e.passive.Members {
		own = append(own, *sig[m.Signal])
		ps = append(ps, fmt.Sprintf("%s P = %.4f", m.Signal, *sig[m.Signal].Score))
	}
	if e.fusion.Confidence(own, nil, false) >= e.cfg.Threshold {
		add(ReasonPassiveAttack, "the passive anti-spoof models see an attack (%s)", strings.Join(ps, ", "))
	}

	// Multiple faces: a second face comparable to the primary, clearly a face, in enough frames.
	// People small in the background never count.
	var multi []FrameResult
	for _, f := range ff {
		if f.SecondFace >= e.cfg.MultipleFaceRatio {
			multi = append(multi, f)
		}
	}
	if len(multi) > 0 && float64(len(multi)) >= e.cfg.MultipleFaceShare*float64(len(ff)) {
		big := multi[0]
		for _, f := range multi {
			if f.SecondFace > big.SecondFace {
				big = f
			}
		}
		b := big.SecondBox
		add(ReasonMultipleFaces, "another face of similar size is in %d of the %d frames with a face (largest: %.0f%% of the primary face's area, detector score %.2f, box %.0f,%.0f-%.0f,%.0f in frame %d)",
			len(multi), len(ff), big.SecondFace*100, big.SecondScore, b.X1, b.Y1, b.X2, b.Y2, big.Index)
	}
	r.ConfidenceSpoofing = e.fusion.Confidence(r.Signals, r.Reasons, e.cfg.DeclineMultiple)

	// Quality.
	var ratio, sharp, bright, clip []float64
	var frontal, posed int
	for _, f := range ff {
		if f.Yaw != nil {
			posed++
		}
		ratio = append(ratio, f.Quality.FaceRatio)
		sharp = append(sharp, f.Quality.Sharpness)
		bright = append(bright, f.Quality.Brightness)
		clip = append(clip, f.Quality.Clipped)
		if f.Quality.Frontal {
			frontal++
		}
	}
	if v := median(ratio); v < 0.12 {
		add(ReasonFaceTooSmall, "the face is small: %.0f%% of the frame (at least 12%% wanted)", v*100)
	}
	if v := median(sharp); v < minSharpness {
		add(ReasonBlurred, "the face is blurred (sharpness %.0f, at least %d wanted)", v, minSharpness)
	}
	if v := median(bright); v < 50 {
		add(ReasonTooDark, "the face is too dark (mean brightness %.0f of 255)", v)
	}
	if v, c := median(bright), median(clip); v > 215 || c > 0.25 {
		add(ReasonOverexposed, "the face is overexposed (brightness %.0f, %.0f%% of pixels clipped)", v, c*100)
	}
	if frontal == 0 && posed > 0 {
		add(ReasonNotFrontal, "the face is never seen from the front")
	}
	if len(r.Frames) > 1 && len(ff) < len(r.Frames)/2 {
		add(ReasonFaceLost, "a face was found in only %d of %d frames", len(ff), len(r.Frames))
	}
}

// identityFrames returns the embeddings of the sampled frames fit to compare faces, in order, and
// how many frames were sampled. An embedding of a blurred face or of a face turned to profile looks
// like another person's (a live clip turning from one profile to the other gave 0.24; a hand-held
// clip's blurred frames 0.27): a frame counts when its landmark yaw is within identityMaxYaw and its
// sharpness at least identityMinSharp of the sampled frames' median (and minSharpness).
func identityFrames(ff []FrameResult) ([][]float32, int) {
	var sampled []FrameResult
	var sharp []float64
	for _, f := range ff {
		if f.embedding != nil {
			sampled = append(sampled, f)
			if f.Quality != nil {
				sharp = append(sharp, f.Quality.Sharpness)
			}
		}
	}
	floor := float64(minSharpness)
	if len(sharp) > 0 {
		floor = math.Max(floor, identityMinSharp*median(sharp))
	}
	var embs [][]float32
	for _, f := range sampled {
		if f.YawLandmarks != nil && math.Abs(*f.YawLandmarks) > identityMaxYaw {
			continue
		}
		if f.Quality == nil || f.Quality.Sharpness < floor {
			continue
		}
		embs = append(embs, f.embedding)
	}
	return embs, len(sampled)
}

// splitSimilarity is the lowest similarity between the mean embedding of the frames before a split
// point and of those after it, over every split with at least identityMinSide frames on each side: a swap of
// person shows at the split where it happened, while one frame with a hand over the face, or a
// bad embedding, is averaged away.
func splitSimilarity(embs [][]float32) float64 {
	mean := func(es [][]float32) []float32 {
		m := make([]float32, len(es[0]))
		for _, e := range es {
			for i, v := range e {
				m[i] += v
			}
		}
		return normalize(m)
	}
	lowest := 1.0
	for k := identityMinSide; k <= len(embs)-identityMinSide; k++ {
		lowest = math.Min(lowest, cosine(mean(embs[:k]), mean(embs[k:])))
	}
	return lowest
}

// Identity thresholds on the split similarity of embeddings.
const (
	identityHigh = 0.45 // at or above: same person
	identityLow  = 0.20 // at or below: different people

	identityMinSide   = 2    // frames on each side of a split
	identityMinFrames = 4    // frames fit for recognition for the signal to be measured
	identityMaxYaw    = 30.0 // degrees of landmark yaw from frontal
	identityMinSharp  = 0.5  // share of the sampled frames' median sharpness
)

func ptr(v float64) *float64 { return &v }

func round4(v float64) float64 { return math.Round(v*1e4) / 1e4 }

// AnalyzeFrame runs the per-frame models (detector, landmarks, passive anti-spoof, eye state,
// head pose) on one decoded frame, without the cross-frame signals.
func (e *Engine) AnalyzeFrame(img *image.RGBA) (FrameResult, error) {
	fr, _, err := e.analyzeFrame(img, frameOpts{full: true})
	return fr, err
}

// Fingerprint identifies what decides the signals of a media: the engine version, the models and
// the settings that change which frames are analysed and how. Two engines with the same
// fingerprint measure the same signals for the same bytes and tags, whatever their fusion.
func (e *Engine) Fingerprint() string {
	h := sha256.New()
	fmt.Fprintf(h, "%s|%d|%d|%d|%d|%g|%g|%g", Version, e.cfg.Limits.MaxFrames, e.cfg.Limits.MaxFrameSide,
		e.cfg.FullFrames, e.cfg.EmbeddingFrames, e.cfg.MultipleFaceRatio, e.cfg.MultipleFaceScore, e.cfg.MultipleFaceShare)
	for _, m := range e.info.Models {
		fmt.Fprintf(h, "|%s", m.SHA256)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Config returns the engine's configuration.
func (e *Engine) Config() Config { return e.cfg }

// Fusion returns the fusion in use.
func (e *Engine) Fusion() *Fusion { return e.fusion }
