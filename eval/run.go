package eval

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"

	"bonafide"
	"bonafide/liveness"
	"bonafide/media"
)

// Analyzer is what a run needs of the engine.
type Analyzer interface {
	Analyze(ctx context.Context, in liveness.Input) (*liveness.Result, error)
	Info() bonafide.EngineInfo
	Fingerprint() string
}

// Runner scores every entry of a manifest with the engine.
type Runner struct {
	Engine          Analyzer
	Fusion          *liveness.Fusion // scores the cached signals; the engine's own fusion when nil
	DeclineMultiple bool
	Threshold       float64   // the engine's: where the passive models' own verdict is taken again; the default when 0
	Workers         int       // media analysed at once
	CacheDir        string    // "" disables the cache
	Progress        io.Writer // progress bar; nil for none
	DefaultTags     []string  // tags for entries that have none
}

// cached is what the cache keeps of a result: enough to score it again under any fusion.
type cached struct {
	Signals []bonafide.Signal `json:"signals"`
	Reasons []bonafide.Reason `json:"reasons"`
}

// Stats describe a run.
type Stats struct {
	Cached  int
	Errors  int
	Seconds float64
}

// Run analyses the entries concurrently and returns one Sample per entry, in entry order. A row
// that cannot be analysed gets its Error set; the run goes on.
func (r *Runner) Run(ctx context.Context, entries []Entry) ([]Sample, Stats, error) {
	start := time.Now()
	samples := make([]Sample, len(entries))
	var hits, errs atomic.Int64
	err := ForEach(ctx, len(entries), r.Workers, NewBar(r.Progress, len(entries), "analysing"), func(i int) {
		s, hit := r.one(ctx, entries[i])
		samples[i] = s
		if hit {
			hits.Add(1)
		}
		if s.Error != "" {
			errs.Add(1)
		}
	})
	if err != nil {
		return nil, Stats{}, err
	}
	return samples, Stats{Cached: int(hits.Load()), Errors: int(errs.Load()), Seconds: time.Since(start).Seconds()}, nil
}

// NewBar is the progress bar of n media on w (nil: none).
func NewBar(w io.Writer, n int, desc string) *progressbar.ProgressBar {
	if w == nil {
		return nil
	}
	return progressbar.NewOptions(n,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("media"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
	)
}

// ForEach calls fn(i) for i in [0, n), workers at a time, advancing bar (nil: none) after each;
// it stops handing out work when ctx ends and returns ctx's error then.
func ForEach(ctx context.Context, n, workers int, bar *progressbar.ProgressBar, fn func(i int)) error {
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range max(1, workers) {
		wg.Go(func() {
			for i := range jobs {
				fn(i)
				if bar != nil {
					_ = bar.Add(1)
				}
			}
		})
	}
feed:
	for i := range n {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	return ctx.Err()
}

// one analyses an entry, through the cache.
func (r *Runner) one(ctx context.Context, e Entry) (Sample, bool) {
	s := Sample{Path: e.Path, Label: e.Label, Species: e.Species, Subject: e.Subject, Tags: e.Tags}
	if e.Error != "" {
		s.Error = e.Error
		return s, false
	}
	data, err := os.ReadFile(e.Path)
	if err != nil {
		s.Error = fmt.Sprintf("%s: cannot read: %v", e.Path, UnwrapPath(err))
		return s, false
	}
	sum := sha256.Sum256(data)
	s.SHA256 = hex.EncodeToString(sum[:])
	tags := e.Tags
	if len(tags) == 0 {
		tags = r.DefaultTags
	}
	key := r.cacheKey(s.SHA256, tags)
	c, hit := r.load(key)
	if !hit {
		res, err := r.Engine.Analyze(ctx, liveness.Input{Name: e.Path, Data: data, Tags: tags})
		if err != nil {
			var me *media.Error
			if errors.As(err, &me) {
				s.Error = fmt.Sprintf("%s (%s)", me.Error(), me.Code)
			} else {
				s.Error = fmt.Sprintf("%s: %v", e.Path, err)
			}
			return s, false
		}
		c = cached{Signals: res.Signals, Reasons: res.Reasons}
		r.store(key, c)
	}
	r.score(&s, c)
	return s, hit
}

// score fills the sample's scores from the signals under the runner's fusion.
func (r *Runner) score(s *Sample, c cached) {
	f := r.Fusion
	if f == nil {
		f = liveness.DefaultFusion()
	}
	threshold := r.Threshold
	if threshold == 0 {
		threshold = liveness.DefaultConfig().Threshold
	}
	// The cached reasons were decided under the fusion the engine had; PASSIVE_ATTACK depends on it.
	c.Reasons = f.Rescored(c.Signals, c.Reasons, threshold)
	s.Scores = map[string]float64{FusionScore: f.Confidence(c.Signals, c.Reasons, r.DeclineMultiple)}
	for _, sig := range c.Signals {
		if sig.Score != nil {
			s.Scores[sig.Name] = *sig.Score
		}
	}
	s.Features = liveness.Features(c.Signals)
	for _, reason := range c.Reasons {
		s.Reasons = append(s.Reasons, reason.Code)
		if reason.Code == liveness.ReasonNoFace {
			s.FTA = true
		}
	}
}

// RetakePassive takes a scored sample's PASSIVE_ATTACK verdict again under f at the threshold,
// every other reason as it was. A sample keeps its signals' scores, not the signals, which is all
// the verdict needs: for samples scored under one fusion and reported under another, as `bonafide
// train` does with the fusion it fits after scoring.
func (s *Sample) RetakePassive(f *liveness.Fusion, threshold float64) {
	var signals []bonafide.Signal
	for _, name := range liveness.SignalNames() {
		if v, ok := s.Scores[name]; ok {
			signals = append(signals, bonafide.Signal{Name: name, Score: &v})
		}
	}
	reasons := make([]bonafide.Reason, len(s.Reasons))
	for i, code := range s.Reasons {
		reasons[i] = bonafide.Reason{Code: code}
	}
	s.Reasons = nil
	for _, r := range f.Rescored(signals, reasons, threshold) {
		s.Reasons = append(s.Reasons, r.Code)
	}
}

func (r *Runner) cacheKey(sha string, tags []string) string {
	t := slices.Clone(tags)
	slices.Sort(t)
	h := sha256.Sum256([]byte(sha + "|" + r.Engine.Fingerprint() + "|" + strings.ToLower(strings.Join(t, ","))))
	return hex.EncodeToString(h[:])
}

func (r *Runner) load(key string) (cached, bool) {
	var c cached
	if r.CacheDir == "" {
		return c, false
	}
	data, err := os.ReadFile(filepath.Join(r.CacheDir, key[:2], key+".json"))
	if err != nil || json.Unmarshal(data, &c) != nil {
		return cached{}, false
	}
	return c, true
}

// store writes the entry atomically; a cache that cannot be written only costs time.
func (r *Runner) store(key string, c cached) {
	if r.CacheDir == "" {
		return
	}
	dir := filepath.Join(r.CacheDir, key[:2])
	if os.MkdirAll(dir, 0o755) != nil {
		return
	}
	data, err := json.Marshal(c)
	if err != nil {
		return
	}
	tmp, err := os.CreateTemp(dir, "tmp-*")
	if err != nil {
		return
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if werr != nil || cerr != nil || os.Rename(tmp.Name(), filepath.Join(dir, key+".json")) != nil {
		_ = os.Remove(tmp.Name())
	}
}

// UnwrapPath is err without its *os.PathError wrapping, for a message that names the path already.
func UnwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
