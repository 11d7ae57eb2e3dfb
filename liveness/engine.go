package liveness

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"io"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"bonafide"
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
	info    bonafide.EngineInfo
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
	e.info = bonafide.EngineInfo{Version: Version, Calibration: e.fusion.Name, Passive: e.passive.Name}
	for _, n := range onnx.Names {
		m := rt.Model(n)
		if m == nil {
			return nil, fmt.Errorf("liveness: model %q is not loaded", n)
		}
		e.models[n] = m
		e.info.Models = append(e.info.Models, bonafide.ModelInfo{Name: n, File: m.File, SHA256: m.SHA256})
	}
	for _, m := range e.passive.Members {
		e.info.Models = append(e.info.Models, bonafide.ModelInfo{Name: m.Signal, File: m.View.String() + " view", SHA256: m.Model.SHA256})
	}
	e.dec = media.NewDecoder(cfg.Limits)
	e.dec.FFmpeg, e.dec.FFprobe = cfg.FFmpeg, cfg.FFprobe
	return e, nil
}

// Info describes the engine and its models.
func (e *Engine) Info() bonafide.EngineInfo { return e.info }

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

	// Faces are tracked between the frames of a video (track.go): the detector runs on the full
	// frames and where the track is lost. A gesture video keeps the detector on every frame: its
	// challenges read the landmarks frame by frame (a blink is a few frames of eye aspect ratio),
	// and landmarks that follow their own previous output drift by a pixel or two.
	var track *tracker
	if info.Kind == media.Video && !asksGesture(tags) {
		track = &tracker{}
	}

	type job struct {
		img  *image.RGBA // the frame without its letterbox bars
		fr   FrameResult // its located face
		opts frameOpts
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
				fr := j.fr
				crop, err := e.analyzeFace(j.img, &fr, j.opts)
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
	// Frames are located one after the other, as they are decoded (a tracked face needs the
	// previous frame's landmarks); the rest of each frame's models run on the workers.
	n := 0
	ferr := m.Frames(ctx, func(f media.Frame) error {
		opts := frameOpts{
			full:       n%fullStep == 0,
			backup:     fullStep > 1 && n%fullStep == fullStep/2,
			expression: wantSmile,
			embedding:  embedAt[n],
			keepCrop:   true,
		}
		img := withoutBars(f.Image)
		fr := FrameResult{Index: f.Index, Time: f.Time, Name: f.Name, frameW: img.Rect.Dx(), frameH: img.Rect.Dy()}
		if err := e.locate(img, &fr, track, opts.full); err != nil {
			return fmt.Errorf("liveness: %s: %w", in.Name, err)
		}
		select {
		case jobs <- job{img: img, fr: fr, opts: opts}:
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
	if err := e.embedIdentity(results); err != nil {
		return nil, fmt.Errorf("liveness: %s: %w", in.Name, err)
	}

	r := &Result{
		Threshold: e.cfg.Threshold,
		Tags:      tags,
		Frames:    results,
		Engine:    e.info,
		Media: bonafide.MediaInfo{Kind: string(info.Kind), Format: info.Format, Codec: info.Codec,
			Width: info.Width, Height: info.Height, Duration: info.Duration, FPS: info.FPS, Frames: len(results)},
		Reasons:    []bonafide.Reason{},
		Signals:    []bonafide.Signal{},
		Challenges: []bonafide.Challenge{},
	}
	e.decide(r, tags)
	if bestIdx >= 0 && r.BestShot == nil {
		for _, fr := range results {
			if fr.Index == bestIdx {
				r.BestShot = &BestShot{BestShot: bonafide.BestShot{Frame: fr.Index, Time: fr.Time, Box: bonafide.Box(*fr.Box), Quality: fr.Quality.Score}, crop: bestCrop}
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
