// Package media turns uploaded bytes into frames for the liveness engine.
//
// It accepts three kinds of media: a still image (JPEG, PNG, WebP, BMP), a video (MP4, MOV, WebM, MKV,
// AVI, MPEG; decoded by the ffmpeg program) and a shot set (a zip of JPEG/PNG frames, as the Oz Web SDK
// sends). Every input is identified by its bytes, never its name, and held to Limits before anything
// large is allocated or any long work starts. Each problem with a media is reported as an *Error whose
// Code says what went wrong and whose message a person can read.
//
// Use:
//
//	d := media.NewDecoder(media.DefaultLimits())
//	m, err := d.Open(ctx, "clip.mp4", data)
//	if err != nil { ... }
//	defer m.Close()
//	err = m.Frames(ctx, func(f media.Frame) error { ...; return nil })
//
// A stored media is opened from a stream with OpenReader: a video is then copied to the temporary
// file ffmpeg reads without being held whole in memory. What a file is, by its first bytes, is
// package sniff's rule, which the API's upload check shares.
package media

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"

	"bonafide/media/sniff"
)

// Kind is the kind of a media (as package sniff tells it).
type Kind = sniff.Kind

// Kinds of media.
const (
	Image   = sniff.Image
	Video   = sniff.Video
	ShotSet = sniff.ShotSet
)

// Limits bound the size of the work one media may cause. A zero field means its default (see
// DefaultLimits).
type Limits struct {
	MaxFileBytes int64 // larger input -> CodeTooLarge
	MaxPixels    int64 // width*height of an image (checked from its header before decoding) or of a video's pictures -> CodeTooManyPixels
	// MaxDecodeBytes bounds the memory one image decode may take, counted from its header before
	// any pixel is read: width x height x the bytes per pixel of its decoded form (8 for a 16-bit
	// RGBA PNG, 2 for 16-bit gray, 3 for a JPEG...), plus the RGBA copies made while resizing
	// -> CodeTooManyPixels. Default 384 MiB: a 50-megapixel 8-bit RGBA image (about 340 MB) fits,
	// a 16-bit one (about 540 MB) does not; a 12 MP photo takes about 115 MB.
	MaxDecodeBytes int64
	// DecodeMemory is the memory budget that all the image decodes of one Decoder share at once
	// (each takes its MaxDecodeBytes-style cost and waits, honouring its context, until that much
	// is free). A decode bigger than the whole budget is refused -> CodeTooManyPixels.
	// Default 512 MiB.
	DecodeMemory     int64
	MaxFrames        int           // frames taken from a video or a shot set, evenly spaced
	MaxVideoSeconds  float64       // longer video -> CodeTooLong
	MaxFrameSide     int           // every produced frame is downscaled (aspect kept) so its long side <= this
	MaxZipEntries    int           // entries in a shot set, of any kind
	MaxZipEntryBytes int64         // uncompressed size of one entry
	MaxZipTotalBytes int64         // uncompressed size of all entries
	MaxZipRatio      float64       // uncompressed/compressed size of one entry (zip bomb)
	Timeout          time.Duration // bounds Open (probing) and, separately, Frames (decoding) -> CodeTimeout
	// ToolAddressSpace and ToolCPUTime bound each ffmpeg/ffprobe process (RLIMIT_AS, RLIMIT_CPU; see
	// toolCommand). ToolCPUTime defaults to twice Timeout: ffmpeg decodes with two threads.
	ToolAddressSpace int64
	ToolCPUTime      time.Duration
}

