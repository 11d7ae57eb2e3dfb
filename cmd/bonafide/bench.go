package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"bonafide/eval"
	"bonafide/internal/assets"
	"bonafide/jobs"
	"bonafide/liveness"
	"bonafide/media"
	"bonafide/media/sniff"
	"bonafide/onnx"
)

// The bounds of a bench run.
const (
	maxBenchClients = 64
	maxBenchCount   = 10000
	maxBenchIdle    = 1000
)

// benchOptions are the flags of `bonafide bench` and what check and run derive from them.
type benchOptions struct {
	clients, count, idle     int
	analysisWorkers, workers int
	maxFileMB                int
	models, ortLib           string
	url, serverLog           string
	timeout                  time.Duration
	json, quiet              bool
	progress                 io.Writer // stderr, or nil with --quiet
	email, password          string    // --url: the account the clients log in as
	serverArgs               []string  // the flags bench starts `serve` with
	limits                   media.Limits
	serverEnvDrop            map[string]bool // the variables of serve's settings, kept from the server
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("bench", benchUsage, stderr)
	var o benchOptions
	fs.IntVar(&o.clients, "clients", benchClients, fmt.Sprintf("clients uploading at once in the throughput phase, 1..%d", maxBenchClients))
	fs.IntVar(&o.count, "count", 0, fmt.Sprintf("analyses of each file in the throughput phase, 1..%d (default 40 for a video or shot set, 100 for a photo)", maxBenchCount))
	fs.IntVar(&o.idle, "idle", 20, fmt.Sprintf("analyses of each file one at a time on the idle server, 0..%d (0: no idle phase)", maxBenchIdle))
	fs.IntVar(&o.analysisWorkers, "analysis-workers", 0, "the server's --analysis-workers: analyses run at once (0: the number of cores)")
	fs.IntVar(&o.workers, "workers", liveness.DefaultConfig().Workers, "the server's --workers: frames of one analysis analysed in parallel")
	fs.IntVar(&o.maxFileMB, "max-file-mb", 15, "the server's --max-file-mb: MiB per file")
	fs.StringVar(&o.models, "models", assets.ModelDir(), "the server's --models: directory of the fr_*.onnx models")
	fs.StringVar(&o.ortLib, "ort-lib", assets.LibraryPath(), "the server's --ort-lib: path of libonnxruntime.so.1")
	fs.StringVar(&o.url, "url", "", "measure the server already running at this URL instead of starting one, logged in as BONAFIDE_BENCH_EMAIL with BONAFIDE_BENCH_PASSWORD; its CPU and memory are then not measured, and the analysed folders stay on it")
	fs.StringVar(&o.serverLog, "server-log", "", "write the log of the server bench starts to this file (default: its end is shown when it fails)")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Minute, "stop the whole run after this long")
	fs.BoolVar(&o.json, "json", false, "print the machine and the figures as JSON instead of the markdown table")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress on stderr")
	fs.bind("analysis-workers", "workers", "max-file-mb", "models", "ort-lib")
	if code, done := parse(fs, args); done {
		return code
	}
	if err := o.check(fs.Args()); err != nil {
		fmt.Fprintf(stderr, "bonafide bench: %v\n", err)
		return 2
	}
	if !o.quiet {
		o.progress = stderr
	}
	ctx, cancel := context.WithTimeoutCause(ctx, o.timeout, fmt.Errorf("stopped after --timeout %s", o.timeout))
	defer cancel()
	tmp, err := os.MkdirTemp("", "bonafide-bench-")
	if err != nil {
		fmt.Fprintf(stderr, "bonafide bench: %v\n", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	rep, err := o.run(ctx, fs.Args(), tmp)
	if err != nil {
		fmt.Fprintf(stderr, "bonafide bench: %v\n", err)
		return 1
	}
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintf(stderr, "bonafide bench: %v\n", err)
			return 1
		}
	} else {
		rep.markdown(stdout)
	}
	code := 0
	for _, r := range rep.Results {
		if r.Error != "" {
			fmt.Fprintf(stderr, "bonafide bench: %s: %s\n", r.File, r.Error)
			code = 1
		} else if r.Finished < r.Analyses {
			fmt.Fprintf(stderr, "bonafide bench: %s: %d of %d analyses did not finish; the first: %s\n", r.File, r.Analyses-r.Finished, r.Analyses, r.FirstError)
			code = 1
		}
	}
	return code
}

