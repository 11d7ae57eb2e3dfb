package liveness

import (
	"image"
	"image/draw"
	"math"
	"path/filepath"
	"testing"

	"bonafide/internal/assets"
	"bonafide/internal/synth"
	"bonafide/internal/testkit"
)

// The sign of yaw decides left from right. We report a turn to the person's own left as positive;
// in an unmirrored camera image the nose then moves to the right of the face's middle. On the real
// photos of the test media whose face is clearly turned: the landmark yaw flips exactly with a
// mirrored image, and the pose model agrees with it in sign on most unmirrored photos (it does not
// always flip with the mirror, which is why the turn checks use the landmarks).
func TestYawSignFollowsTheNose(t *testing.T) {
	assets.Require(t, assets.ModelDir(), assets.LibraryPath(), assets.ClmtrackrMedia())
	e, err := New(testkit.Runtime(t))
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(assets.ClmtrackrMedia(), "*.jpg"))
	var turned, agree int
	for _, f := range files {
		photo, err := synth.ReadPhoto(f)
		if err != nil {
			continue
		}
		img := image.NewRGBA(image.Rect(0, 0, photo.Bounds().Dx(), photo.Bounds().Dy()))
		draw.Draw(img, img.Rect, photo, photo.Bounds().Min, draw.Src)
		fr, _, err := e.analyzeFrame(img, frameOpts{full: true})
		if err != nil {
			t.Fatal(err)
		}
		if fr.YawLandmarks == nil || math.Abs(*fr.YawLandmarks) < 15 {
			continue
		}
		turned++
		if (*fr.Yaw > 0) == (*fr.YawLandmarks > 0) {
			agree++
		}
		mf, _, err := e.analyzeFrame(mirror(img), frameOpts{full: true})
		if err != nil {
			t.Fatal(err)
		}
		if mf.YawLandmarks == nil || *mf.YawLandmarks*(*fr.YawLandmarks) >= 0 || math.Abs(*mf.YawLandmarks+*fr.YawLandmarks) > 8 {
			t.Errorf("%s: landmark yaw %.1f, mirrored %v", filepath.Base(f), *fr.YawLandmarks, deref(mf.YawLandmarks))
		}
	}
	if turned < 5 {
		t.Fatalf("only %d turned faces in the test media", turned)
	}
	if float64(agree) < 0.75*float64(turned) {
		t.Fatalf("the pose model agrees in sign with the landmarks on %d of %d turned faces", agree, turned)
	}
	t.Logf("%d turned faces; the pose model agrees in sign on %d", turned, agree)
}

func mirror(src *image.RGBA) *image.RGBA {
	w, h := src.Rect.Dx(), src.Rect.Dy()
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			copy(dst.Pix[y*dst.Stride+(w-1-x)*4:][:4], src.Pix[y*src.Stride+x*4:][:4])
		}
	}
	return dst
}

func deref(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}