// DefaultLimits returns the limits used when a field of Limits is zero.
func DefaultLimits() Limits {
	return Limits{
		MaxFileBytes:     15 << 20,
		MaxPixels:        50_000_000,
		MaxDecodeBytes:   384 << 20,
		DecodeMemory:     512 << 20,
		MaxFrames:        50,
		MaxVideoSeconds:  30,
		MaxFrameSide:     1280,
		MaxZipEntries:    200,
		MaxZipEntryBytes: 15 << 20,
		MaxZipTotalBytes: 200 << 20,
		MaxZipRatio:      100,
		Timeout:          60 * time.Second,
		// ffmpeg 5.1 (Debian 12) maps about 300 MiB of libraries before it reads a byte and does not
		// start under 256 MiB; a 30 s 1080p H.264 decode runs in 384 MiB (measured). 2 GiB leaves room
		// for the largest pictures MaxPixels admits.
		ToolAddressSpace: 2 << 30,
		ToolCPUTime:      2 * 60 * time.Second,
	}
}

// withDefaults fills the zero fields of l from DefaultLimits.
func (l Limits) withDefaults() Limits {
	def := DefaultLimits()
	fill := func(v *int64, d int64) {
		if *v <= 0 {
			*v = d
		}
	}
	fill(&l.MaxFileBytes, def.MaxFileBytes)
	fill(&l.MaxPixels, def.MaxPixels)
	fill(&l.MaxDecodeBytes, def.MaxDecodeBytes)
	fill(&l.DecodeMemory, def.DecodeMemory)
	fill(&l.MaxZipEntryBytes, def.MaxZipEntryBytes)
	fill(&l.MaxZipTotalBytes, def.MaxZipTotalBytes)
	if l.MaxFrames <= 0 {
		l.MaxFrames = def.MaxFrames
	}
	if l.MaxVideoSeconds <= 0 {
		l.MaxVideoSeconds = def.MaxVideoSeconds
	}
	if l.MaxFrameSide <= 0 {
		l.MaxFrameSide = def.MaxFrameSide
	}
	if l.MaxZipEntries <= 0 {
		l.MaxZipEntries = def.MaxZipEntries
	}
	if l.MaxZipRatio <= 0 {
		l.MaxZipRatio = def.MaxZipRatio
	}
	if l.Timeout <= 0 {
		l.Timeout = def.Timeout
	}
	fill(&l.ToolAddressSpace, def.ToolAddressSpace)
	if l.ToolCPUTime <= 0 {
		l.ToolCPUTime = 2 * l.Timeout
	}
	return l
}

// Info describes an opened media.
type Info struct {
	Kind          Kind
	Format        string   // "jpeg","png","webp","bmp","mp4","mov","webm","mkv","avi","mpeg","zip"
	Codec         string   // video codec name as ffprobe names it ("h264","vp8",...), "" for images and shot sets
	Width, Height int      // display size after EXIF orientation / rotation metadata, before MaxFrameSide (shot sets: the first entry used)
	Orientation   int      // EXIF orientation 1..8 (images; shot sets: the first entry used), 0 if none
	Rotation      int      // video rotation in degrees clockwise from metadata (0,90,180,270)
	Duration      float64  // seconds (video)
	FPS           float64  // average frame rate (video), 0 if unknown
	Frames        int      // how many frames Frames() will produce (an upper bound for video)
	Entries       []string // shot-set entry names used, in order
}

// Frame is one decoded picture.
type Frame struct {
	Index int     // 0-based order
	Time  float64 // seconds from start for video (the start of the frame's slot; the frame is the first at or after it); 0 for an image; for shot sets, the position of the entry among all usable entries
	Name  string  // entry name for shot sets
	Image *image.RGBA
}

// Decoder opens media. Its fields may be set before first use and not changed afterwards; it is safe
// for concurrent use by many goroutines.
type Decoder struct {
	Limits  Limits
	FFmpeg  string // path or name of ffmpeg; default "ffmpeg"
	FFprobe string // path or name of ffprobe; default "ffprobe"
	TempDir string // where video inputs are written for ffmpeg; default os.TempDir()

	// ffprobeOnly makes every video probed by ffprobe, MP4 and QuickTime included (tests compare
	// the two ways).
	ffprobeOnly bool

	codecsMu sync.Mutex
	codecs   map[string]bool // video codecs ffmpeg can decode, once known
	noCodecs bool            // ffprobe -codecs failed (not by the caller's context): not asked again

	budgetOnce sync.Once
	budget     *semaphore.Weighted // Limits.DecodeMemory, shared by every image decode
	budgetSize int64
}

