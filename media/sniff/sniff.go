// Package sniff says what a file is by its first bytes (magic bytes only; a file name is never
// trusted). It is a leaf of package media: the API sniffs an upload with it before storing it, and
// the decoder opens a file with it, so a file the API accepts is one the decoder opens the same
// way. It imports nothing of the module.
package sniff

import (
	"bytes"
	"encoding/binary"
	"unicode/utf8"
)

// Kind is the kind of a media Bonafide accepts.
type Kind string

// Kinds of media.
const (
	Image   Kind = "image"
	Video   Kind = "video"
	ShotSet Kind = "shot_set" // a zip of frames
)

// Len is how much of a file Sniff looks at: it reads at most the first 1 KiB.
const Len = 1 << 10

// Result is what the first bytes of a file say it is.
type Result struct {
	Kind   Kind   // "" when the format is not one Bonafide accepts
	Format string // the short format name when Kind != "": "jpeg", "mp4", "zip", ...
	What   string // a phrase for messages: "a JPEG image", "a text file", ...
}

// Sniff says what data, the first bytes of a file (Len is enough), is: the kind and format of a
// media Bonafide accepts, else only a phrase for messages. It decodes nothing: the decoder
// checks the rest.
func Sniff(data []byte) Result {
	has := func(off int, magic string) bool {
		return len(data) >= off+len(magic) && string(data[off:off+len(magic)]) == magic
	}
	switch {
	case has(0, "\xFF\xD8\xFF"):
		return Result{Image, "jpeg", "a JPEG image"}
	case has(0, "\x89PNG\r\n\x1A\n"):
		return Result{Image, "png", "a PNG image"}
	case has(0, "RIFF") && has(8, "WEBP"):
		return Result{Image, "webp", "a WebP image"}
	case has(0, "BM") && len(data) >= 26 && binary.LittleEndian.Uint32(data[14:]) >= 12 &&
		binary.LittleEndian.Uint32(data[14:]) <= 124:
		// "BM" then a plausible DIB header size, so that text starting with "BM" is not taken for a bitmap.
		return Result{Image, "bmp", "a BMP image"}
	case has(0, "PK\x03\x04") || has(0, "PK\x05\x06"): // a zip with entries, an empty zip
		return Result{ShotSet, "zip", "a zip archive"}
	case has(0, "RIFF") && has(8, "AVI "):
		return Result{Video, "avi", "an AVI video"}
	case has(0, "\x1A\x45\xDF\xA3"):
		if ebmlDocType(data) == "webm" {
			return Result{Video, "webm", "a WebM video"}
		}
		return Result{Video, "mkv", "a Matroska video"}
	case has(4, "ftyp"):
		return sniffISOBMFF(data)
	case has(4, "moov") || has(4, "mdat") || has(4, "wide") || has(4, "free") || has(4, "skip") || has(4, "pnot"):
		// Old QuickTime files start with a box other than ftyp.
		return Result{Video, "mov", "a QuickTime video"}
	case has(0, "\x00\x00\x01\xBA") || has(0, "\x00\x00\x01\xB3"):
		return Result{Video, "mpeg", "an MPEG video"}
	case len(data) > 188 && data[0] == 0x47 && data[188] == 0x47 && (len(data) <= 376 || data[376] == 0x47):
		return Result{Video, "mpeg", "an MPEG transport stream"}

	// Formats we recognise but do not accept, to say what the file is.
	case has(0, "GIF87a") || has(0, "GIF89a"):
		return Result{What: "a GIF image"}
	case has(0, "II*\x00") || has(0, "MM\x00*"):
		return Result{What: "a TIFF image"}
	case has(0, "\x00\x00\x00\x0CjP  ") || has(0, "\xFF\x4F\xFF\x51"):
		return Result{What: "a JPEG 2000 image"}
	case has(0, "\xFF\x0A") || has(0, "\x00\x00\x00\x0CJXL "):
		return Result{What: "a JPEG XL image"}
	case has(0, "%PDF"):
		return Result{What: "a PDF document"}
	case has(0, "OggS"):
		return Result{What: "an Ogg file"}
	case has(0, "RIFF") && has(8, "WAVE"):
		return Result{What: "a WAV audio file"}
	case has(0, "ID3") || has(0, "fLaC"):
		return Result{What: "an audio file"}
	case has(0, "\x1F\x8B") || has(0, "Rar!") || has(0, "7z\xBC\xAF\x27\x1C") || has(0, "\xFD7zXZ\x00"):
		return Result{What: "an archive other than zip"}
	case has(0, "\x7FELF") || has(0, "MZ"):
		return Result{What: "a program"}
	}
	if looksLikeText(data) {
		head := bytes.ToLower(bytes.TrimLeft(data[:min(len(data), 512)], " \t\r\n\xEF\xBB\xBF"))
		switch {
		case bytes.HasPrefix(head, []byte("<!doctype html")) || bytes.HasPrefix(head, []byte("<html")):
			return Result{What: "an HTML page"}
		case bytes.HasPrefix(head, []byte("<svg")) || (bytes.HasPrefix(head, []byte("<?xml")) && bytes.Contains(head, []byte("<svg"))):
			return Result{What: "an SVG drawing"}
		case bytes.HasPrefix(head, []byte("{")) || bytes.HasPrefix(head, []byte("[")):
			return Result{What: "a text file (JSON)"}
		}
		return Result{What: "a text file"}
	}
	return Result{What: "a file of unknown type"}
}

