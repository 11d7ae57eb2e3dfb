package api

import (
	"archive/zip"
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"strings"
	"testing"

	"bonafide"
	"bonafide/internal/oascheck"
)

// tuShotSet zips frames (named so that name order is the given order) with the entries a shot
// set may carry that are not frames: a directory, a macOS resource fork, a dotfile, a text file.
func tuShotSet(t *testing.T, frames ...[]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name string, data []byte) {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := zw.Create("frames/"); err != nil {
		t.Fatal(err)
	}
	add("__MACOSX/frames/._000.jpg", frames[0])
	add("frames/.hidden.jpg", frames[0])
	add("frames/readme.txt", []byte("not a frame"))
	for i, f := range frames {
		add(fmt.Sprintf("frames/%03d.img", i), f) // the name says nothing: the bytes tell
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func tuPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	img.Set(1, 1, color.RGBA{R: 255, A: 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// A shot set lists its frames in images[], in the media object and in an analysis's
// source_media[] (Oz's source_media[].images[].original_url); each URL is signed like the others
// and serves that frame with its type; an altered link is 403, a frame that is not there or another
// tenant's is 404, and every answer matches api/openapi.yaml.
func TestShotSetFrames(t *testing.T) {
	env := tuServer(t)
	c := oaChecker(t)
	rt := c.Transport(nil, t)
	env.client.Transport = rt
	u := env.tuUserLoggedIn(bonafide.RoleClient, env.tuCompany("Acme").ID, "frames@acme.example.com")
	stranger := env.tuUserLoggedIn(bonafide.RoleClient, env.tuCompany("Other").ID, "stranger@other.example.com")
	jpg := tuJPEG(t)
	frames := [][]byte{jpg, tuPNG(t), append(append([]byte{}, jpg...), 0)} // the third differs by a trailing byte
	form := tuMultipart(t, map[string][]byte{"video1": tuShotSet(t, frames...)},
		map[string]any{"media:tags": map[string][]string{"video1": {"video_selfie", "video_selfie_blank"}}})
	f := env.tuDo("POST", "/api/folders", u.Token, form).tuExpect(http.StatusCreated, 0).Obj()
	m := f["media"].([]any)[0].(map[string]any)
	if m["media_type"] != string(bonafide.KindShotSet) {
		t.Fatalf("media_type %v, want a shot set", m["media_type"])
	}
	if info, _ := m["info"].(map[string]any); info["frames"] != float64(3) {
		t.Fatalf("info %v: want frames 3", m["info"])
	}
	urls := func(images any) []string {
		t.Helper()
		list, _ := images.([]any)
		var out []string
		for _, im := range list {
			out = append(out, im.(map[string]any)["original_url"].(string))
		}
		return out
	}
	got := urls(m["images"])
	if len(got) != 3 {
		t.Fatalf("images %v: want the 3 frames (not the directory, fork, dotfile or text)", m["images"])
	}
	folderID, mediaID := f["folder_id"].(string), m["media_id"].(string)
	for i, link := range got {
		if !strings.HasPrefix(link, fmt.Sprintf("%s/static/%s/%s.zip/images/%d?expires=", env.URL, folderID, mediaID, i)) || !strings.Contains(link, "&signature=") {
			t.Fatalf("frame %d: %q is not a signed frame URL", i, link)
		}
		r := env.tuDo("GET", link, "", nil).tuExpect(http.StatusOK, 0)
		if !bytes.Equal(r.Body, frames[i]) {
			t.Errorf("frame %d: %d bytes, not the frame zipped", i, len(r.Body))
		}
		if want := map[int]string{0: "image/jpeg", 1: "image/png", 2: "image/jpeg"}[i]; r.Header.Get("Content-Type") != want {
			t.Errorf("frame %d: Content-Type %q, want %q", i, r.Header.Get("Content-Type"), want)
		}
	}

	// The analysis lists the same frames in source_media[].images[].
	aid := env.tuStartAnalysis(u, folderID)
	a := env.tuDo("GET", "/api/analyses/"+aid, u.Token, nil).tuExpect(http.StatusOK, 0).Obj()
	src := a["source_media"].([]any)[0].(map[string]any)
	if s := urls(src["images"]); len(s) != 3 || s[1] != got[1] {
		t.Fatalf("source_media[0].images %v: want the media's frames", src["images"])
	}

	// Signed like the others: altered, 403; without a signature, the token and the tenancy.
	path, query, _ := strings.Cut(got[1], "?")
	env.tuDo("GET", strings.Replace(path, "/images/1", "/images/2", 1)+"?"+query, "", nil).tuExpect(http.StatusForbidden, int(bonafide.CodeForbidden))
	env.tuDo("GET", path, "", nil).tuExpect(http.StatusUnauthorized, int(bonafide.CodeAuthNotProvided))
	if r := env.tuDo("GET", path, u.Token, nil).tuExpect(http.StatusOK, 0); !bytes.Equal(r.Body, frames[1]) {
		t.Errorf("unsigned frame with the token: %d bytes", len(r.Body))
	}
	env.tuDo("GET", path, stranger.Token, nil).tuExpect(http.StatusNotFound, int(bonafide.CodeNotExist))
	for _, bad := range []string{"/images/3", "/images/01", "/images/-1", "/images/x", "/frames/1"} {
		env.tuDo("GET", strings.Replace(path, "/images/1", bad, 1), u.Token, nil).tuExpect(http.StatusNotFound, int(bonafide.CodeNotExist))
	}
	// A photo has no frames.
	photo := env.tuFolder(u)["media"].([]any)[0].(map[string]any)
	if _, has := photo["images"]; has {
		t.Errorf("a photo lists images: %v", photo["images"])
	}
	env.tuDo("GET", "/static/"+folderID+"/"+mediaID+".jpeg/images/0", u.Token, nil).tuExpect(http.StatusNotFound, int(bonafide.CodeNotExist))
	if n := oascheck.Checked(rt); n < 10 {
		t.Errorf("the checker saw %d responses", n)
	}
}

// The frame listing and the frame key take untrusted bytes and paths: never a panic, every
// listed frame a JPEG or PNG, at most maxShotSetEntries.
func FuzzShotSetFrames(f *testing.F) {
	f.Add([]byte("PK\x05\x06"), "f/m.zip/images/0")
	f.Add([]byte{}, "f/m.zip/images/01")
	f.Fuzz(func(t *testing.T, data []byte, key string) {
		frames, formats := shotSetFrames(data)
		if len(frames) != len(formats) || len(frames) > maxShotSetEntries {
			t.Fatalf("%d frames, %d formats", len(frames), len(formats))
		}
		for _, format := range formats {
			if format != "jpeg" && format != "png" {
				t.Fatalf("format %q", format)
			}
		}
		if zipKey, n, ok := parseFrameKey(key); ok && (frameKey(zipKey, n) != key || strings.Contains(zipKey, "..")) {
			t.Fatalf("%q parsed as %q, %d", key, zipKey, n)
		}
	})
}