// reserve takes n bytes of the decode memory budget, waiting (as long as ctx allows) until they are
// free; release gives them back. A cost above the whole budget is refused at once.
func (d *Decoder) reserve(ctx context.Context, file string, n int64, limit time.Duration) (release func(), err error) {
	d.budgetOnce.Do(func() {
		d.budgetSize = d.Limits.withDefaults().DecodeMemory
		d.budget = semaphore.NewWeighted(d.budgetSize)
	})
	if n > d.budgetSize {
		return nil, newError(CodeTooManyPixels, file, nil, "decoding the image takes %s, more than the whole %s decode memory budget",
			byteSize(n), byteSize(d.budgetSize))
	}
	if err := d.budget.Acquire(ctx, n); err != nil {
		return nil, ctxError(ctx, file, limit)
	}
	return func() { d.budget.Release(n) }, nil
}

// NewDecoder returns a Decoder with the given limits and the ffmpeg/ffprobe found on $PATH.
func NewDecoder(l Limits) *Decoder {
	return &Decoder{Limits: l, FFmpeg: "ffmpeg", FFprobe: "ffprobe"}
}

func (d *Decoder) ffmpeg() string {
	if d.FFmpeg == "" {
		return "ffmpeg"
	}
	return d.FFmpeg
}

func (d *Decoder) ffprobe() string {
	if d.FFprobe == "" {
		return "ffprobe"
	}
	return d.FFprobe
}

func (d *Decoder) tempDir() string {
	if d.TempDir == "" {
		return os.TempDir()
	}
	return d.TempDir
}

// Media is an opened media, ready to produce frames. Close it when done.
type Media struct {
	name   string
	limits Limits
	info   Info
	used   atomic.Bool

	// image
	data []byte
	img  imageHeader

	dec *Decoder // the decoder that opened it (its decode memory budget, ffmpeg)

	// video
	video   videoStream
	path    string // temp file holding the video
	demuxer string // ffmpeg's name for its container
	outW    int    // size of the frames ffmpeg writes
	outH    int

	// shot set
	zip     *zip.Reader
	entries []zipEntry
	first   []byte // the bytes of entries[0], read by Open

	closeOnce sync.Once
	closeErr  error
}

// Open identifies data by its bytes (name is only used in messages), checks it against the limits and
// reads its header: an image's size and orientation (not its pixels), a video's streams (read in Go
// for MP4 and QuickTime, by ffprobe otherwise), a shot set's directory. The returned Media must be closed.
func (d *Decoder) Open(ctx context.Context, name string, data []byte) (*Media, error) {
	l := d.Limits.withDefaults()
	if len(data) == 0 {
		return nil, newError(CodeEmpty, name, nil, "the file is empty")
	}
	if int64(len(data)) > l.MaxFileBytes {
		return nil, tooLarge(name, int64(len(data)), l)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, context.Cause(ctx))
	}
	sn := sniff.Sniff(data)
	switch sn.Kind {
	case Image:
		hdr, err := probeImage(name, sn.Format, data, l)
		if err != nil {
			return nil, err
		}
		w, h := hdr.displaySize()
		return &Media{
			name: name, limits: l, data: data, img: hdr, dec: d,
			info: Info{Kind: Image, Format: sn.Format, Width: w, Height: h, Orientation: hdr.orientation, Frames: 1},
		}, nil
	case Video:
		return d.openVideo(ctx, name, data, sn, l, func(w io.Writer) error {
			if _, err := w.Write(data); err != nil {
				return fmt.Errorf("%s: writing the video to a temporary file: %w", name, err)
			}
			return nil
		})
	case ShotSet:
		m, err := openShotSet(ctx, name, data, l)
		if m != nil {
			m.dec = d
		}
		return m, err
	}
	if len(sn.What) > 6 && sn.What[len(sn.What)-6:] == " image" {
		return nil, newError(CodeUnsupported, name, nil, "the file is %s; images must be JPEG, PNG, WebP or BMP", sn.What)
	}
	return nil, newError(CodeUnsupported, name, nil, "the file is %s, not a video or image", sn.What)
}

