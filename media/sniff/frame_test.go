package sniff

import (
	"archive/zip"
	"bytes"
	"fmt"
	"testing"
)

func TestShotSetEntryRule(t *testing.T) {
	for name, want := range map[string]bool{"a/": true, "__MACOSX/x.jpg": true, `__MACOSX\x.jpg`: true, "x/.y.jpg": true,
		".jpg": true, "frame.jpg": false, "a/b/001": false} {
		if got := SkippedEntry(name, false); got != want {
			t.Errorf("SkippedEntry(%q) = %v, want %v", name, got, want)
		}
	}
	if !SkippedEntry("frame.jpg", true) {
		t.Error("a directory is never a frame")
	}
	if FrameFormat([]byte("\xff\xd8\xff\xe0")) != "jpeg" || FrameFormat([]byte("\x89PNG\r\n\x1a\n")) != "png" || FrameFormat([]byte("GIF89a")) != "" {
		t.Error("FrameFormat: JPEG and PNG only")
	}
}

func TestZipEntryCount(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := range 7 {
		if _, err := zw.Create(fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	_ = zw.SetComment("a comment before the end")
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if n, ok := ZipEntryCount(buf.Bytes()); !ok || n != 7 {
		t.Fatalf("ZipEntryCount = %d, %v; want 7", n, ok)
	}
	if _, ok := ZipEntryCount([]byte("not a zip")); ok {
		t.Fatal("a count for something that is not a zip")
	}
}