// check validates the flags and works out the server's settings: the flags bench starts `serve`
// with are parsed and checked as serve would, before any file is read.
func (o *benchOptions) check(files []string) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if o.clients < 1 || o.clients > maxBenchClients {
		bad("--clients must be between 1 and %d, got %d", maxBenchClients, o.clients)
	}
	if o.count < 0 || o.count > maxBenchCount {
		bad("--count must be between 1 and %d (0: the default of each kind), got %d", maxBenchCount, o.count)
	}
	if o.idle < 0 || o.idle > maxBenchIdle {
		bad("--idle must be between 0 and %d, got %d", maxBenchIdle, o.idle)
	}
	if o.timeout <= 0 {
		bad("--timeout must be positive, got %s", o.timeout)
	}
	if o.url != "" {
		o.email, o.password = os.Getenv("BONAFIDE_BENCH_EMAIL"), os.Getenv("BONAFIDE_BENCH_PASSWORD")
		if o.email == "" || o.password == "" {
			bad("--url needs the account to log in as: set BONAFIDE_BENCH_EMAIL and BONAFIDE_BENCH_PASSWORD")
		}
		if o.serverLog != "" {
			bad("--server-log is the log of a server bench starts; with --url it starts none")
		}
	}
	for _, f := range files {
		if f == "" || strings.HasPrefix(f, "-") {
			bad("%q is not a file: flags go before the files", f)
		}
	}
	// The server: serve's own flag set over the flags bench passes, checked as serve checks them.
	o.serverArgs = []string{"--addr", "127.0.0.1:0", "--analysis-workers", strconv.Itoa(o.analysisWorkers),
		"--workers", strconv.Itoa(o.workers), "--max-file-mb", strconv.Itoa(o.maxFileMB), "--models", o.models, "--ort-lib", o.ortLib}
	var sf Config
	var ef engineFlags
	sfs := serveFlags(&sf, &ef, io.Discard)
	if err := sfs.Parse(o.serverArgs); err != nil {
		bad("%v", err)
	}
	sf.resolve()
	if err := errors.Join(sf.validate(), ef.validate()); err != nil {
		errs = append(errs, err)
	}
	ef.limits = sf.mediaLimits
	o.limits = ef.mediaLimits()
	o.serverEnvDrop = map[string]bool{"BONAFIDE_ADMIN_EMAIL": true, "BONAFIDE_ADMIN_PASSWORD": true}
	for _, env := range sfs.env {
		o.serverEnvDrop[env] = true
	}
	return errors.Join(errs...)
}

// benchReport is what `bonafide bench` prints: the machine, the server, a row per file.
type benchReport struct {
	Date    time.Time    `json:"date"`
	Machine benchMachine `json:"machine"`
	Server  struct {
		URL             string `json:"url,omitempty"`     // --url: a server bench did not start
		Started         bool   `json:"started"`           // bench started `serve` on its embedded defaults
		AnalysisWorkers int    `json:"analysis_workers"`  // 0 with --url (unknown)
		Workers         int    `json:"workers,omitempty"` // frames of one analysis in parallel
	} `json:"server"`
	Clients    int        `json:"clients"`
	PollMS     float64    `json:"poll_ms"`
	IdlePollMS float64    `json:"idle_poll_ms"`
	Results    []benchRow `json:"results"`
}

