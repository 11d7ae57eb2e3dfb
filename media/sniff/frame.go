package sniff

import (
	"bytes"
	"encoding/binary"
	"math"
	"path"
	"strings"
)

// The frames of a shot set: the one rule, used by the decoder (which entries it analyses) and the
// API (which entries it lists in source_media[].images[] and serves), so that frame i is the same
// picture for both. Entries are taken in name order; directories, macOS resource forks and
// dotfiles are never frames; an entry is a frame when its first bytes are a JPEG or PNG image.

// SkippedEntry reports a shot-set entry name that is never a frame: a directory, a macOS
// resource fork (__MACOSX/) or a dotfile. Backslashes count as separators.
func SkippedEntry(name string, isDir bool) bool {
	if isDir || strings.HasSuffix(name, "/") {
		return true
	}
	n := strings.ReplaceAll(name, `\`, "/")
	if strings.HasPrefix(n, "__MACOSX/") {
		return true
	}
	return strings.HasPrefix(path.Base(n), ".")
}

// FrameFormat is the format of a shot-set entry whose first bytes are head, when it is a frame:
// "jpeg" or "png"; "" otherwise.
func FrameFormat(head []byte) string {
	if f := Sniff(head).Format; f == "jpeg" || f == "png" {
		return f
	}
	return ""
}

// ZipEntryCount reads the entry count of a zip's end-of-central-directory record (or of its ZIP64
// version), so that a huge directory can be refused before it is parsed; false when data has no
// such record.
func ZipEntryCount(data []byte) (int, bool) {
	const eocdLen, locatorLen = 22, 20
	start := max(0, len(data)-eocdLen-0xFFFF)
	i := bytes.LastIndex(data[start:], []byte("PK\x05\x06"))
	if i < 0 || start+i+eocdLen > len(data) {
		return 0, false
	}
	i += start
	if n := binary.LittleEndian.Uint16(data[i+10:]); n != 0xFFFF {
		return int(n), true
	}
	// ZIP64: a locator just before the record gives the offset of the ZIP64 record.
	loc := i - locatorLen
	if loc < 0 || string(data[loc:loc+4]) != "PK\x06\x07" {
		return 0, false
	}
	off := binary.LittleEndian.Uint64(data[loc+8:])
	if len(data) < 56 || off > uint64(len(data)-56) || string(data[off:off+4]) != "PK\x06\x06" {
		return 0, false
	}
	n := binary.LittleEndian.Uint64(data[off+32:])
	if n > math.MaxInt32 {
		return math.MaxInt32, true
	}
	return int(n), true
}
