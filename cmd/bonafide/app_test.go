package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"bonafide/internal/assets"
)

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestAnalyzeJSONReportsEachFileAndKeepsGoing(t *testing.T) {
	photo := filepath.Join(assets.ClmtrackrMedia(), "franck_02159.jpg")
	assets.Require(t, photo, assets.ModelDir(), assets.LibraryPath())
	dir := t.TempDir()
	bad := filepath.Join(dir, "notes.mp4")
	if err := os.WriteFile(bad, []byte("not a video at all\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.jpg")
	best := filepath.Join(dir, "best")
	code, out, errs := run(t, "analyze", "--json", "--best-shot", best, "--tags", "video_selfie_blank", bad, photo, missing)
	if code != 1 {
		t.Fatalf("exit %d, want 1 (some files failed); stderr: %s", code, errs)
	}
	var res []map[string]any
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("output is not a JSON array: %v\n%s", err, out)
	}
	if len(res) != 3 {
		t.Fatalf("%d results, want 3", len(res))
	}
	if e, ok := res[0]["error"].(map[string]any); !ok || e["code"] != "UNSUPPORTED_FORMAT" || !strings.Contains(e["message"].(string), "notes.mp4") {
		t.Fatalf("bad file: %v", res[0]["error"])
	}
	if e, ok := res[2]["error"].(map[string]any); !ok || e["code"] != "READ_ERROR" || !strings.Contains(e["message"].(string), "missing.jpg") {
		t.Fatalf("missing file: %v", res[2]["error"])
	}
	ok := res[1]
	if ok["resolution_status"] != "SUCCESS" {
		t.Fatalf("photo: %v %v", ok["resolution_status"], ok["reasons"])
	}
	rd := ok["results_data"].(map[string]any)
	if rd["confidence_spoofing"] != ok["confidence_spoofing"] {
		t.Fatalf("results_data %v vs %v", rd, ok["confidence_spoofing"])
	}
	for _, k := range []string{"signals", "frames", "best_shot", "engine", "reasons", "media", "sha256"} {
		if _, present := ok[k]; !present {
			t.Errorf("result lacks %q", k)
		}
	}
	models := ok["engine"].(map[string]any)["models"].([]any)
	if len(models) != 7 || len(models[0].(map[string]any)["sha256"].(string)) != 64 {
		t.Fatalf("engine models: %v", models)
	}
	jpg, err := os.ReadFile(filepath.Join(best, "franck_02159.best.jpg"))
	if err != nil || len(jpg) < 1000 || jpg[0] != 0xFF || jpg[1] != 0xD8 {
		t.Fatalf("best shot JPEG: %v (%d bytes)", err, len(jpg))
	}
	if !strings.Contains(errs, "notes.mp4") || !strings.Contains(errs, "missing.jpg") {
		t.Fatalf("stderr should name the failed files: %s", errs)
	}
}

func TestAnalyzeHumanOutput(t *testing.T) {
	photo := filepath.Join(assets.ClmtrackrMedia(), "franck_02159.jpg")
	assets.Require(t, photo, assets.ModelDir(), assets.LibraryPath())
	code, out, errs := run(t, "analyze", photo)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"SUCCESS", "confidence_spoofing=", "passive", "best shot", "bonafide-engine/", "sha256:"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestUsageAndFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "Commands:"},
		{[]string{"--help"}, 0, "analyze"},
		{[]string{"nope"}, 2, "unknown command"},
		{[]string{"analyze", "--help"}, 0, "-best-shot"},
		{[]string{"analyze"}, 2, "no files given"},
		{[]string{"analyze", "--threshold", "1.5", "x.jpg"}, 1, "--threshold"},
		{[]string{"version", "--help"}, 0, "sha256"},
		{[]string{"version"}, 0, "passive_p2.3.onnx"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, out, errs := run(t, tc.args...)
			if code != tc.code || !strings.Contains(out+errs, tc.want) {
				t.Fatalf("exit %d (want %d), output lacks %q:\n%s%s", code, tc.code, tc.want, out, errs)
			}
		})
	}
}

// Flags win over BONAFIDE_* variables, variables over defaults, and a variable the flag refuses is
// a usage error that names the variable.
func TestEnvironmentVariables(t *testing.T) {
	t.Setenv("BONAFIDE_THRESHOLD", "half")
	code, _, errs := run(t, "analyze", "x.jpg")
	if code != 2 || !strings.Contains(errs, `BONAFIDE_THRESHOLD="half"`) || !strings.Contains(errs, "--threshold") {
		t.Fatalf("bad variable: exit %d: %s", code, errs)
	}
	t.Setenv("BONAFIDE_THRESHOLD", "1.5")
	if code, _, errs = run(t, "analyze", "x.jpg"); code != 1 || !strings.Contains(errs, "--threshold (BONAFIDE_THRESHOLD) must be in (0, 1], got 1.5") {
		t.Fatalf("variable not applied: exit %d: %s", code, errs)
	}
	if code, _, errs = run(t, "analyze", "--threshold", "0.7", "/no/such/file.jpg"); strings.Contains(errs, "must be in (0, 1]") {
		t.Fatalf("the flag must win over the variable: exit %d: %s", code, errs)
	}
}