// benchRow is one file's figures. CPU and memory are zero (left out) when not measured.
type benchRow struct {
	File       string  `json:"file"`
	Kind       string  `json:"kind"` // photo, video, shot_set
	Format     string  `json:"format,omitempty"`
	Codec      string  `json:"codec,omitempty"`
	Width      int     `json:"width,omitempty"`
	Height     int     `json:"height,omitempty"`
	DurationS  float64 `json:"duration_s,omitempty"`
	Bytes      int     `json:"bytes"`
	Error      string  `json:"error,omitempty"` // the file was not measured
	Analyses   int     `json:"analyses"`        // of the throughput phase
	Finished   int     `json:"finished"`
	FirstError string  `json:"first_error,omitempty"`
	Seconds    float64 `json:"seconds"`
	Engine     string  `json:"engine,omitempty"` // the engine that analysed it, as the server's results say
	PerMinute  float64 `json:"analyses_per_min"`
	CPUS       float64 `json:"cpu_s_per_analysis,omitempty"`
	GoCPUS     float64 `json:"go_cpu_s_per_analysis,omitempty"`
	ChildCPUS  float64 `json:"child_cpu_s_per_analysis,omitempty"`
	DecodeCPUS float64 `json:"decode_cpu_s,omitempty"`
	PerDecode  float64 `json:"cpu_per_decode,omitempty"`
	LoadP50MS  float64 `json:"load_p50_ms"`
	LoadP95MS  float64 `json:"load_p95_ms"`
	Idle       int     `json:"idle_analyses"`
	IdleP50MS  float64 `json:"idle_p50_ms,omitempty"`
	IdleP95MS  float64 `json:"idle_p95_ms,omitempty"`
	PeakRSSMiB float64 `json:"peak_rss_mib,omitempty"`
}

// benchInput is a file to measure: its path and what the bench uploads.
type benchInput struct {
	path  string
	media *benchMedia
	row   benchRow
}

// run measures every file (the pinned bench media when there are none) on a server it starts, or
// the one at --url.
func (o *benchOptions) run(ctx context.Context, paths []string, tmp string) (*benchReport, error) {
	rep := &benchReport{Date: time.Now().UTC(), Clients: o.clients,
		PollMS: float64(benchPoll) / 1e6, IdlePollMS: float64(idlePoll) / 1e6}
	rep.Machine = describeMachine(o.ortLib)
	if len(paths) == 0 {
		o.say("no files given: the pinned bench media (a 5 s 720p H.264 video made from the pinned webcam clip, a 720x576 JPEG)")
		video, err := makePinnedVideo(ctx, tmp)
		if err != nil {
			return nil, err
		}
		paths = []string{video, pinnedPhoto()}
	}
	files, err := o.openFiles(ctx, paths)
	if err != nil {
		return nil, err
	}
	url, email, password, pid := o.url, o.email, o.password, 0
	if url == "" {
		srv, e, p, err := o.startServer(tmp)
		if err != nil {
			return nil, err
		}
		email, password = e, p
		defer func() {
			if err := srv.stop(30 * time.Second); err != nil {
				o.say("stopping the server: %v", err)
			}
		}()
		url, pid = srv.url, srv.pid()
		if _, err := procCPU(pid); err != nil {
			// Not Linux, or /proc hidden: measure what the clients see.
			o.say("the server's CPU and memory cannot be read, so they are not measured: %v", err)
			pid = 0
		}
		rep.Server.Started = true
		rep.Server.AnalysisWorkers = o.analysisWorkers
		if rep.Server.AnalysisWorkers == 0 {
			rep.Server.AnalysisWorkers = jobs.DefaultAnalysisWorkers()
		}
		rep.Server.Workers = o.workers
	} else {
		rep.Server.URL = url
	}
	c, err := newBenchClient(ctx, url, email, password, o.clients)
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		o.measure(ctx, c, f, pid)
		rep.Results = append(rep.Results, f.row)
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
	}
	rep.Machine.LoadEnd = loadAverage()
	return rep, nil
}

