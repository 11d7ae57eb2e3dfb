package main

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"bonafide/eval"
	"bonafide/internal/testkit"
	"bonafide/jobs"
	"bonafide/liveness"
	"bonafide/media/sniff"
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
// The idle benchmarks (ServePhotoIdle, ServeVideoIdle) report p50-ms and p95-ms of one analysis
// at a time, upload to result. The measuring code is benchmeasure.go's, which `bonafide bench`
// runs on a user's own machine and media.
//
// Run them one at a time on a quiet machine, e.g.
//
//	go test -run '^$' -bench 'ServeVideoThroughput' -benchtime 40x ./cmd/bonafide/
//	go test -run '^$' -bench 'ServePhotoThroughput' -benchtime 400x ./cmd/bonafide/
//	go test -run '^$' -bench 'ServePhotoIdle' -benchtime 40x ./cmd/bonafide/
//	go test -run '^$' -bench 'ServeVideoIdle' -benchtime 20x ./cmd/bonafide/
//
// With BONAFIDE_BENCH_PROFILE=<dir> the server writes a CPU profile of the measured load to
// <dir>/server-<benchmark>.prof (go tool pprof -top <test binary> <file>).

// BenchmarkServeVideoThroughput: b.N 5 s 720p H.264 videos (-benchtime 40x as in the issue).
func BenchmarkServeVideoThroughput(b *testing.B) {
	file := benchFile(b, "video")
	decode, err := decodeCPU(context.Background(), file)
	if err != nil {
		b.Fatal(err)
	}
	benchThroughput(b, file, decode)
}

// BenchmarkServePhotoThroughput: b.N 720x576 JPEG selfies (-benchtime 400x).
func BenchmarkServePhotoThroughput(b *testing.B) {
	benchThroughput(b, benchFile(b, "photo"), 0)
}

// BenchmarkServePhotoIdle is the upload-to-result latency of one photo at a time on an idle
// server: upload, start the analysis, poll every 10 ms until it is finished (target: p95 < 150 ms).
func BenchmarkServePhotoIdle(b *testing.B) { benchIdle(b, "photo") }

// BenchmarkServeVideoIdle is the same for one 5 s 720p H.264 video at a time (target: p95 < 1 s).
func BenchmarkServeVideoIdle(b *testing.B) { benchIdle(b, "video") }

func benchIdle(b *testing.B, kind string) {
	m := loadBenchMedia(b, benchFile(b, kind))
	s := startServer(b, b.TempDir())
	c := newTestBenchClient(b, s)
	// Warm up: the first analysis pays for lazily built state.
	for range 3 {
		if err := c.uploadAndWait(context.Background(), m, idlePoll); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	lat, err := runIdle(context.Background(), c, m, b.N, idlePoll, idlePause, nil)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	reportLatency(b, lat)
}

func reportLatency(b *testing.B, lat []float64) {
	if len(lat) == 0 {
		return
	}
	p50, p95 := p50p95(lat)
	b.ReportMetric(p50*1000, "p50-ms")
	b.ReportMetric(p95*1000, "p95-ms")
}

// loadBenchMedia reads a bench file.
func loadBenchMedia(b *testing.B, file string) *benchMedia {
	b.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		b.Fatal(err)
	}
	m, err := newBenchMedia(file, sniff.Sniff(data).Kind, data)
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// newTestBenchClient logs in to a test server as its admin.
func newTestBenchClient(b *testing.B, s *server) *benchClient {
	b.Helper()
	c, err := newBenchClient(context.Background(), s.url, "admin@example.com", "admin-password", benchClients)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// benchThroughput measures the engine alone, then the server, over the same file, b.N analyses each.
func benchThroughput(b *testing.B, file string, decode float64) {
	m := loadBenchMedia(b, file)
	workers := serverWorkers()
	engineRate, engineCPU := engineCost(b, file, m.data, workers, b.N)

	var env []string
	prof := ""
	if dir := os.Getenv("BONAFIDE_BENCH_PROFILE"); dir != "" {
		prof = filepath.Join(dir, "server-"+strings.ReplaceAll(b.Name(), "/", "-")+".prof")
		env = append(env, "BONAFIDE_TEST_CPUPROFILE="+prof)
	}
	s := startServer(b, b.TempDir(), env...)
	c := newTestBenchClient(b, s)
	ctx := context.Background()
	for range 2 { // warm up: models, page cache, connections
		if err := c.uploadAndWait(ctx, m, benchPoll); err != nil {
			b.Fatal(err)
		}
	}
	pid := s.pid()
	b.ResetTimer()
	r, err := runLoad(ctx, c, m, b.N, benchClients, benchPoll, pid, nil)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if prof != "" {
		stopProfile(b, s, prof)
	}
	if r.failed > 0 {
		b.Fatalf("%d of %d analyses did not finish; the first: %v", r.failed, b.N, r.firstErr)
	}
	n := float64(b.N)
	rate := r.perMinute()
	perAnalysis := r.cpu.total() / n
	b.ReportMetric(rate, "analyses/min")
	reportLatency(b, r.latencies)
	b.ReportMetric(perAnalysis, "server-cpu-s/analysis")
	b.ReportMetric(r.cpu.self/n, "go-cpu-s")
	b.ReportMetric(r.cpu.children/n, "child-cpu-s")
	if decode > 0 {
		b.ReportMetric(decode, "decode-cpu-s")
		b.ReportMetric(perAnalysis/decode, "cpu/decode")
	}
	b.ReportMetric(engineRate, "engine-analyses/min")
	b.ReportMetric(engineCPU, "engine-cpu-s")
	b.ReportMetric(rate/engineRate, "api/engine")
	peak, err := vmHWM(pid)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(peak, "peak-RSS-MiB")
}

// serverWorkers is --analysis-workers on the embedded defaults: the number of cores.
func serverWorkers() int {
	if v, err := strconv.Atoi(os.Getenv("BONAFIDE_ANALYSIS_WORKERS")); err == nil && v > 0 {
		return v
	}
	return jobs.DefaultAnalysisWorkers()
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
	c0 := selfCPU()
	start := time.Now()
	_ = eval.ForEach(ctx, n, workers, nil, func(int) {
		if _, err := e.Analyze(ctx, liveness.Input{Name: filepath.Base(name), Data: data}); err != nil {
			b.Error(err)
		}
	})
	elapsed := time.Since(start)
	return float64(n) / elapsed.Minutes(), (selfCPU() - c0) / float64(n)
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

func selfCPU() float64 {
	var self, ch syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ch)
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(self.Utime) + tv(self.Stime) + tv(ch.Utime) + tv(ch.Stime)
}
