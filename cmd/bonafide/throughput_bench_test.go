package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"bonafide/internal/testkit"
	"bonafide/liveness"
)

// The throughput benchmarks of issue 13, measured as a new user would: `bonafide serve` on its
// embedded defaults (SQLite, River in the same database, workers in the same process) in its own
// process on loopback, 4 clients each uploading a media, starting a quality analysis and polling
// until it finishes. Each reports, in one run:
//
//   - analyses/min through the API, every one FINISHED;
//   - server-cpu-s/analysis: the server process's CPU (user + system, its waited children included:
//     ffmpeg and ffprobe) per analysis, from /proc/<pid>/stat, and its split go-cpu-s (the Go
//     process) and child-cpu-s (ffmpeg, ffprobe);
//   - decode-cpu-s: one `ffmpeg -threads 1` decoding every frame of the same clip to nothing, and
//     cpu/decode, the ratio of the two (target: at most 2.5);
//   - engine-analyses/min and engine-cpu-s: the same engine in this process, as many analyses at
//     once as the server's workers, and api/engine (target: at least 0.9);
//   - peak-RSS-MiB of the server process (VmHWM; each ffmpeg child has its own, about 70 MiB).
//
// Run them one at a time on a quiet machine, e.g.
//
//	go test -run '^$' -bench 'ServeVideoThroughput' -benchtime 40x ./cmd/bonafide/
//	go test -run '^$' -bench 'ServePhotoThroughput' -benchtime 400x ./cmd/bonafide/
//	go test -run '^$' -bench 'ServePhotoIdle' -benchtime 40x ./cmd/bonafide/
//
// With BONAFIDE_BENCH_PROFILE=<dir> the server writes a CPU profile of the measured load to
// <dir>/server-<benchmark>.prof (go tool pprof -top <test binary> <file>).

const (
	benchClients = 4
	benchPoll    = 100 * time.Millisecond
)

// BenchmarkServeVideoThroughput: b.N 5 s 720p H.264 videos (-benchtime 40x as in the issue).
func BenchmarkServeVideoThroughput(b *testing.B) {
	file := benchFile(b, "video")
	benchThroughput(b, file, decodeCost(b, file))
}

// BenchmarkServePhotoThroughput: b.N 720x576 JPEG selfies (-benchtime 400x).
func BenchmarkServePhotoThroughput(b *testing.B) {
	benchThroughput(b, benchFile(b, "photo"), 0)
}

// BenchmarkServePhotoIdle is the upload-to-result latency of one photo at a time on an idle
// server: upload, start the analysis, poll every 10 ms until it is finished.
func BenchmarkServePhotoIdle(b *testing.B) {
	file := benchFile(b, "photo")
	s := startServer(b, b.TempDir())
	c := newBenchClient(s)
	data, err := os.ReadFile(file)
	if err != nil {
		b.Fatal(err)
	}
	// Warm up: the first analysis pays for lazily built state.
	for range 3 {
		if err := c.uploadAndWait(file, data, 10*time.Millisecond); err != nil {
			b.Fatal(err)
		}
	}
	var lat []float64
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if err := c.uploadAndWait(file, data, 10*time.Millisecond); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0).Seconds())
		time.Sleep(50 * time.Millisecond) // idle between photos
	}
	b.StopTimer()
	reportLatency(b, lat)
}

func reportLatency(b *testing.B, lat []float64) {
	slices.Sort(lat)
	if len(lat) == 0 {
		return
	}
	b.ReportMetric(lat[len(lat)/2]*1000, "p50-ms")
	b.ReportMetric(lat[min(len(lat)-1, (len(lat)*95+99)/100-1)]*1000, "p95-ms")
}