// say writes a progress line on stderr (nothing with --quiet).
func (o *benchOptions) say(format string, args ...any) {
	if o.progress != nil {
		fmt.Fprintf(o.progress, "bonafide bench: "+format+"\n", args...)
	}
}

// openFiles reads every file and checks it as the server will (its kind told by its bytes, its
// size, a video's streams and length) before anything is measured: every file that cannot be
// measured is named in the error, with its cause.
func (o *benchOptions) openFiles(ctx context.Context, paths []string) ([]*benchInput, error) {
	dec := media.NewDecoder(o.limits)
	var files []*benchInput
	var errs []error
	for _, p := range paths {
		f, err := o.openFile(ctx, dec, p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		files = append(files, f)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return files, nil
}

func (o *benchOptions) openFile(ctx context.Context, dec *media.Decoder, path string) (*benchInput, error) {
	st, err := os.Stat(path)
	switch {
	case err != nil:
	case st.IsDir():
		return nil, fmt.Errorf("%s: is a directory, not a file", path)
	case st.Size() > o.limits.MaxFileBytes:
		return nil, fmt.Errorf("%s: is %.1f MiB, over the server's %d MiB a file (--max-file-mb)", path, float64(st.Size())/(1<<20), o.maxFileMB)
	}
	var data []byte
	if err == nil {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: cannot read the file: %w", path, eval.UnwrapPath(err))
	}
	m, err := dec.Open(ctx, path, data)
	if err != nil {
		return nil, err // a media error names the file and what it is
	}
	info := m.Info()
	_ = m.Close()
	bm, err := newBenchMedia(path, info.Kind, data)
	if err != nil {
		return nil, err
	}
	kind := string(info.Kind)
	if info.Kind == sniff.Image {
		kind = "photo"
	}
	return &benchInput{path: path, media: bm, row: benchRow{File: filepath.Base(path), Kind: kind, Format: info.Format,
		Codec: info.Codec, Width: info.Width, Height: info.Height, DurationS: info.Duration, Bytes: len(data)}}, nil
}

// startServer starts `bonafide serve` (this executable) on its embedded defaults with its data in
// tmp, on a free loopback port, with none of serve's settings taken from the environment: only
// the flags bench passes, and a fresh ADMIN account for the clients.
func (o *benchOptions) startServer(tmp string) (srv *childServer, email, password string, err error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, "", "", fmt.Errorf("finding this program to start its server: %w", err)
	}
	email = "bench@example.com"
	password, _ = randomPassword()
	var env []string
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); !o.serverEnvDrop[name] {
			env = append(env, kv)
		}
	}
	env = append(env, "BONAFIDE_ADMIN_EMAIL="+email, "BONAFIDE_ADMIN_PASSWORD="+password)
	logPath := o.serverLog
	if logPath == "" {
		logPath = filepath.Join(tmp, "server.log")
	}
	log, err := os.Create(logPath)
	if err != nil {
		return nil, "", "", fmt.Errorf("the server log: %w", err)
	}
	defer log.Close() // the server has its own descriptor once started
	args := append([]string{"serve", "--data-dir", filepath.Join(tmp, "data")}, o.serverArgs...)
	cmd := exec.Command(exe, args...)
	cmd.Env, cmd.Stderr = env, log
	o.say("starting the server: %s %s", filepath.Base(exe), strings.Join(args, " "))
	srv, err = startChild(cmd, 2*time.Minute)
	if err != nil {
		return nil, "", "", fmt.Errorf("%w; the end of its log:\n%s", err, tailFile(logPath, 4000))
	}
	return srv, email, password, nil
}