// sniffLen is how much of a stream OpenReader reads to tell what it is (at least sniff.Len).
const sniffLen = 4 << 10

// OpenReader is Open over a stream (a stored media as its blob store yields it): the same checks,
// the same Media, the same errors. A video is copied from r straight to the temporary file that
// ffmpeg reads, so it is never held whole in memory; an image or a shot set is read whole (its
// decoder takes bytes), at most Limits.MaxFileBytes of it. A file over that limit is read to its
// end, without keeping it, so that the error says its size. An error reading r is returned
// wrapped, as an internal failure (not an *Error). OpenReader does not close r.
func (d *Decoder) OpenReader(ctx context.Context, name string, r io.Reader) (*Media, error) {
	l := d.Limits.withDefaults()
	head := make([]byte, sniffLen)
	n, err := io.ReadFull(r, head)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, readError(name, err)
	}
	head = head[:n]
	sn := sniff.Sniff(head)
	if sn.Kind != Video {
		data, err := readLimited(name, head, r, l)
		if err != nil {
			return nil, err
		}
		return d.Open(ctx, name, data)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, context.Cause(ctx))
	}
	return d.openVideo(ctx, name, head, sn, l, func(w io.Writer) error {
		if _, err := w.Write(head); err != nil {
			return fmt.Errorf("%s: writing the video to a temporary file: %w", name, err)
		}
		// Copy through a writer that tells its errors from the reader's.
		dst := &errWriter{w: w}
		copied, err := io.Copy(dst, io.LimitReader(r, l.MaxFileBytes-int64(len(head))+1))
		if dst.err != nil {
			return fmt.Errorf("%s: writing the video to a temporary file: %w", name, dst.err)
		}
		if err != nil {
			return readError(name, err)
		}
		if size := int64(len(head)) + copied; size > l.MaxFileBytes {
			rest, err := io.Copy(io.Discard, r)
			if err != nil {
				return readError(name, err)
			}
			return tooLarge(name, size+rest, l)
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%s: %w", name, context.Cause(ctx))
		}
		return nil
	})
}

// readLimited reads the rest of r after head, at most Limits.MaxFileBytes in all; a longer file is
// read to its end without keeping it and refused with its size (CodeTooLarge).
func readLimited(name string, head []byte, r io.Reader, l Limits) ([]byte, error) {
	buf := bytes.NewBuffer(head)
	if _, err := buf.ReadFrom(io.LimitReader(r, l.MaxFileBytes-int64(len(head))+1)); err != nil {
		return nil, readError(name, err)
	}
	if size := int64(buf.Len()); size > l.MaxFileBytes {
		rest, err := io.Copy(io.Discard, r)
		if err != nil {
			return nil, readError(name, err)
		}
		return nil, tooLarge(name, size+rest, l)
	}
	return buf.Bytes(), nil
}

// errWriter keeps the first error of its writer, so that io.Copy's error can be told apart.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	n, err := e.w.Write(p)
	if err != nil && e.err == nil {
		e.err = err
	}
	return n, err
}

// readError is a failure to read a media's stream: the store's fault, not the file's.
func readError(name string, err error) error {
	return fmt.Errorf("%s: reading the media: %w", name, err)
}

// tooLarge is the error of a file of size bytes, over Limits.MaxFileBytes.
func tooLarge(name string, size int64, l Limits) *Error {
	return newError(CodeTooLarge, name, nil, "the file is %s, more than the %s allowed", byteSize(size), byteSize(l.MaxFileBytes))
}