// benchThroughput measures the engine alone, then the server, over the same file, b.N analyses each.
func benchThroughput(b *testing.B, file string, decode float64) {
	data, err := os.ReadFile(file)
	if err != nil {
		b.Fatal(err)
	}
	workers := serverWorkers()
	engineRate, engineCPU := engineCost(b, file, data, workers, b.N)

	var env []string
	prof := ""
	if dir := os.Getenv("BONAFIDE_BENCH_PROFILE"); dir != "" {
		prof = filepath.Join(dir, "server-"+strings.ReplaceAll(b.Name(), "/", "-")+".prof")
		env = append(env, "BONAFIDE_TEST_CPUPROFILE="+prof)
	}
	s := startServer(b, b.TempDir(), env...)
	c := newBenchClient(s)
	for range 2 { // warm up: models, page cache, connections
		if err := c.uploadAndWait(file, data, benchPoll); err != nil {
			b.Fatal(err)
		}
	}
	pid := s.cmd.Process.Pid
	cpu0 := procCPU(b, pid)
	next := make(chan int)
	go func() {
		defer close(next)
		for i := range b.N {
			next <- i
		}
	}()
	var (
		mu   sync.Mutex
		lat  []float64
		errs []error
		wg   sync.WaitGroup
	)
	b.ResetTimer()
	start := time.Now()
	for range benchClients {
		wg.Go(func() {
			for range next {
				t0 := time.Now()
				err := c.uploadAndWait(file, data, benchPoll)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					lat = append(lat, time.Since(t0).Seconds())
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	cpu1 := procCPU(b, pid)
	if prof != "" {
		stopProfile(b, s, prof)
	}
	if len(errs) > 0 {
		b.Fatalf("%d of %d analyses did not finish; the first: %v", len(errs), b.N, errs[0])
	}
	n := float64(b.N)
	rate := n / elapsed.Minutes()
	perAnalysis := (cpu1.total() - cpu0.total()) / n
	b.ReportMetric(rate, "analyses/min")
	reportLatency(b, lat)
	b.ReportMetric(perAnalysis, "server-cpu-s/analysis")
	b.ReportMetric((cpu1.self-cpu0.self)/n, "go-cpu-s")
	b.ReportMetric((cpu1.children-cpu0.children)/n, "child-cpu-s")
	if decode > 0 {
		b.ReportMetric(decode, "decode-cpu-s")
		b.ReportMetric(perAnalysis/decode, "cpu/decode")
	}
	b.ReportMetric(engineRate, "engine-analyses/min")
	b.ReportMetric(engineCPU, "engine-cpu-s")
	b.ReportMetric(rate/engineRate, "api/engine")
	b.ReportMetric(vmHWM(b, pid), "peak-RSS-MiB")
}

// serverWorkers is --analysis-workers on the embedded defaults: the number of cores.
func serverWorkers() int {
	if v, err := strconv.Atoi(os.Getenv("BONAFIDE_ANALYSIS_WORKERS")); err == nil && v > 0 {
		return v
	}
	return runtime.NumCPU() // jobs.Config's default
}

// engineCost runs n analyses of the file with the engine in this process, workers at a time (the
// server's concurrency), and returns analyses per minute and CPU-seconds per analysis (this
// process and its children).
func engineCost(b *testing.B, name string, data []byte, workers, n int) (rate, cpu float64) {
	b.Helper()
	e, err := liveness.New(testkit.Runtime(b))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := e.Analyze(ctx, liveness.Input{Name: filepath.Base(name), Data: data}); err != nil {
		b.Fatal(err)
	}
	next := make(chan int)
	go func() {
		defer close(next)
		for i := range n {
			next <- i
		}
	}()
	c0 := selfCPU()
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range next {
				if _, err := e.Analyze(ctx, liveness.Input{Name: filepath.Base(name), Data: data}); err != nil {
					b.Error(err)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	return float64(n) / elapsed.Minutes(), (selfCPU() - c0) / float64(n)
}

// decodeCost is the CPU-seconds of one `ffmpeg -threads 1` decoding every frame of the clip (the
// least of three runs).
func decodeCost(b *testing.B, file string) float64 {
	b.Helper()
	cpu := -1.0
	for range 3 {
		cmd := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-threads", "1", "-i", file, "-map", "0:v:0", "-f", "null", "-")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("ffmpeg decode: %v: %s", err, out)
		}
		st := cmd.ProcessState
		c := (st.UserTime() + st.SystemTime()).Seconds()
		if cpu < 0 || c < cpu {
			cpu = c
		}
	}
	return cpu
}

// profileUntilSignal, in the server child, writes a CPU profile to path (when not empty) from now
// until the process receives SIGUSR1 (the benchmark sends it at the end of its load).
func profileUntilSignal(path string) {
	if path == "" {
		return
	}
	f, err := os.Create(path)
	if err != nil {
		return
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR1)
	go func() {
		<-sig
		pprof.StopCPUProfile()
		f.Close()
		_ = os.Rename(path, path+".done")
	}()
}

// stopProfile asks the server to finish its profile and waits for the file.
func stopProfile(b *testing.B, s *server, path string) {
	if err := s.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		b.Fatal(err)
	}
	for range 100 {
		if _, err := os.Stat(path + ".done"); err == nil {
			_ = os.Rename(path+".done", path)
			b.Logf("server CPU profile: %s", path)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.Errorf("the server wrote no profile to %s", path)
}

type cpuTimes struct{ self, children float64 }

func (c cpuTimes) total() float64 { return c.self + c.children }

// procCPU reads utime+stime and cutime+cstime of a process, in seconds.
func procCPU(b *testing.B, pid int) cpuTimes {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The command name (field 2) may hold spaces: the fields after it start after the last ')'.
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	tick := func(i int) float64 { v, _ := strconv.ParseFloat(f[i], 64); return v / clockTicks }
	// f[0] is field 3 (state): utime is field 14, stime 15, cutime 16, cstime 17.
	return cpuTimes{self: tick(11) + tick(12), children: tick(13) + tick(14)}
}

// clockTicks is USER_HZ, 100 on every Linux this runs on.
const clockTicks = 100

func selfCPU() float64 {
	var self, ch syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ch)
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(self.Utime) + tv(self.Stime) + tv(ch.Utime) + tv(ch.Stime)
}

// vmHWM is a process's peak resident set size in MiB.
func vmHWM(b *testing.B, pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.Fields(rest)[0], 64)
			return kb / 1024
		}
	}
	return 0
}

// benchClient is a plain API client (keep-alive, no response validation: the end-to-end tests
// check the shapes), so that the client costs the shared cores as little as it can.
type benchClient struct {
	url, token string
	hc         *http.Client
}

func newBenchClient(s *server) *benchClient {
	return &benchClient{url: s.url, token: s.login("admin@example.com", "admin-password"),
		hc: &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 2 * benchClients}}}
}