// measure runs one file's phases on the server: the single-thread decode of a video, two analyses
// to warm up (and to check that the server analyses the file), the throughput phase, the idle
// phase; the server's peak memory is taken over them. pid is the server's process (0: not here).
func (o *benchOptions) measure(ctx context.Context, c *benchClient, f *benchInput, pid int) {
	r := &f.row
	m := f.media
	if pid > 0 {
		_ = resetHWM(pid) // when the kernel cannot, the peak is the server's since its start
	}
	if m.kind == sniff.Video {
		o.say("%s: one ffmpeg -threads 1 decoding it, three times", r.File)
		d, err := decodeCPU(ctx, f.path)
		if err != nil {
			r.Error = err.Error()
			return
		}
		r.DecodeCPUS = d
	}
	o.say("%s: two analyses to warm up", r.File)
	for range 2 {
		a, err := c.analyze(ctx, m, benchPoll)
		if err != nil {
			r.Error = fmt.Sprintf("the server did not analyse it: %v", err)
			return
		}
		r.Engine = a.ResultsMedia[0].Engine.Version
	}
	n := o.count
	if n == 0 {
		n = 100
		if m.kind != sniff.Image {
			n = 40
		}
	}
	load, err := runLoad(ctx, c, m, n, o.clients, benchPoll, pid, eval.NewBar(o.progress, n, r.File+" under load"))
	if err != nil {
		r.Error = err.Error()
		return
	}
	r.Analyses, r.Finished, r.Seconds = n, load.finished(), load.seconds
	if load.firstErr != nil {
		r.FirstError = load.firstErr.Error()
	}
	r.PerMinute = load.perMinute()
	p50, p95 := p50p95(load.latencies)
	r.LoadP50MS, r.LoadP95MS = p50*1000, p95*1000
	if done := float64(load.finished()); pid > 0 && done > 0 {
		r.CPUS, r.GoCPUS, r.ChildCPUS = load.cpu.total()/done, load.cpu.self/done, load.cpu.children/done
		if r.DecodeCPUS > 0 {
			r.PerDecode = r.CPUS / r.DecodeCPUS
		}
	}
	if o.idle > 0 {
		lat, err := runIdle(ctx, c, m, o.idle, idlePoll, idlePause, eval.NewBar(o.progress, o.idle, r.File+" one at a time"))
		if err != nil {
			r.Error = fmt.Sprintf("idle phase: %v", err)
			return
		}
		r.Idle = o.idle
		p50, p95 := p50p95(lat)
		r.IdleP50MS, r.IdleP95MS = p50*1000, p95*1000
	}
	if pid > 0 {
		if peak, err := vmHWM(pid); err == nil {
			r.PeakRSSMiB = peak
		}
	}
}

// benchMachine describes the machine the bench ran on.
type benchMachine struct {
	CPU         string  `json:"cpu"`
	Cores       int     `json:"cores"`
	MemoryGiB   float64 `json:"memory_gib"`
	OS          string  `json:"os"`
	Kernel      string  `json:"kernel"`
	Go          string  `json:"go"`
	Engine      string  `json:"engine"`
	Commit      string  `json:"commit,omitempty"`
	ONNXRuntime string  `json:"onnx_runtime"`
	LoadStart   float64 `json:"load_average_start"` // the 1-minute load average
	LoadEnd     float64 `json:"load_average_end"`
}

// describeMachine reads the CPU model, the memory and the OS from /proc and /etc/os-release, and
// the version of the ONNX Runtime library at ortLib.
func describeMachine(ortLib string) benchMachine {
	m := benchMachine{CPU: runtime.GOARCH, Cores: runtime.NumCPU(), OS: runtime.GOOS, Go: runtime.Version(),
		Engine: liveness.Version, LoadStart: loadAverage()}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if v := firstField(string(data), "model name", ":"); v != "" {
			m.CPU = v
		}
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		if kb, err := strconv.ParseFloat(strings.TrimSuffix(firstField(string(data), "MemTotal", ":"), " kB"), 64); err == nil {
			m.MemoryGiB = kb / (1 << 20)
		}
	}
	if data, err := os.ReadFile("/etc/os-release"); err == nil {
		if v := strings.Trim(firstField(string(data), "PRETTY_NAME", "="), `"`); v != "" {
			m.OS = v
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(data))
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		var rev, dirty string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value[:min(len(s.Value), 12)]
			case "vcs.modified":
				if s.Value == "true" {
					dirty = " (modified)"
				}
			}
		}
		if rev != "" {
			m.Commit = rev + dirty
		}
	}
	if v, err := onnx.LibraryVersion(ortLib); err == nil {
		m.ONNXRuntime = v
	} else {
		m.ONNXRuntime = "unknown: " + err.Error()
	}
	return m
}

