package eval

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var reportSignalNames = []string{"passive", "moire", "depth"}

// reportSamples builds a deterministic evaluation set: live scores low, attacks of two species
// higher, a few FTA rows (fail-closed score 1), a few error rows, and some samples lacking a signal.
func reportSamples() []Sample {
	rng := rand.New(rand.NewPCG(7, 11))
	clamp := func(v float64) float64 { return math.Min(1, math.Max(0, v)) }
	var out []Sample
	add := func(i int, label, species string, centre float64) {
		s := Sample{
			Path:    fmt.Sprintf("media/%s/%s_%03d.jpg", label, species, i),
			Label:   label,
			Species: species,
			Subject: fmt.Sprintf("subj%02d", i%17),
			SHA256:  fmt.Sprintf("%064x", i*7919+len(species)),
			Scores:  map[string]float64{},
		}
		s.Scores[FusionScore] = clamp(centre + 0.15*rng.NormFloat64())
		for j, sig := range reportSignalNames {
			if (i+j)%9 == 0 { // signal not measured on this media
				continue
			}
			s.Scores[sig] = clamp(centre + (0.12+0.06*float64(j))*rng.NormFloat64())
		}
		out = append(out, s)
	}
	for i := range 140 {
		add(i, Live, "", 0.22)
	}
	for i := range 70 {
		add(i, Attack, "print", 0.78)
	}
	for i := range 50 {
		add(i, Attack, "replay", 0.62)
	}
	// A path with a tab and a newline, which scores.tsv must flatten.
	out[3].Path = "media/live/odd\tname\nwith breaks.jpg"
	// Failures to acquire keep their fail-closed score of 1.
	for _, i := range []int{5, 150, 200} {
		out[i].FTA = true
		out[i].Scores = map[string]float64{FusionScore: 1}
	}
	// Rows that could not be analysed.
	out = append(out,
		Sample{Path: "media/missing.jpg", Label: Live, Error: "open media/missing.jpg: no such file"},
		Sample{Path: "media/bad.mp4", Label: Attack, Species: "replay", Error: "unreadable media"},
	)
	return out
}

func reportFixture(synthetic bool) *Report {
	samples := reportSamples()
	const threshold = 0.5
	r := &Report{
		Title:       "Bonafide evaluation (test)",
		Created:     time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		Input:       "testdata/manifest.tsv",
		Engine:      "0.9.0-test",
		Calibration: "fusion-test-v1",
		Models:      []string{"detector 0123abcd", "pad 4567ef01"},
		Threshold:   threshold,
		Signals:     reportSignalNames,
		Samples:     samples,
		Errors:      2,
		Seconds:     12.5,
		Cached:      3,
		Synthetic:   synthetic,
	}
	r.Metrics = append(r.Metrics, Compute(samples, FusionScore, threshold))
	for _, sig := range reportSignalNames {
		r.Metrics = append(r.Metrics, Compute(samples, sig, threshold))
	}
	return r
}

func TestReportWrite(t *testing.T) {
	r := reportFixture(true)
	dir := filepath.Join(t.TempDir(), "out", "report")
	if err := WriteReport(dir, r); err != nil {
		t.Fatal(err)
	}
	read := func(name string) []byte {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if len(b) == 0 {
			t.Fatalf("%s is empty", name)
		}
		return b
	}
	for _, name := range []string{MetricsFile, ScoresFile, DETFile, DETSignalsFile, HistFile, MarkdownFile, HTMLFile} {
		read(name)
	}

	for _, name := range []string{DETFile, DETSignalsFile, HistFile} {
		img, err := png.Decode(bytes.NewReader(read(name)))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b := img.Bounds()
		if b.Dx() < 400 || b.Dy() < 300 || b.Dx() > 4000 || b.Dy() > 4000 {
			t.Errorf("%s: size %dx%d", name, b.Dx(), b.Dy())
		}
	}

	page := string(read(HTMLFile))
	if n := strings.Count(page, "data:image/png;base64,"); n != 3 {
		t.Errorf("report.html embeds %d images, want 3", n)
	}
	if strings.Contains(strings.ToLower(page), "http") {
		t.Error("report.html has an external reference")
	}
	for _, want := range []string{"max APCER", "BPCER20", "EER", "FTA", "Wilson", "synthetic media", "0.9.0-test"} {
		if !strings.Contains(page, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}

	md := string(read(MarkdownFile))
	for _, want := range []string{
		"APCER print", "APCER replay", "max APCER", "BPCER", "ACER", "EER", "BPCER20", "BPCER100",
		"APCER at BPCER ≤ 1%", "APCER at BPCER ≤ 5%", "FTA", "Wilson", SyntheticWarning,
		"Signal alone: passive", "Signal alone: depth", "(det.png)", "(det_signals.png)", "(hist.png)",
		"What each metric means", "academic convenience", "fusion-test-v1", "pad 4567ef01",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	// The FTA row of the fusion: 3 of the 260 analysed samples.
	if !strings.Contains(md, "| 3/260 |") {
		t.Error("report.md lacks the FTA counts 3/260")
	}

	var back Report
	if err := json.Unmarshal(read(MetricsFile), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Metrics, r.Metrics) {
		t.Error("metrics.json does not read back to the report's metrics")
	}
	if back.Engine != r.Engine || back.Threshold != r.Threshold || !back.Synthetic || back.Errors != 2 {
		t.Errorf("metrics.json header: %+v", back)
	}

	// scores.tsv alone must reproduce every metric of metrics.json.
	samples, err := ParseScoresTSV(bytes.NewReader(read(ScoresFile)))
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) != len(r.Samples) {
		t.Fatalf("scores.tsv has %d rows, want %d", len(samples), len(r.Samples))
	}
	for _, m := range back.Metrics {
		got := Compute(samples, m.Score, back.Threshold)
		if !reflect.DeepEqual(got, m) {
			t.Errorf("%s: metrics recomputed from scores.tsv differ:\n got %+v\nwant %+v", m.Score, got, m)
		}
	}
	if got := samples[3].Path; strings.ContainsAny(got, "\t\n") || got != "media/live/odd name with breaks.jpg" {
		t.Errorf("flattened path %q", got)
	}
	if s := samples[len(samples)-1]; s.Error != "unreadable media" || s.Species != "replay" || s.Scores != nil {
		t.Errorf("error row read back as %+v", s)
	}
	if !samples[150].FTA || samples[150].Scores[FusionScore] != 1 {
		t.Errorf("FTA row read back as %+v", samples[150])
	}
}

func TestReportNotSynthetic(t *testing.T) {
	r := reportFixture(false)
	dir := t.TempDir()
	if err := WriteReport(dir, r); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, MarkdownFile))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(md), "synthetic media") {
		t.Error("report.md warns about synthetic media on a real set")
	}
}

