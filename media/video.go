package media

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"bonafide/media/sniff"
)

// Video is decoded by the ffmpeg program (no pure-Go H.264/VP8/VP9 decoder exists). What the file
// holds (the stream to decode, its size, rotation, duration and frame count) is read from the header
// in Go for MP4 and QuickTime, the containers phones record (mp4.go), so that such a video costs one
// process; ffprobe reads it for every other container and wherever the Go reader is unsure. The
// input is written to a temporary file, because MP4s with the index (moov) at the end need seeking
// (a pipe into ffmpeg's stdin cannot seek, and the header reader, ffprobe, the packet scan and
// ffmpeg each read the input), and the file is written from a stream where the caller has one
// (OpenReader).
// The demuxer is forced to the container that sniffing found and only the file protocol is allowed, so
// that ffmpeg's own format guessing (playlists, concat scripts, image sequences) never sees our input.

const (
	// ffmpegThreads is the decoder thread count of one ffmpeg process: one, since the server runs
	// one analysis per core and the engine keeps every core busy; a second decoder thread only
	// adds its synchronisation (H.264 decoding gives the same pictures on any thread count).
	ffmpegThreads = "1"
	// stderrTail is how much of a tool's stderr is kept for error messages.
	stderrTail = 4 << 10
	// maxProbeOutput bounds ffprobe's JSON; a real file gives a few KiB.
	maxProbeOutput = 4 << 20
	// waitDelay bounds how long Wait waits for a killed tool's pipes to close.
	waitDelay = 2 * time.Second
)

// demuxerFor returns ffmpeg's demuxer name for a sniffed container.
func demuxerFor(format string, data []byte) string {
	switch format {
	case "mp4", "mov":
		return "mov"
	case "webm", "mkv":
		return "matroska"
	case "avi":
		return "avi"
	case "mpeg":
		if len(data) > 0 && data[0] == 0x47 {
			return "mpegts"
		}
		return "mpeg"
	}
	return ""
}

// openVideo writes the video to a temporary file, probes it and checks it against the limits. head
// is the start of the file (what sniffing read); fill writes the whole file, head included, to the
// temporary file: the bytes already in memory (Open) or a stream copied as it is read (OpenReader),
// so a video read from a stream is never held whole in memory. An error of fill is returned as is.
func (d *Decoder) openVideo(ctx context.Context, name string, head []byte, sn sniff.Result, l Limits, fill func(io.Writer) error) (_ *Media, err error) {
	ctx, cancel := withTimeout(ctx, l.Timeout)
	defer cancel()
	f, err := os.CreateTemp(d.tempDir(), "bonafide-media-*."+sn.Format)
	if err != nil {
		return nil, fmt.Errorf("%s: writing the video to a temporary file: %w", name, err)
	}
	m := &Media{name: name, limits: l, dec: d, path: f.Name(),
		info: Info{Kind: Video, Format: sn.Format}}
	defer func() {
		if err != nil {
			m.Close()
		}
	}()
	if err := fill(f); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("%s: writing the video to a temporary file: %w", name, err)
	}
	for _, tool := range []string{d.ffprobe(), d.ffmpeg()} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, missingTool(name, tool, err)
		}
	}
	m.demuxer = demuxerFor(sn.Format, head)
	input := []string{"-protocol_whitelist", "file", "-f", m.demuxer, "-i", "file:" + m.path}

	vs, err := d.probeVideo(ctx, m, sn.Format, input, l)
	if err != nil {
		return nil, err
	}
	if px := int64(vs.width) * int64(vs.height); px > l.MaxPixels {
		return nil, newError(CodeTooManyPixels, name, nil, "the video pictures are %dx%d (%s), more than the %s allowed",
			vs.width, vs.height, megapixels(px), megapixels(l.MaxPixels))
	}
	if vs.duration <= 0 || vs.frames <= 0 {
		// No duration in the header (live-recorded WebM, some MPEG-TS): count the packets instead.
		span, tail, err := d.scanPackets(ctx, l, vs.index, input)
		if err != nil {
			return nil, toolError(ctx, name, d.ffprobe(), l.Timeout, err, tail, "the video could not be read")
		}
		if vs.duration <= 0 {
			vs.duration = span.duration()
		}
		vs.frames = span.count
		if vs.fps <= 0 && vs.duration > 0 {
			vs.fps = float64(span.count) / vs.duration
		}
	}
	if vs.frames <= 0 || vs.duration <= 0 {
		return nil, newError(CodeZeroLength, name, nil, "the video is empty: it has no frames")
	}
	if vs.duration > l.MaxVideoSeconds {
		return nil, newError(CodeTooLong, name, nil, "the video is %.1f s long, more than the %g s allowed",
			vs.duration, l.MaxVideoSeconds)
	}
	m.video = vs
	m.outW, m.outH = fitSize(vs.width, vs.height, l.MaxFrameSide)
	// Even sizes: the scaler's chroma handling is exact for them, and they cost at most one pixel.
	m.outW, m.outH = max(2, m.outW&^1), max(2, m.outH&^1)
	m.info.Codec = vs.codec
	m.info.Width, m.info.Height = vs.width, vs.height
	m.info.Rotation = vs.rotation
	m.info.Duration = vs.duration
	m.info.FPS = vs.fps
	m.info.Frames = min(l.MaxFrames, vs.frames)
	return m, nil
}