// firstField is the value of the first line "key<sep>value" of text (keys and values trimmed).
func firstField(text, key, sep string) string {
	for line := range strings.SplitSeq(text, "\n") {
		if k, v, ok := strings.Cut(line, sep); ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// loadAverage is the 1-minute load average (0 when unknown).
func loadAverage() float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// tailFile is the last n bytes of a file, or what went wrong reading it.
func tailFile(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	return tail(string(data), n)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// markdown writes the report as a markdown table to paste into a capacity plan.
func (r *benchReport) markdown(w io.Writer) {
	m := r.Machine
	fmt.Fprintf(w, "## bonafide bench, %s\n\n", r.Date.Format("2006-01-02 15:04 MST"))
	fmt.Fprintln(w, "| | |\n|---|---|")
	fmt.Fprintf(w, "| machine | %s, %d cores, %.1f GiB memory |\n", m.CPU, m.Cores, m.MemoryGiB)
	fmt.Fprintf(w, "| system | %s, Linux %s |\n", m.OS, m.Kernel)
	software := fmt.Sprintf("%s, %s, ONNX Runtime %s", m.Engine, m.Go, m.ONNXRuntime)
	if m.Commit != "" {
		software = fmt.Sprintf("%s (commit %s), %s, ONNX Runtime %s", m.Engine, m.Commit, m.Go, m.ONNXRuntime)
	}
	if !r.Server.Started {
		// The server is elsewhere: this machine's versions are the clients'; the server's engine is
		// the one its results name.
		engines := []string{}
		for _, x := range r.Results {
			if x.Engine != "" && !slices.Contains(engines, x.Engine) {
				engines = append(engines, x.Engine)
			}
		}
		software = fmt.Sprintf("the server's engine: %s (from its results); the clients: %s", strings.Join(engines, ", "), software)
	}
	fmt.Fprintf(w, "| software | %s |\n", software)
	fmt.Fprintf(w, "| load average (1 min) | %.2f at the start, %.2f at the end: other work on the machine moves the wall-clock figures more than the CPU-seconds |\n", m.LoadStart, m.LoadEnd)
	if r.Server.Started {
		fmt.Fprintf(w, "| server | `bonafide serve` started by bench on loopback with its embedded defaults (SQLite, River, media files in a temporary directory): %d analysis workers, %d frame workers each |\n",
			r.Server.AnalysisWorkers, r.Server.Workers)
	} else {
		fmt.Fprintf(w, "| server | %s, started elsewhere: its CPU and memory are not measured (the machine above runs the clients) |\n", r.Server.URL)
	}
	fmt.Fprintf(w, "| clients | under load %d at once, each uploading, starting a quality analysis and polling every %g ms until it finishes; idle: one at a time, polling every %g ms |\n\n",
		r.Clients, r.PollMS, r.IdlePollMS)
	fmt.Fprintln(w, "| media | analyses finished | analyses/min | server CPU-s per analysis (Go + ffmpeg) | 1-thread decode CPU-s | CPU / decode | under load p50 / p95 | idle p50 / p95 | peak RSS |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, x := range r.Results {
		fmt.Fprintf(w, "| %s |", x.describe())
		if x.Error != "" && x.Analyses == 0 {
			fmt.Fprintf(w, " not measured: %s | | | | | | | |\n", strings.ReplaceAll(x.Error, "|", "\\|"))
			continue
		}
		cpu := "–"
		if x.CPUS > 0 {
			cpu = fmt.Sprintf("%s (%s + %s)", seconds(x.CPUS), seconds(x.GoCPUS), seconds(x.ChildCPUS))
		}
		decode, ratio := "–", "–"
		if x.DecodeCPUS > 0 {
			decode = seconds(x.DecodeCPUS)
		}
		if x.PerDecode > 0 {
			ratio = fmt.Sprintf("%.1f", x.PerDecode)
		}
		idle := "–"
		if x.Idle > 0 {
			idle = fmt.Sprintf("%s / %s (%d)", millis(x.IdleP50MS), millis(x.IdleP95MS), x.Idle)
		}
		peak := "–"
		if x.PeakRSSMiB > 0 {
			peak = fmt.Sprintf("%.0f MiB", x.PeakRSSMiB)
		}
		fmt.Fprintf(w, " %d of %d | %.0f | %s | %s | %s | %s / %s | %s | %s |\n", x.Finished, x.Analyses, x.PerMinute, cpu, decode, ratio,
			millis(x.LoadP50MS), millis(x.LoadP95MS), idle, peak)
	}
	fmt.Fprintln(w, "\nServer CPU: user + system time of the server process and of its ffmpeg/ffprobe children (/proc/PID/stat) over the load, per analysis. "+
		"Latency: upload to result. Peak RSS: the server process's (VmHWM) while its file ran; each ffmpeg child has its own.")
}

// describe is the media cell: the file and what it is.
func (x benchRow) describe() string {
	s := fmt.Sprintf("%s (%s", x.File, x.Kind)
	if x.Codec != "" {
		s += " " + x.Codec
	} else if x.Format != "" {
		s += " " + x.Format
	}
	if x.Width > 0 {
		s += fmt.Sprintf(" %dx%d", x.Width, x.Height)
	}
	if x.DurationS > 0 {
		s += fmt.Sprintf(" %.1f s", x.DurationS)
	}
	return s + fmt.Sprintf(", %d KiB)", (x.Bytes+512)/1024)
}

// seconds formats CPU-seconds with two significant digits at least.
func seconds(s float64) string {
	if s < 0.1 {
		return fmt.Sprintf("%.3f", s)
	}
	return fmt.Sprintf("%.2f", s)
}

// millis formats a latency: milliseconds below a second, seconds above.
func millis(ms float64) string {
	if ms < 1000 {
		return fmt.Sprintf("%.0f ms", ms)
	}
	return fmt.Sprintf("%.2f s", ms/1000)
}

const benchUsage = `Usage: bonafide bench [flags] [FILE...]

Measures what a server on this machine does with your media, for a capacity plan: it starts
'bonafide serve' (this program) on its embedded defaults in a temporary directory on a free
loopback port, and for each FILE (a photo, video or shot set, told by its bytes; with no FILE the
pinned bench media: a 5 s 720p H.264 video and a 720x576 JPEG, as the throughput benchmarks use)
  - times one 'ffmpeg -threads 1' decoding a video (the least of three runs);
  - runs two analyses to warm up;
  - under load: --count analyses through the API, --clients at once, each uploading the file as a
    new folder, starting a quality analysis and polling every 100 ms until it is FINISHED;
  - idle: --idle analyses one at a time, polling every 10 ms.
It prints a markdown table headed by the machine (CPU, cores, memory, OS, versions, load average)
and the date: analyses per minute, the server's CPU-seconds per analysis (its Go process and its
ffmpeg/ffprobe children, from /proc), for videos the decode's CPU-seconds and the ratio, latency
p50/p95 under load and idle, and the server's peak RSS. --json prints the same as JSON.

The server gets none of serve's settings from the environment (no database, bucket or address of
yours is touched); --analysis-workers, --workers, --max-file-mb, --models and --ort-lib are passed
to it. A file that cannot be read or is not media stops the run before the server starts. The exit
status is 1 when a file could not be measured or an analysis did not finish.

Figures move with other work on the machine: the CPU-seconds much less than the wall-clock ones,
and the table gives the load average at the start and the end.

Flags:
`