func TestReportScoresTSVFormat(t *testing.T) {
	notThreeTenths := 0.1
	notThreeTenths += 0.2 // 0.30000000000000004 at run time
	samples := []Sample{
		{Path: "a.jpg", Label: Live, Scores: map[string]float64{FusionScore: 0.25, "moire": 0.1}},
		{Path: "b.jpg", Label: Attack, Species: "print", Scores: map[string]float64{FusionScore: notThreeTenths}},
	}
	var buf bytes.Buffer
	if err := WriteScoresTSV(&buf, samples, []string{"moire", "depth"}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	want := []string{
		"path\tlabel\tspecies\tsubject\tsha256\tfta\terror\treasons\tfusion\tmoire\tdepth",
		"a.jpg\tlive\t\t\t\t0\t\t\t0.250000\t0.100000\t",
		// 0.1+0.2 is not 0.3: six decimals would not read back, so every digit is kept.
		"b.jpg\tattack\tprint\t\t\t0\t\t\t0.30000000000000004\t\t",
	}
	if !reflect.DeepEqual(lines, want) {
		t.Errorf("scores.tsv:\n%q\nwant\n%q", lines, want)
	}
	back, err := ParseScoresTSV(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, samples) {
		t.Errorf("round trip: %+v", back)
	}
	if _, err := ParseScoresTSV(strings.NewReader("path\tlabel\tfusion\nx\tlive\tnot-a-number\n")); err == nil {
		t.Error("a bad score parses")
	}
	if _, err := ParseScoresTSV(strings.NewReader("")); err == nil {
		t.Error("an empty file parses")
	}
}

func TestReportProbitScale(t *testing.T) {
	if v := probitOf(0.5); math.Abs(v) > 1e-12 {
		t.Errorf("probit(0.5) = %v", v)
	}
	if v := probitOf(0.975); math.Abs(v-1.959964) > 1e-6 {
		t.Errorf("probit(0.975) = %v", v)
	}
	var s probitScale
	if a, b := s.Normalize(0.001, 0.5, 0.001), s.Normalize(0.001, 0.5, 0.5); a != 0 || b != 1 {
		t.Errorf("normalised ends %v %v", a, b)
	}
	if v := s.Normalize(detMinRate, 0.5, 0); v != 0 {
		t.Errorf("rate 0 normalises to %v", v)
	}
	var labels []string
	for _, tk := range (probitTicks{}).Ticks(detMinRate, 0.5) {
		if tk.Label != "" {
			labels = append(labels, tk.Label)
		}
	}
	if want := []string{"0.1%", "1%", "2%", "5%", "10%", "20%", "40%"}; !reflect.DeepEqual(labels, want) {
		t.Errorf("tick labels %v, want %v", labels, want)
	}
}

// A run where nothing could be scored still writes every file, with undefined rates as "n/a".
func TestReportEmpty(t *testing.T) {
	samples := []Sample{{Path: "gone.jpg", Label: Live, Error: "missing file"}}
	r := &Report{
		Threshold: 0.5,
		Samples:   samples,
		Metrics:   []Metrics{Compute(samples, FusionScore, 0.5)},
		Errors:    1,
	}
	dir := t.TempDir()
	if err := WriteReport(dir, r); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{MetricsFile, ScoresFile, DETFile, DETSignalsFile, HistFile, MarkdownFile, HTMLFile} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", name, err)
		}
	}
	md, err := os.ReadFile(filepath.Join(dir, MarkdownFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "| **max APCER** | **n/a** | 0/0 | n/a |") {
		t.Errorf("undefined max APCER not shown as n/a:\n%s", md)
	}
	back, err := os.ReadFile(filepath.Join(dir, ScoresFile))
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseScoresTSV(bytes.NewReader(back))
	if err != nil || len(got) != 1 || got[0].Error != "missing file" {
		t.Errorf("scores.tsv read back as %+v, %v", got, err)
	}
}
