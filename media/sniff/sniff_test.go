package sniff

import "testing"

func TestSniff(t *testing.T) {
	t.Parallel()
	riff := func(form string) []byte { return append([]byte("RIFF\x10\x00\x00\x00"), form...) }
	tests := []struct {
		name   string
		data   []byte
		kind   Kind
		format string
		what   string
	}{
		{"jpeg", []byte("\xFF\xD8\xFF\xE0rest"), Image, "jpeg", ""},
		{"png", []byte("\x89PNG\r\n\x1A\nrest"), Image, "png", ""},
		{"webp", riff("WEBPVP8 "), Image, "webp", ""},
		{"bmp", append([]byte("BM"), make([]byte, 12)...), "", "", "a file of unknown type"},
		{"zip", []byte("PK\x03\x04rest"), ShotSet, "zip", ""},
		{"avi", riff("AVI LIST"), Video, "avi", ""},
		{"mp4", []byte("\x00\x00\x00\x20ftypisom\x00\x00\x02\x00"), Video, "mp4", ""},
		{"mov", []byte("\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00"), Video, "mov", ""},
		{"old mov", []byte("\x00\x00\x00\x08wide\x00\x00"), Video, "mov", ""},
		{"heic", []byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00"), "", "", "a HEIC image"},
		{"webm", []byte("\x1A\x45\xDF\xA3\x9F\x42\x86\x81\x01\x42\x82\x84webm\x42\x87"), Video, "webm", ""},
		{"mkv", []byte("\x1A\x45\xDF\xA3\xA3\x42\x86\x81\x01\x42\x82\x88matroska"), Video, "mkv", ""},
		{"mpeg-ps", []byte("\x00\x00\x01\xBA\x44"), Video, "mpeg", ""},
		{"gif", []byte("GIF89a...."), "", "", "a GIF image"},
		{"text", []byte("hello, this is not a video\n"), "", "", "a text file"},
		{"html", []byte("  <!DOCTYPE html><html></html>"), "", "", "an HTML page"},
		{"json", []byte(`{"a": 1}`), "", "", "a text file (JSON)"},
		{"pdf", []byte("%PDF-1.7"), "", "", "a PDF document"},
		{"binary", []byte{0, 1, 2, 3, 4, 5}, "", "", "a file of unknown type"},
	}
	for _, tt := range tests {
		got := Sniff(tt.data)
		if got.Kind != tt.kind || got.Format != tt.format || (tt.what != "" && got.What != tt.what) {
			t.Errorf("%s: Sniff = %+v, want kind %q format %q what %q", tt.name, got, tt.kind, tt.format, tt.what)
		}
	}
}

// FuzzSniff: any bytes give a result, and a kind always comes with a format.
func FuzzSniff(f *testing.F) {
	for _, seed := range []string{"\xFF\xD8\xFF", "RIFF\x10\x00\x00\x00WEBP", "\x1A\x45\xDF\xA3\x42\x82\x84webm", "\x00\x00\x00\x20ftypisom", "BM"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := Sniff(data)
		if (r.Kind != "") != (r.Format != "") || r.What == "" {
			t.Errorf("Sniff(%q) = %+v", data, r)
		}
	})
}