// sniffISOBMFF tells an ISO base media file (ftyp box at offset 4) by its major brand.
func sniffISOBMFF(data []byte) Result {
	if len(data) < 12 {
		return Result{What: "a truncated MP4/QuickTime file"}
	}
	switch brand := string(data[8:12]); brand {
	case "qt  ":
		return Result{Video, "mov", "a QuickTime video"}
	case "heic", "heix", "hevc", "hevx", "heim", "heis", "mif1", "msf1":
		return Result{What: "a HEIC image"}
	case "avif", "avis":
		return Result{What: "an AVIF image"}
	case "M4A ", "M4B ", "M4P ":
		return Result{What: "an audio file"}
	case "crx ":
		return Result{What: "a camera raw image"}
	}
	return Result{Video, "mp4", "an MP4 video"}
}

// ebmlDocType returns the DocType ("webm", "matroska") of an EBML header, or "" if it is not found in
// the first bytes. ffprobe names both "matroska,webm", so the header is the way to tell them apart.
func ebmlDocType(data []byte) string {
	head := data[:min(len(data), 128)]
	i := bytes.Index(head, []byte{0x42, 0x82}) // DocType element ID
	if i < 0 || i+3 > len(head) {
		return ""
	}
	// The size is an EBML variable-length integer; DocType strings are short, so one byte (0x80|n) is
	// what writers use, but accept the longer forms too.
	b := head[i+2]
	width := 1
	for width <= 8 && b&(0x80>>(width-1)) == 0 {
		width++
	}
	if width > 8 || i+2+width > len(head) {
		return ""
	}
	n := int(b & (0xFF >> width))
	for _, c := range head[i+3 : i+2+width] {
		n = n<<8 | int(c)
	}
	start := i + 2 + width
	if n <= 0 || n > 32 || start+n > len(head) {
		return ""
	}
	return string(bytes.TrimRight(head[start:start+n], "\x00"))
}

// looksLikeText reports whether the first bytes are valid UTF-8 without control characters other than
// ordinary whitespace.
func looksLikeText(data []byte) bool {
	head := data[:min(len(data), 1024)]
	// A multi-byte rune may be cut at the end of head: drop up to 3 trailing bytes.
	for i := 0; i < 3 && len(head) > 0 && !utf8.Valid(head); i++ {
		head = head[:len(head)-1]
	}
	if !utf8.Valid(head) {
		return false
	}
	for _, r := range string(head) {
		if r < 0x20 && r != '\n' && r != '\r' && r != '\t' && r != '\f' {
			return false
		}
		if r == 0x7F {
			return false
		}
	}
	return true
}