// probeVideo finds the stream to decode and what it holds. An MP4 or QuickTime file is read by its
// header in Go (mp4.go) where that gives what ffprobe would; any other file, or one the header reader
// is unsure of (it says why: mp4Unsure), is probed by ffprobe.
func (d *Decoder) probeVideo(ctx context.Context, m *Media, format string, input []string, l Limits) (videoStream, error) {
	if (format == "mp4" || format == "mov") && !d.ffprobeOnly {
		vs, err := readMP4File(m.path)
		if err == nil {
			if problem := checkDecodable(vs.codec, d.decodable(ctx)); problem != nil {
				return videoStream{}, problem.asError(m.name)
			}
			if ctx.Err() != nil {
				return videoStream{}, ctxError(ctx, m.name, l.Timeout)
			}
			return vs, nil
		}
	}
	return d.ffprobeVideo(ctx, m.name, input, l)
}

// ffprobeVideo runs ffprobe on the input and reads its report with parseProbe.
func (d *Decoder) ffprobeVideo(ctx context.Context, name string, input []string, l Limits) (videoStream, error) {
	out, tail, err := runTool(ctx, l, d.ffprobe(), maxProbeOutput,
		append([]string{"-v", "error", "-hide_banner", "-of", "json", "-show_streams", "-show_format"}, input...)...)
	if err != nil {
		return videoStream{}, toolError(ctx, name, d.ffprobe(), l.Timeout, err, tail, "the video could not be read")
	}
	vs, problem, err := parseProbe(out, d.decodable(ctx))
	if err != nil {
		return videoStream{}, newError(CodeCorrupt, name, err, "the video could not be read")
	}
	if problem != nil {
		return videoStream{}, problem.asError(name)
	}
	return vs, nil
}

// decodable returns a function that says whether this ffmpeg can decode a video codec, or nil if that
// cannot be found out (then every codec that ffprobe names is tried). The list is read once per
// Decoder; a run that fails is not retried, unless it failed because ctx ended.
func (d *Decoder) decodable(ctx context.Context) func(string) bool {
	d.codecsMu.Lock()
	defer d.codecsMu.Unlock()
	if d.noCodecs {
		return nil
	}
	if d.codecs == nil {
		out, _, err := runTool(ctx, d.Limits.withDefaults(), d.ffprobe(), 1<<20, "-v", "error", "-hide_banner", "-codecs")
		set := parseCodecs(out)
		if err != nil || len(set) == 0 {
			d.noCodecs = ctx.Err() == nil
			return nil
		}
		d.codecs = set
	}
	codecs := d.codecs
	return func(c string) bool { return codecs[c] }
}

