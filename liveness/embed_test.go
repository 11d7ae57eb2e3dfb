package liveness

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"bonafide/internal/assets"
)

// similarityFrom recovers a known rotation, scale and shift from five points, exactly.
func TestAlignSimilarityRecoversTransform(t *testing.T) {
	th, s, tx, ty := 0.3, 1.7, 12.5, -4.0
	var src, dst [5][2]float64
	for i, p := range featureRefPoints {
		src[i] = p
		dst[i] = [2]float64{s*(math.Cos(th)*p[0]-math.Sin(th)*p[1]) + tx, s*(math.Sin(th)*p[0]+math.Cos(th)*p[1]) + ty}
	}
	m, ok := similarityFrom(src[:], dst[:])
	if !ok {
		t.Fatal("no transform")
	}
	want := [6]float64{s * math.Cos(th), -s * math.Sin(th), tx, s * math.Sin(th), s * math.Cos(th), ty}
	for i := range want {
		if math.Abs(m[i]-want[i]) > 1e-9 {
			t.Fatalf("transform %v, want %v", m, want)
		}
	}
	if _, ok := similarityFrom(make([][2]float64, 5), dst[:]); ok {
		t.Error("degenerate points gave a transform")
	}
}

// On a real photo, the five points of the detected landmarks land near the template after the
// warp (a similarity cannot fit five points exactly, but a face is close to the template).
func TestAlignFivePointsOnTemplate(t *testing.T) {
	assets.Require(t, assets.ClmtrackrMedia())
	e := refEngine(t)
	for _, name := range refPhotos {
		img := refLoadRGBA(t, filepath.Join(assets.ClmtrackrMedia(), name))
		fr, _, err := e.analyzeFrame(img, frameOpts{})
		if err != nil || fr.landmarks == nil {
			t.Fatalf("%s: no landmarks (%v)", name, err)
		}
		five := fivePoints(*fr.landmarks)
		m, _ := similarityFrom(five[:], featureRefPoints[:])
		var worst float64
		for i, p := range fivePoints(*fr.landmarks) {
			x, y := m[0]*p[0]+m[1]*p[1]+m[2], m[3]*p[0]+m[4]*p[1]+m[5]
			worst = math.Max(worst, math.Hypot(x-featureRefPoints[i][0], y-featureRefPoints[i][1]))
		}
		t.Logf("%s: worst point %.1f px off the 112x112 template", name, worst)
		if worst > 8 {
			t.Errorf("%s: a point lands %.1f px off the template", name, worst)
		}
	}
}

// Embed gives a unit vector and the frame it used for a face, and no vector (not an error) for a
// picture without one.
func TestEmbedPhotoAndNoFace(t *testing.T) {
	assets.Require(t, assets.ClmtrackrMedia())
	e := refEngine(t)
	data, err := os.ReadFile(filepath.Join(assets.ClmtrackrMedia(), "franck_02159.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	emb, err := e.Embed(context.Background(), Input{Name: "franck_02159.jpg", Data: data})
	if err != nil {
		t.Fatal(err)
	}
	if len(emb.Vector) != 512 || len(emb.Frames) != 1 || emb.FramesSeen != 1 {
		t.Fatalf("embedding: %d-d, %d frames of %d", len(emb.Vector), len(emb.Frames), emb.FramesSeen)
	}
	if s := Similarity(emb, emb); math.Abs(s-1) > 1e-5 {
		t.Errorf("self-similarity %v", s)
	}
	if emb.Frames[0].Box.W() < 100 {
		t.Errorf("box %v", emb.Frames[0].Box)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 320, 240))); err != nil {
		t.Fatal(err)
	}
	none, err := e.Embed(context.Background(), Input{Name: "blank.png", Data: buf.Bytes()})
	if err != nil {
		t.Fatal(err)
	}
	if none.Vector != nil || len(none.Frames) != 0 || none.FramesWithFace != 0 {
		t.Errorf("blank picture: %+v", none)
	}
}
