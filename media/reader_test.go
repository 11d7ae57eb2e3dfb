package media

import (
	"bytes"
	"context"
	"errors"
	"io"
	"reflect"
	"testing"
	"testing/iotest"

	"bonafide/internal/testkit"
)

// openBoth opens data with Open and, as a stream, with OpenReader, and returns both results: info
// and frames, or the error of each.
func openBoth(t *testing.T, d *Decoder, name string, data []byte) (bytesInfo, streamInfo Info, bytesFrames, streamFrames []Frame, bytesErr, streamErr error) {
	t.Helper()
	bytesInfo, bytesFrames, bytesErr = decodeAll(t, d, name, data)
	ctx := context.Background()
	// OneByteReader: the stream yields little at a time, as a network reader may.
	m, err := d.OpenReader(ctx, name, iotest.OneByteReader(bytes.NewReader(data)))
	if err != nil {
		return bytesInfo, Info{}, bytesFrames, nil, bytesErr, err
	}
	defer m.Close()
	streamErr = m.Frames(ctx, func(f Frame) error {
		streamFrames = append(streamFrames, f)
		return nil
	})
	return bytesInfo, m.Info(), bytesFrames, streamFrames, bytesErr, streamErr
}

// TestOpenReaderSameAsOpen: a stream opens as its bytes do, for every kind, and fails the same way.
func TestOpenReaderSameAsOpen(t *testing.T) {
	t.Parallel()
	// An MP4 whose index (moov) is at its end, as ffmpeg writes it without +faststart: ffmpeg
	// must seek, which the temporary file allows.
	clip := testClip(t)
	if bytes.Index(clip, []byte("moov")) < bytes.Index(clip, []byte("mdat")) {
		t.Fatal("the test clip has its moov first; this test wants it last")
	}
	pic := testPicture(64, 48, nil)
	small := DefaultLimits()
	small.MaxFileBytes = int64(len(clip)) - 1
	tests := []struct {
		name   string
		limits Limits
		data   []byte
		code   Code // "" when it opens
	}{
		{"clip.mp4", DefaultLimits(), clip, ""},
		{"photo.jpg", DefaultLimits(), encodeJPEG(t, pic), ""},
		{"photo.png", DefaultLimits(), encodePNG(t, pic), ""},
		{"shots.zip", DefaultLimits(), buildZip(t, []zipFile{{name: "1.jpg", data: encodeJPEG(t, pic)}, {name: "2.png", data: encodePNG(t, pic)}}), ""},
		{"empty.mp4", DefaultLimits(), nil, CodeEmpty},
		{"large.mp4", small, clip, CodeTooLarge},
		{"large.png", func() Limits { l := DefaultLimits(); l.MaxFileBytes = 100; return l }(), encodePNG(t, pic), CodeTooLarge},
		{"cut.mp4", DefaultLimits(), clip[:2000], CodeCorrupt},
		{"text.mp4", DefaultLimits(), []byte("hello"), CodeUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := NewDecoder(tt.limits)
			d.TempDir = t.TempDir()
			bi, si, bf, sf, be, se := openBoth(t, d, tt.name, tt.data)
			if tt.code != "" {
				wantCode(t, be, tt.code, tt.name)
				wantCode(t, se, tt.code, tt.name)
				if be.Error() != se.Error() {
					t.Errorf("OpenReader error %q, Open error %q", se, be)
				}
			} else {
				if be != nil || se != nil {
					t.Fatalf("Open: %v; OpenReader: %v", be, se)
				}
				if !reflect.DeepEqual(bi, si) {
					t.Errorf("OpenReader info %+v, Open info %+v", si, bi)
				}
				if len(bf) == 0 || len(bf) != len(sf) {
					t.Fatalf("OpenReader gave %d frames, Open %d", len(sf), len(bf))
				}
				for i := range bf {
					if bf[i].Index != sf[i].Index || bf[i].Time != sf[i].Time || !bytes.Equal(bf[i].Image.Pix, sf[i].Image.Pix) {
						t.Errorf("frame %d differs", i)
					}
				}
			}
			if left, _ := globCount(d.TempDir); left != 0 {
				t.Errorf("%d files left in the temp dir", left)
			}
		})
	}
}

// TestOpenReaderStreamError: a stream that breaks is an internal failure, not the media's fault.
func TestOpenReaderStreamError(t *testing.T) {
	t.Parallel()
	broke := errors.New("the store went away")
	for name, data := range map[string][]byte{"clip.mp4": testClip(t), "photo.jpg": encodeJPEG(t, testPicture(64, 48, nil))} {
		d := NewDecoder(DefaultLimits())
		d.TempDir = t.TempDir()
		r := io.MultiReader(bytes.NewReader(data[:len(data)/2]), iotest.ErrReader(broke))
		_, err := d.OpenReader(context.Background(), name, r)
		var me *Error
		if !errors.Is(err, broke) || errors.As(err, &me) {
			t.Errorf("%s: OpenReader = %v, want the stream's error and no *Error", name, err)
		}
		if left, _ := globCount(d.TempDir); left != 0 {
			t.Errorf("%s: %d files left in the temp dir", name, left)
		}
	}
}

// BenchmarkOpenReaderVideo reads a video as a stream into its temporary file and probes it; the
// bytes allocated per op show that the file is not held in memory (about 4 KiB of head and 32
// KiB of copy buffer however long the video).
func BenchmarkOpenReaderVideo(b *testing.B) {
	data := testkit.FFmpegFile(b, "bench.mp4", "-f", "lavfi", "-i", "testsrc=size=640x480:rate=25:duration=4",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-b:v", "8M")
	d := NewDecoder(DefaultLimits())
	d.TempDir = b.TempDir()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		m, err := d.OpenReader(context.Background(), "bench.mp4", bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		m.Close()
	}
}