// byteSize formats n for messages ("15 MiB", "1 GiB", "812.5 KiB", "17 bytes").
func byteSize(n int64) string {
	unit := func(v float64, name string) string {
		return strings.TrimSuffix(strconv.FormatFloat(v, 'f', 1, 64), ".0") + " " + name
	}
	switch {
	case n >= 1<<30:
		return unit(float64(n)/(1<<30), "GiB")
	case n >= 1<<20:
		return unit(float64(n)/(1<<20), "MiB")
	case n >= 1<<10:
		return unit(float64(n)/(1<<10), "KiB")
	}
	return fmt.Sprintf("%d bytes", n)
}

// Info describes the media.
func (m *Media) Info() Info {
	info := m.info
	info.Entries = append([]string(nil), m.info.Entries...)
	return info
}

// errFramesTwice is returned by a second call of Frames.
var errFramesTwice = errors.New("media: Frames may be called only once")

// Frames decodes the media and calls fn with each frame, in order, as it is decoded. A video is
// decoded by one ffmpeg process that writes raw RGBA pictures to a pipe; decoding runs ahead of fn by
// up to two frames, so a caller's work on one frame overlaps the decoding of the next. If fn returns
// an error, decoding stops (ffmpeg is killed) and Frames returns that error. Limits.Timeout bounds the
// whole call (including the time spent in fn). Frames may be called once.
//
// A media that yields no frame returns an *Error (CodeNoFrames or CodeCorrupt). A video that fails part
// way, after some frames were delivered, is not an error: the frames delivered stand.
func (m *Media) Frames(ctx context.Context, fn func(Frame) error) error {
	if !m.used.CompareAndSwap(false, true) {
		return errFramesTwice
	}
	ctx, cancel := withTimeout(ctx, m.limits.Timeout)
	defer cancel()
	switch m.info.Kind {
	case Image:
		if err := ctx.Err(); err != nil {
			return ctxError(ctx, m.name, m.limits.Timeout)
		}
		img, err := m.decodeBudgeted(ctx, m.data, m.img)
		if err != nil {
			return err
		}
		return fn(Frame{Index: 0, Image: img})
	case Video:
		return m.stream(ctx, fn, m.videoFrames)
	case ShotSet:
		return m.stream(ctx, fn, m.shotSetFrames)
	}
	return fmt.Errorf("media: unknown kind %q", m.info.Kind)
}

// stream runs produce in its own goroutine and hands the frames it emits to fn on the calling
// goroutine, through a small buffer. It returns fn's first error, else produce's error (a context
// error turned into CodeTimeout or the caller's cancellation).
func (m *Media) stream(ctx context.Context, fn func(Frame) error, produce func(context.Context, func(Frame) error) error) error {
	pctx, stop := context.WithCancel(ctx)
	defer stop()
	frames := make(chan Frame, 2)
	var perr error
	go func() {
		defer close(frames)
		perr = produce(pctx, func(f Frame) error {
			select {
			case frames <- f:
				return nil
			case <-pctx.Done():
				return pctx.Err()
			}
		})
	}()
	var ferr error
	for f := range frames {
		if ferr != nil {
			continue // drain until the producer sees the cancellation
		}
		if err := fn(f); err != nil {
			ferr = err
			stop()
		}
	}
	// The channel is closed after perr is set, so reading perr here is safe.
	if ferr != nil {
		return ferr
	}
	if ctx.Err() != nil {
		return ctxError(ctx, m.name, m.limits.Timeout)
	}
	return perr
}

// Close releases the media's temporary files. It may be called more than once.
func (m *Media) Close() error {
	m.closeOnce.Do(func() {
		if m.path != "" {
			if err := os.Remove(m.path); err != nil && !errors.Is(err, os.ErrNotExist) {
				m.closeErr = err
			}
		}
	})
	return m.closeErr
}