func (c *benchClient) do(method, path string, body io.Reader, ct string, out any) error {
	req, err := http.NewRequest(method, c.url+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("X-Forensic-Access-Token", c.token)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	return json.Unmarshal(data, out)
}

// uploadAndWait uploads the file as a new folder, starts a quality analysis and polls it every
// poll until it is no longer PROCESSING; anything but FINISHED is an error.
func (c *benchClient) uploadAndWait(file string, data []byte, poll time.Duration) error {
	field, tags := "photo1", `["photo_selfie"]`
	if strings.HasSuffix(file, ".mp4") {
		field, tags = "video1", `["video_selfie","video_selfie_blank"]`
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	w, _ := mw.CreateFormFile(field, filepath.Base(file))
	_, _ = w.Write(data)
	_ = mw.WriteField("payload", fmt.Sprintf(`{"media:tags":{%q:%s}}`, field, tags))
	_ = mw.Close()
	var f folderJSON
	if err := c.do("POST", "/api/folders/", &buf, mw.FormDataContentType(), &f); err != nil {
		return err
	}
	var started []analysisJSON
	if err := c.do("POST", "/api/folders/"+f.FolderID+"/analyses", strings.NewReader(`{"analyses":[{"type":"quality"}]}`), "application/json", &started); err != nil {
		return err
	}
	if len(started) != 1 {
		return fmt.Errorf("started %d analyses", len(started))
	}
	id := started[0].AnalyseID
	for {
		var a analysisJSON
		if err := c.do("GET", "/api/analyses/"+id, nil, "", &a); err != nil {
			return err
		}
		if a.State != "PROCESSING" {
			if a.State != "FINISHED" || len(a.ResultsMedia) != 1 || a.ResultsMedia[0].ResultsData.ConfidenceSpoofing == nil {
				return fmt.Errorf("analysis %s: %s %s", id, a.State, a.Error)
			}
			return nil
		}
		time.Sleep(poll)
	}
}
