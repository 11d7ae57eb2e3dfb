package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"bonafide/internal/assets"
	"bonafide/liveness"
)

// TestBenchCommand runs `bonafide bench` on the pinned photo with small counts: it starts its own
// server (this test binary acting as bonafide, see TestMain), and every figure comes from real
// analyses through the API.
func TestBenchCommand(t *testing.T) {
	photo := pinnedPhoto()
	assets.Require(t, photo, assets.ModelDir(), assets.LibraryPath())
	// The server bench starts is its own executable, this test binary: make it bonafide.
	t.Setenv("BONAFIDE_TEST_MAIN", "1")
	// serve's settings in the environment never reach that server.
	t.Setenv("BONAFIDE_DATABASE_URL", "postgres://must-not-be-used.invalid/x")
	log := filepath.Join(t.TempDir(), "server.log")
	code, out, errs := run(t, "bench", "--count", "4", "--idle", "2", "--json", "--server-log", log, photo)
	if code != 0 {
		t.Fatalf("exit %d:\n%s\nserver log:\n%s", code, errs, tailFile(log, 3000))
	}
	var rep benchReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	m := rep.Machine
	if m.Cores < 1 || m.MemoryGiB <= 0 || m.CPU == "" || m.OS == "" || m.Engine != liveness.Version || m.ONNXRuntime != "1.30.0" {
		t.Errorf("machine: %+v", m)
	}
	if !rep.Server.Started || rep.Server.AnalysisWorkers < 1 || rep.Clients != benchClients || rep.Date.IsZero() {
		t.Errorf("server %+v, clients %d, date %v", rep.Server, rep.Clients, rep.Date)
	}
	if len(rep.Results) != 1 {
		t.Fatalf("%d results, want 1", len(rep.Results))
	}
	r := rep.Results[0]
	if r.File != "franck_02159.jpg" || r.Kind != "photo" || r.Format != "jpeg" || r.Width != 720 || r.Height != 576 {
		t.Errorf("media: %+v", r)
	}
	if r.Error != "" || r.Analyses != 4 || r.Finished != 4 || r.Idle != 2 {
		t.Fatalf("analyses %d, finished %d, idle %d, error %q %q", r.Analyses, r.Finished, r.Idle, r.Error, r.FirstError)
	}
	for name, v := range map[string]float64{"analyses/min": r.PerMinute, "CPU-s": r.CPUS, "Go CPU-s": r.GoCPUS,
		"load p50": r.LoadP50MS, "load p95": r.LoadP95MS, "idle p50": r.IdleP50MS, "idle p95": r.IdleP95MS, "peak RSS": r.PeakRSSMiB} {
		if !(v > 0) {
			t.Errorf("%s = %v, want > 0", name, v)
		}
	}
	// The server cannot have used more CPU than its cores had over the load's wall time.
	if r.CPUS*float64(r.Finished) > r.Seconds*float64(runtime.NumCPU())*1.05 || r.LoadP95MS < r.LoadP50MS || r.IdleP95MS < r.IdleP50MS || r.PeakRSSMiB < 50 {
		t.Errorf("figures do not add up: %+v", r)
	}
	if r.DecodeCPUS != 0 || r.PerDecode != 0 {
		t.Errorf("a photo has no decode cost: %+v", r)
	}
	// The server logged the analyses, and bench stopped it.
	if data, err := os.ReadFile(log); err != nil || !bytes.Contains(data, []byte(`"msg":"analysis finished"`)) {
		t.Errorf("server log %v:\n%s", err, tail(string(data), 2000))
	}
	// The table to paste is the same report.
	var md bytes.Buffer
	rep.markdown(&md)
	for _, want := range []string{"| machine | " + m.CPU, "ONNX Runtime 1.30.0", "| franck_02159.jpg (photo jpeg 720x576, 25 KiB) | 4 of 4 |", "(2) |", " MiB |"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("the table lacks %q:\n%s", want, md.String())
		}
	}
}

