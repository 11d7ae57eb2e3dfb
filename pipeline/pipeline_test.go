package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"bonafide"
	"bonafide/internal/assets"
	"bonafide/liveness"
	"bonafide/onnx"
	"bonafide/pipeline"
)

var (
	once sync.Once
	pl   *pipeline.Pipeline
	err0 error
)

// shared returns the pipeline over the real engine and models, shared by the package's tests.
func shared(t *testing.T) *pipeline.Pipeline {
	t.Helper()
	assets.Require(t, assets.LibraryPath(), assets.ModelDir(), assets.ClmtrackrMedia())
	once.Do(func() {
		rt, err := onnx.Open(onnx.Options{LibraryPath: assets.LibraryPath(), ModelDir: assets.ModelDir()})
		if err != nil {
			err0 = err
			return
		}
		e, err := liveness.New(rt, liveness.DefaultConfig())
		if err != nil {
			err0 = err
			return
		}
		pl = pipeline.New(e)
	})
	if err0 != nil {
		t.Fatal(err0)
	}
	return pl
}

// files serves media bytes by media id, each as a stream.
func files(byID map[string][]byte) bonafide.OpenMedia {
	return func(_ context.Context, m *bonafide.Media) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(byID[m.ID])), nil
	}
}

func TestRun(t *testing.T) {
	p := shared(t)
	photo, err := os.ReadFile(filepath.Join(assets.ClmtrackrMedia(), "franck_02159.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	ms := []*bonafide.Media{
		{ID: "doc", Kind: bonafide.KindImage, OriginalName: "doc.jpg", Tags: []string{"photo_id_front"}},
		{ID: "selfie", Kind: bonafide.KindImage, OriginalName: "selfie.jpg", Tags: []string{"photo_selfie"}},
	}
	open := files(map[string][]byte{"doc": photo, "selfie": photo})
	for _, tt := range []struct {
		params string
		shot   bool
	}{{``, true}, {`{"extract_best_shot":true}`, true}, {`{"extract_best_shot":false}`, false}} {
		t.Run("params="+tt.params, func(t *testing.T) {
			a := &bonafide.Analysis{ID: "a", Type: "quality", Params: json.RawMessage(tt.params)}
			out, err := p.Run(context.Background(), a, ms, open)
			if err != nil {
				t.Fatal(err)
			}
			// The photo_id_front photo is not a QUALITY media; the selfie is.
			if out.State != bonafide.StateFinished || len(out.Results) != 1 || out.Results[0].MediaID != "selfie" ||
				out.Results[0].ConfidenceSpoofing == nil || out.Results[0].Details == nil || out.Results[0].Details.LivenessEvidence == nil {
				t.Fatalf("outcome: %+v", out)
			}
			// The per-frame trace the console charts: one frame for a photo, with its face measured.
			d := out.Results[0].Details
			if len(d.Frames) != 1 || d.Frames[0].Face == nil || *d.Frames[0].Face <= 0 || d.Frames[0].Quality == nil || d.Frames[0].Passive == nil {
				t.Fatalf("frames in the details: %+v", d.Frames)
			}
			if d.Engine.Version != liveness.Version || d.Engine.Passive == "" || len(d.Signals) == 0 || d.BestShot == nil || d.Media.Frames != 1 {
				t.Fatalf("details: %+v", *d.LivenessEvidence)
			}
			wantRes, wantData := bonafide.Verdict(out.Results)
			if out.Resolution != wantRes || string(out.ResultsData) != string(wantData) {
				t.Fatalf("verdict %s %s, want %s %s", out.Resolution, out.ResultsData, wantRes, wantData)
			}
			if got := len(out.BestShots["selfie"]) > 0; got != tt.shot || len(out.BestShots) > 1 {
				t.Fatalf("best shots %v, want one for selfie: %v", len(out.BestShots), tt.shot)
			}
			if a.State != "" || a.Results != nil {
				t.Fatalf("Run changed the analysis: %+v", a)
			}
		})
	}
}

func TestRunErrors(t *testing.T) {
	p := shared(t)
	ctx := context.Background()
	m := &bonafide.Media{ID: "m1", Kind: bonafide.KindImage, OriginalName: "broken.jpg"}
	// A JPEG header and nothing else: a fault of the media.
	_, err := p.Run(ctx, &bonafide.Analysis{Type: "QUALITY"}, []*bonafide.Media{m}, files(map[string][]byte{"m1": []byte("\xFF\xD8\xFF\xE0broken")}))
	var me *bonafide.MediaError
	if !errors.As(err, &me) || me.Media != m || me.Code == "" || me.Err == nil {
		t.Fatalf("broken media: %v (%T)", err, err)
	}
	// A storage failure is not the media's fault.
	boom := errors.New("storage down")
	_, err = p.Run(ctx, &bonafide.Analysis{Type: "QUALITY"}, []*bonafide.Media{m}, func(context.Context, *bonafide.Media) (io.ReadCloser, error) { return nil, boom })
	if !errors.Is(err, boom) || errors.As(err, &me) {
		t.Fatalf("read failure: %v", err)
	}
	// A type without an entry in the registry.
	_, err = p.Run(ctx, &bonafide.Analysis{Type: "DOCUMENTS"}, nil, files(nil))
	if bonafide.CodeOf(err) != bonafide.CodeNotRealized {
		t.Fatalf("unknown type: %v", err)
	}
	// COLLECTION without a store (the Instant API) fails as not available, the media's fault.
	_, err = p.Run(ctx, &bonafide.Analysis{Type: "COLLECTION"}, nil, files(nil))
	if !errors.As(err, &me) || me.Code != pipeline.CollectionUnavailable {
		t.Fatalf("collection without a store: %v", err)
	}
	// BIOMETRY without two faces fails as the media's fault (not retried), saying why.
	_, err = p.Run(ctx, &bonafide.Analysis{Type: "BIOMETRY"}, nil, files(nil))
	if !errors.As(err, &me) || me.Code != pipeline.BiometryCode || !strings.Contains(err.Error(), "at least two") {
		t.Fatalf("biometry without media: %v", err)
	}
	if info := p.Info(); info.Version == "" || len(info.Models) == 0 || info.Models[0].SHA256 == "" {
		t.Fatalf("info: %+v", info)
	}
}