// scanPackets counts the packets of one stream and the span of their timestamps, reading the container
// only (no decoding). Its output is streamed, not stored.
func (d *Decoder) scanPackets(ctx context.Context, l Limits, stream int, input []string) (packetSpan, string, error) {
	args := append([]string{"-v", "error", "-hide_banner", "-select_streams", strconv.Itoa(stream),
		"-show_entries", "packet=pts_time,duration_time", "-of", "csv=p=0"}, input...)
	cmd := toolCommand(ctx, l, d.ffprobe(), args...)
	tail := &tailBuffer{max: stderrTail}
	cmd.Stderr = tail
	cmd.WaitDelay = waitDelay
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return packetSpan{}, "", err
	}
	if err := cmd.Start(); err != nil {
		return packetSpan{}, "", err
	}
	var span packetSpan
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		span.add(sc.Text())
	}
	if err := sc.Err(); err != nil {
		_ = cmd.Process.Kill()
	}
	err = cmd.Wait()
	return span, tail.String(), err
}

// videoFrames runs one ffmpeg process that selects evenly spaced frames, rotates them upright
// (ffmpeg's default autorotation), scales them to outW x outH and writes them as raw RGBA to a pipe,
// and emits each frame as soon as its bytes are read.
//
// The frames are chosen by time: the clip is cut into N equal slots and the first frame at or after the
// start of each slot is kept. This works for variable frame rates and unknown frame counts, and gives N
// frames whenever the clip has at least N frames.
func (m *Media) videoFrames(ctx context.Context, emit func(Frame) error) error {
	vs, n := m.video, m.info.Frames
	slots := float64(n) / vs.duration // slots per second
	// slot(x) = the slot of time x; 0.001 of a slot absorbs rounding when frames fall on slot edges.
	slot := func(x string) string {
		return fmt.Sprintf("floor((%s-start_t)*%s+0.001)", x, strconv.FormatFloat(slots, 'g', 17, 64))
	}
	sel := fmt.Sprintf("select='gte(%[1]s,0)*lt(%[1]s,%[2]d)*(isnan(prev_selected_t)+gt(%[1]s,%[3]s))'",
		slot("t"), n, slot("prev_selected_t"))
	filter := fmt.Sprintf("%s,scale=%d:%d:flags=bilinear,format=rgba", sel, m.outW, m.outH)
	args := []string{"-nostdin", "-v", "error", "-hide_banner", "-threads", ffmpegThreads,
		"-protocol_whitelist", "file", "-f", m.demuxer, "-i", "file:" + m.path,
		"-map", "0:" + strconv.Itoa(vs.index), "-an", "-sn", "-dn",
		"-vf", filter, "-fps_mode", "passthrough", "-frames:v", strconv.Itoa(n),
		"-f", "rawvideo", "-pix_fmt", "rgba", "pipe:1"}

	cmd := toolCommand(ctx, m.limits, m.dec.ffmpeg(), args...)
	tail := &tailBuffer{max: stderrTail}
	cmd.Stderr = tail
	cmd.WaitDelay = waitDelay
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("%s: %w", m.name, err)
	}
	if err := cmd.Start(); err != nil {
		if isMissing(err) {
			return missingTool(m.name, m.dec.ffmpeg(), err)
		}
		return fmt.Errorf("%s: starting ffmpeg: %w", m.name, err)
	}
	produced := 0
	var emitErr error
	for produced < n {
		img := image.NewRGBA(image.Rect(0, 0, m.outW, m.outH))
		if _, err := io.ReadFull(stdout, img.Pix); err != nil {
			break // io.EOF: done; io.ErrUnexpectedEOF: a cut frame, dropped; else the pipe broke
		}
		t := float64(produced) / slots
		if emitErr = emit(Frame{Index: produced, Time: t, Image: img}); emitErr != nil {
			break
		}
		produced++
	}
	if produced == n || emitErr != nil {
		// We have all we want (or the caller wants no more): do not wait for ffmpeg to finish reading.
		_ = cmd.Process.Kill()
	}
	werr := cmd.Wait()
	switch {
	case emitErr != nil:
		return emitErr
	case ctx.Err() != nil:
		return ctx.Err() // Frames turns this into CodeTimeout or the caller's cancellation
	case produced > 0:
		return nil
	case werr != nil:
		return newError(CodeCorrupt, m.name, nil, "the video could not be decoded: %s", lastLine(tail.String(), "ffmpeg failed"))
	}
	return newError(CodeNoFrames, m.name, nil, "no frame could be decoded from the video")
}