// TestBenchAgainstRunningServer: with --url bench measures a server it did not start, logged in
// with the account of the environment; CPU and memory are then not measured.
func TestBenchAgainstRunningServer(t *testing.T) {
	photo := pinnedPhoto()
	assets.Require(t, photo)
	s := startServer(t, t.TempDir())
	t.Setenv("BONAFIDE_BENCH_EMAIL", "admin@example.com")
	t.Setenv("BONAFIDE_BENCH_PASSWORD", "admin-password")
	code, out, errs := run(t, "bench", "--url", s.url, "--count", "2", "--idle", "1", "--quiet", photo)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if errs != "" {
		t.Errorf("--quiet, yet stderr: %s", errs)
	}
	for _, want := range []string{s.url + ", started elsewhere", "the server's engine: " + liveness.Version + " (from its results); the clients: ",
		"| franck_02159.jpg (photo jpeg 720x576, 25 KiB) | 2 of 2 |", "| – | – | – |"} {
		if !strings.Contains(out, want) {
			t.Errorf("the table lacks %q:\n%s", want, out)
		}
	}
	t.Setenv("BONAFIDE_BENCH_PASSWORD", "wrong-password")
	if code, _, errs := run(t, "bench", "--url", s.url, "--quiet", photo); code != 1 || !strings.Contains(errs, "login as admin@example.com") {
		t.Errorf("a wrong password: exit %d, %s", code, errs)
	}
}

// TestBenchUsage: --help, bad flags and files that cannot be measured are refused with a message
// naming the cause, before any server starts.
func TestBenchUsage(t *testing.T) {
	code, _, errs := run(t, "bench", "--help")
	if code != 0 || !strings.Contains(errs, "Usage: bonafide bench [flags] [FILE...]") || !strings.Contains(errs, "-clients") ||
		!strings.Contains(errs, "(env BONAFIDE_ANALYSIS_WORKERS)") {
		t.Fatalf("--help: exit %d\n%s", code, errs)
	}
	if code, out, _ := run(t, "--help"); code != 0 || !strings.Contains(out, "\n  bench ") {
		t.Fatalf("bonafide --help does not list bench: %s", out)
	}
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.mp4")
	big := filepath.Join(dir, "big.jpg")
	if err := os.WriteFile(text, []byte("not a video at all\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(big, append([]byte("\xFF\xD8\xFF"), make([]byte, 2<<20)...), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BONAFIDE_BENCH_EMAIL", "")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"no clients", []string{"--clients", "0"}, 2, []string{"--clients must be between 1 and 64, got 0"}},
		{"too many analyses", []string{"--count", "20000", "--idle", "-1"}, 2, []string{"--count must be between 1 and 10000", "--idle must be between 0 and 1000"}},
		{"a server setting", []string{"--workers", "0"}, 2, []string{"--workers (BONAFIDE_WORKERS) must be at least 1"}},
		{"url without account", []string{"--url", "http://127.0.0.1:9"}, 2, []string{"set BONAFIDE_BENCH_EMAIL and BONAFIDE_BENCH_PASSWORD"}},
		{"flag after a file", []string{"a.jpg", "--json"}, 2, []string{`"--json" is not a file: flags go before the files`}},
		{"unknown flag", []string{"--frobnicate"}, 2, []string{"flag provided but not defined: -frobnicate"}},
		{"files", []string{"--max-file-mb", "1", filepath.Join(dir, "missing.jpg"), text, dir, big}, 1, []string{
			"missing.jpg: cannot read the file: no such file or directory",
			"notes.mp4: the file is a text file, not a video or image",
			dir + ": is a directory, not a file",
			"big.jpg: is 2.0 MiB, over the server's 1 MiB a file (--max-file-mb)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := run(t, append([]string{"bench", "--quiet"}, tc.args...)...)
			if code != tc.code || out != "" {
				t.Errorf("exit %d, want %d; stdout %q", code, tc.code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errs)
				}
			}
		})
	}
}
