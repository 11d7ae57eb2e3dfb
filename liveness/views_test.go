package liveness

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"bonafide/internal/assets"
)

// TestTrainingCropIsTheInferenceTensor: the crop `bonafide train` writes for a frame, read back
// from its PNG, gives exactly the tensor the engine feeds each passive model when it analyses that
// frame (same decoding, letterbox removal, detector, box, crop rule and B,G,R order), for a photo
// whose face has room around it and for a tight crop whose view reaches past the frame's edges.
func TestTrainingCropIsTheInferenceTensor(t *testing.T) {
	media := assets.ClmtrackrMedia()
	photo := filepath.Join(media, "franck_02159.jpg")
	tight := filepath.Join(media, "audrey_crop.jpg")
	assets.Require(t, photo, tight)
	e := refEngine(t)
	var mu sync.Mutex
	seen := map[string][]float32{}
	e.inspectPassive = func(signal string, in []float32) {
		mu.Lock()
		seen[signal] = slices.Clone(in)
		mu.Unlock()
	}
	var views []View
	for _, m := range e.passive.Members {
		views = append(views, m.View)
	}
	if len(views) == 0 {
		t.Fatal("the shipped set has no passive model")
	}
	for _, path := range []string{photo, tight} {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		clear(seen)
		r, err := e.Analyze(context.Background(), Input{Name: filepath.Base(path), Data: data})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Frames) != 1 || r.Frames[0].Box == nil {
			t.Fatalf("%s: no face", path)
		}
		var crops []TrainingCrop
		err = e.TrainingCrops(context.Background(), Input{Name: filepath.Base(path), Data: data}, CropOptions{Views: views},
			func(tc TrainingCrop) error { crops = append(crops, tc); return nil })
		if err != nil {
			t.Fatal(err)
		}
		if len(crops) != 1 {
			t.Fatalf("%s: %d training crops, want 1", path, len(crops))
		}
		if crops[0].Box != *r.Frames[0].Box {
			t.Fatalf("%s: training box %+v, inference box %+v", path, crops[0].Box, *r.Frames[0].Box)
		}
		t.Logf("%s: context %.2f", filepath.Base(path), crops[0].Context)
		for k, m := range e.passive.Members {
			var buf bytes.Buffer
			if err := png.Encode(&buf, crops[0].Views[k]); err != nil {
				t.Fatal(err)
			}
			back, err := png.Decode(&buf)
			if err != nil {
				t.Fatal(err)
			}
			rgba, ok := back.(*image.RGBA)
			if !ok {
				nrgba := back.(*image.NRGBA) // an opaque RGB PNG decodes as NRGBA: the same bytes
				rgba = &image.RGBA{Pix: nrgba.Pix, Stride: nrgba.Stride, Rect: nrgba.Rect}
			}
			got := make([]float32, 3*m.View.Size*m.View.Size)
			PassiveTensor(rgba, got)
			want := seen[m.Signal]
			if want == nil {
				t.Fatalf("%s: the engine ran no %s model", path, m.Signal)
			}
			if !slices.Equal(got, want) {
				diff := 0
				for i := range got {
					if got[i] != want[i] {
						diff++
					}
				}
				t.Fatalf("%s %s: the training crop's tensor differs from the inference tensor in %d of %d values", path, m.Signal, diff, len(got))
			}
		}
	}
}
