package liveness

import (
	"image"
	"image/draw"
	"math"
	"path/filepath"
	"testing"

	"bonafide/internal/assets"
)

// iou is the intersection over union of two boxes.
func iou(a, b Box) float64 {
	w := math.Max(0, math.Min(a.X2, b.X2)-math.Max(a.X1, b.X1))
	h := math.Max(0, math.Min(a.Y2, b.Y2)-math.Max(a.Y1, b.Y1))
	return w * h / (a.Area() + b.Area() - w*h)
}

// TestTightCropKeepsTheBox: a tight crop of a face (the picture is the face box itself), or a
// portrait frame with the face at the top, must give the landmark and passive models the face box
// they get on the full photo: the same square box (moved by the crop's offset) and the same
// landmarks, within a few pixels. Padded retries and letterboxing must not change what the models
// see of the face.
func TestTightCropKeepsTheBox(t *testing.T) {
	e := refEngine(t)
	for _, name := range refPhotos {
		path := filepath.Join(assets.ClmtrackrMedia(), name)
		assets.Require(t, path)
		img := refLoadRGBA(t, path)
		full, _, err := e.analyzeFrame(img, frameOpts{})
		if err != nil || full.Box == nil || full.landmarks == nil {
			t.Fatalf("%s: no face on the full photo (%v)", name, err)
		}
		b := *full.Box
		iod := math.Hypot(full.landmarks[45][0]-full.landmarks[36][0], full.landmarks[45][1]-full.landmarks[36][1])
		views := map[string]image.Rectangle{
			// The face box itself, as tight face crops of other datasets are cut.
			"tight crop": image.Rect(int(b.X1), int(b.Y1), int(b.X2), int(b.Y2)).Intersect(img.Rect),
			// Tighter still: forehead, chin and cheeks cut by the picture's edges.
			"cut crop": image.Rect(int(b.X1+b.W()*0.1), int(b.Y1+b.H()*0.1), int(b.X2-b.W()*0.1), int(b.Y2-b.H()*0.1)).Intersect(img.Rect),
			// A 9:16 portrait strip around the face.
			"portrait strip": image.Rect(int(b.X1-b.W()*0.2), 0, int(b.X1-b.W()*0.2+float64(img.Rect.Dy())*9/16), img.Rect.Dy()).Intersect(img.Rect),
		}
		for view, r := range views {
			sub := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
			draw.Draw(sub, sub.Rect, img, r.Min, draw.Src)
			fr, _, err := e.analyzeFrame(sub, frameOpts{})
			if err != nil {
				t.Fatal(err)
			}
			if fr.Box == nil || fr.landmarks == nil {
				t.Errorf("%s %s (%dx%d): no face found", name, view, r.Dx(), r.Dy())
				continue
			}
			dx, dy := float64(r.Min.X), float64(r.Min.Y)
			moved := Box{fr.Box.X1 + dx, fr.Box.Y1 + dy, fr.Box.X2 + dx, fr.Box.Y2 + dy}
			// The inner points (brows, nose, eyes, mouth): the jaw line is cut by the picture's edge.
			var worst float64
			for k := 17; k < 68; k++ {
				worst = math.Max(worst, math.Hypot(fr.landmarks[k][0]+dx-full.landmarks[k][0], fr.landmarks[k][1]+dy-full.landmarks[k][1]))
			}
			t.Logf("%s %s %dx%d: box IoU %.2f with the full photo's, padded retry %v, worst inner landmark %.1f px (eye distance %.0f)",
				name, view, r.Dx(), r.Dy(), iou(moved, b), fr.DetectPadded, worst, iod)
			if iou(moved, b) < 0.65 {
				t.Errorf("%s %s: box %+v against %+v on the full photo (IoU %.2f)", name, view, moved, b, iou(moved, b))
			}
			if worst > 0.25*iod {
				t.Errorf("%s %s: an inner landmark moved %.1f px (eye distance %.0f)", name, view, worst, iod)
			}
		}
	}
}