// runTool runs a program to completion under the tool limits of l, keeping at most maxOut bytes of
// its stdout and the tail of its stderr.
func runTool(ctx context.Context, l Limits, bin string, maxOut int, args ...string) (stdout []byte, stderr string, err error) {
	cmd := toolCommand(ctx, l, bin, args...)
	out := &cappedBuffer{max: maxOut}
	tail := &tailBuffer{max: stderrTail}
	cmd.Stdout, cmd.Stderr = out, tail
	cmd.WaitDelay = waitDelay
	err = cmd.Run()
	if err == nil && out.overflow {
		err = errors.New("output too long")
	}
	return out.buf, tail.String(), err
}

// toolError turns the failure of ffprobe/ffmpeg into an error: a missing program, our time limit, the
// caller's cancellation, or else a damaged input (with the tool's last line of stderr).
func toolError(ctx context.Context, file, tool string, limit time.Duration, err error, stderr, msg string) error {
	if isMissing(err) {
		return missingTool(file, tool, err)
	}
	if ctx.Err() != nil {
		return ctxError(ctx, file, limit)
	}
	return newError(CodeCorrupt, file, nil, "%s: %s", msg, lastLine(stderr, err.Error()))
}

func isMissing(err error) bool {
	return errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist)
}

// missingTool names the program by its base name only: where the server looked is not the
// client's business (the server's logs have the configured path).
func missingTool(file, tool string, _ error) *Error {
	return newError(CodeDecoderMissing, file, nil,
		"video decoding needs %s, which is not installed on the server: install ffmpeg (Debian: apt-get install ffmpeg)", filepath.Base(tool))
}

// serverPath matches an absolute file path in a tool's message (ffmpeg names its input, which is
// a temporary file of the server).
var serverPath = regexp.MustCompile(`(^|[\s'"(=:])/[^\s'"():,]*[^\s'"():,.]`)

// stripPaths replaces every absolute path in a tool's message with "the file": an error reaches
// the client, and server paths are nobody's business.
func stripPaths(s string) string { return serverPath.ReplaceAllString(s, "${1}the file") }

// lastLine returns the last non-empty line of s, without ffmpeg's "[demuxer @ 0x...] " prefix and
// without server paths, or def.
func lastLine(s, def string) string {
	return stripPaths(rawLastLine(s, def))
}

func rawLastLine(s, def string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if strings.HasPrefix(l, "[") {
			if j := strings.Index(l, "] "); j > 0 {
				l = strings.TrimSpace(l[j+2:])
			}
		}
		if l != "" {
			return l
		}
	}
	return def
}

// tailBuffer is an io.Writer that keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) >= t.max {
		t.buf = append(t.buf[:0], p[len(p)-t.max:]...)
		return n, nil
	}
	if over := len(t.buf) + len(p) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	t.buf = append(t.buf, p...)
	return n, nil
}

func (t *tailBuffer) String() string { return string(t.buf) }

// cappedBuffer is an io.Writer that keeps the first max bytes written to it and discards the rest
// (still reporting success, so the writing program is not blocked), noting the overflow.
type cappedBuffer struct {
	max      int
	buf      []byte
	overflow bool
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if room := c.max - len(c.buf); room < len(p) {
		c.overflow = true
		p = p[:max(room, 0)]
	}
	c.buf = append(c.buf, p...)
	return n, nil
}
