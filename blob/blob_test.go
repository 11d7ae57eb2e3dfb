package blob_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"bonafide"
	"bonafide/blob"
)

// iotestErrReader always fails.
type iotestErrReader struct{}

func (iotestErrReader) Read([]byte) (int, error) { return 0, errors.New("the upload broke") }

// suite runs the conformance tests against a freshly opened bucket; prefix isolates keys.
func suite(t *testing.T, open func(t *testing.T) *blob.Bucket, prefix string) {
	t.Helper()
	ctx := context.Background()

	t.Run("PutGetOpenDelete", func(t *testing.T) {
		b := open(t)
		key := prefix + "folders/f1/media-1.jpg"
		data := []byte("hello, blob")
		if err := b.Put(ctx, key, data, "image/jpeg"); err != nil {
			t.Fatalf("Put: %v", err)
		}
		got, err := b.Get(ctx, key)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("Get = %q, %v; want %q", got, err, data)
		}
		rc, err := b.Open(ctx, key)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		got, err = io.ReadAll(rc)
		if cerr := rc.Close(); cerr != nil {
			t.Errorf("Close reader: %v", cerr)
		}
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("Open/ReadAll = %q, %v; want %q", got, err, data)
		}
		ok, err := b.Exists(ctx, key)
		if err != nil || !ok {
			t.Fatalf("Exists = %v, %v; want true", ok, err)
		}
		n, err := b.Size(ctx, key)
		if err != nil || n != int64(len(data)) {
			t.Fatalf("Size = %d, %v; want %d", n, err, len(data))
		}

		// Overwrite replaces the object.
		data2 := []byte("second version, longer than the first")
		if err := b.Put(ctx, key, data2, "application/octet-stream"); err != nil {
			t.Fatalf("Put overwrite: %v", err)
		}
		if got, err := b.Get(ctx, key); err != nil || !bytes.Equal(got, data2) {
			t.Fatalf("Get after overwrite = %q, %v", got, err)
		}

		if err := b.Delete(ctx, key); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		ok, err = b.Exists(ctx, key)
		if err != nil || ok {
			t.Fatalf("Exists after Delete = %v, %v; want false", ok, err)
		}
		if _, err := b.Get(ctx, key); !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("Get after Delete: err = %v; want ErrNotFound", err)
		}
	})

	t.Run("EmptyObject", func(t *testing.T) {
		b := open(t)
		key := prefix + "empty"
		if err := b.Put(ctx, key, nil, ""); err != nil {
			t.Fatalf("Put: %v", err)
		}
		got, err := b.Get(ctx, key)
		if err != nil || len(got) != 0 {
			t.Fatalf("Get = %q, %v; want empty", got, err)
		}
		if n, err := b.Size(ctx, key); err != nil || n != 0 {
			t.Fatalf("Size = %d, %v; want 0", n, err)
		}
		if err := b.Delete(ctx, key); err != nil {
			t.Fatalf("Delete: %v", err)
		}
	})

	t.Run("MissingIsNotFound", func(t *testing.T) {
		b := open(t)
		key := prefix + "no/such/key"
		ops := map[string]func() error{
			"Get":    func() error { _, err := b.Get(ctx, key); return err },
			"Open":   func() error { _, err := b.Open(ctx, key); return err },
			"Delete": func() error { return b.Delete(ctx, key) },
			"Size":   func() error { _, err := b.Size(ctx, key); return err },
		}
		for name, op := range ops {
			err := op()
			if !errors.Is(err, blob.ErrNotFound) {
				t.Errorf("%s: err = %v; want ErrNotFound", name, err)
			} else if !strings.Contains(err.Error(), key) {
				t.Errorf("%s: error %q does not name the key", name, err)
			}
		}
		ok, err := b.Exists(ctx, key)
		if err != nil || ok {
			t.Errorf("Exists = %v, %v; want false, nil", ok, err)
		}
	})

	t.Run("BadKeysRefused", func(t *testing.T) {
		b := open(t)
		for _, key := range []string{
			"", "/abs", "..", "../x", "a/../b", "a/..", "./a", "a//b", "a/", "a\\b", "a\x00b", "x.attrs",
		} {
			if err := b.Put(ctx, key, []byte("x"), ""); !errors.Is(err, blob.ErrInvalidKey) {
				t.Errorf("Put(%q): err = %v; want ErrInvalidKey", key, err)
			}
			if _, err := b.Get(ctx, key); !errors.Is(err, blob.ErrInvalidKey) {
				t.Errorf("Get(%q): err = %v; want ErrInvalidKey", key, err)
			}
			if _, err := b.Open(ctx, key); !errors.Is(err, blob.ErrInvalidKey) {
				t.Errorf("Open(%q): err = %v; want ErrInvalidKey", key, err)
			}
			if err := b.Delete(ctx, key); !errors.Is(err, blob.ErrInvalidKey) {
				t.Errorf("Delete(%q): err = %v; want ErrInvalidKey", key, err)
			}
			if _, err := b.Exists(ctx, key); !errors.Is(err, blob.ErrInvalidKey) {
				t.Errorf("Exists(%q): err = %v; want ErrInvalidKey", key, err)
			}
			if _, err := b.Size(ctx, key); !errors.Is(err, blob.ErrInvalidKey) {
				t.Errorf("Size(%q): err = %v; want ErrInvalidKey", key, err)
			}
		}
		// Dots inside names are fine.
		for _, key := range []string{prefix + "a..b", prefix + "v1.2/x.jpg", prefix + ".hidden"} {
			if err := b.Put(ctx, key, []byte("x"), ""); err != nil {
				t.Errorf("Put(%q): %v", key, err)
			}
			if err := b.Delete(ctx, key); err != nil {
				t.Errorf("Delete(%q): %v", key, err)
			}
		}
	})

	t.Run("UploadAndList", func(t *testing.T) {
		b := open(t)
		before := time.Now().Add(-time.Minute)
		data := make([]byte, 3<<20+17)
		if _, err := rand.Read(data); err != nil {
			t.Fatal(err)
		}
		keys := []string{prefix + "list/f1/a.jpg", prefix + "list/f1/b.mp4", prefix + "list/f2/c.zip"}
		for _, k := range keys {
			if err := b.Upload(ctx, k, bytes.NewReader(data), "application/octet-stream"); err != nil {
				t.Fatalf("Upload %s: %v", k, err)
			}
		}
		if got, err := b.Get(ctx, keys[0]); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("Get after Upload: %v (len %d)", err, len(got))
		}
		// A reader that fails leaves nothing under its key.
		failing := io.MultiReader(bytes.NewReader(data[:1<<20]), iotestErrReader{})
		if err := b.Upload(ctx, prefix+"list/f3/broken.jpg", failing, "image/jpeg"); err == nil {
			t.Fatal("Upload from a failing reader succeeded")
		}
		seen := map[string]int64{}
		err := b.List(ctx, prefix+"list/", func(o bonafide.BlobInfo) error {
			if o.ModTime.Before(before) || o.ModTime.After(time.Now().Add(time.Minute)) {
				t.Errorf("%s: modification time %v is not about now", o.Key, o.ModTime)
			}
			seen[o.Key] = o.Size
			return nil
		})
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		if len(seen) != len(keys) {
			t.Fatalf("List saw %v, want exactly %v", seen, keys)
		}
		for _, k := range keys {
			if seen[k] != int64(len(data)) {
				t.Errorf("List: %s size %d, want %d", k, seen[k], len(data))
			}
		}
		stop := errors.New("stop")
		n := 0
		if err := b.List(ctx, prefix+"list/", func(bonafide.BlobInfo) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
			t.Fatalf("List stopped by fn: %v after %d, want the fn's error after 1", err, n)
		}
	})

	t.Run("Large5MB", func(t *testing.T) {
		b := open(t)
		key := prefix + "large.bin"
		data := make([]byte, 5<<20)
		if _, err := rand.Read(data); err != nil {
			t.Fatal(err)
		}
		if err := b.Put(ctx, key, data, "application/octet-stream"); err != nil {
			t.Fatalf("Put: %v", err)
		}
		if n, err := b.Size(ctx, key); err != nil || n != int64(len(data)) {
			t.Fatalf("Size = %d, %v; want %d", n, err, len(data))
		}
		got, err := b.Get(ctx, key)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("Get: %v (len %d, equal %v)", err, len(got), bytes.Equal(got, data))
		}
		rc, err := b.Open(ctx, key)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer rc.Close()
		got, err = io.ReadAll(rc)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("Open/ReadAll: %v (len %d)", err, len(got))
		}
		if err := b.Delete(ctx, key); err != nil {
			t.Fatalf("Delete: %v", err)
		}
	})

	t.Run("ConcurrentPuts", func(t *testing.T) {
		b := open(t)
		const n = 32
		var wg sync.WaitGroup
		errs := make(chan error, 2*n)
		for i := range n {
			wg.Go(func() {
				key := fmt.Sprintf("%sconc/%02d", prefix, i)
				if err := b.Put(ctx, key, bytes.Repeat([]byte{byte(i)}, 1000+i), ""); err != nil {
					errs <- err
				}
				// Everyone also writes the same key; the result must be one whole version.
				if err := b.Put(ctx, prefix+"conc/shared", bytes.Repeat([]byte{byte(i)}, 4096), ""); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("concurrent Put: %v", err)
		}
		for i := range n {
			key := fmt.Sprintf("%sconc/%02d", prefix, i)
			got, err := b.Get(ctx, key)
			if err != nil || !bytes.Equal(got, bytes.Repeat([]byte{byte(i)}, 1000+i)) {
				t.Errorf("Get(%q): len %d, %v", key, len(got), err)
			}
			_ = b.Delete(ctx, key)
		}
		got, err := b.Get(ctx, prefix+"conc/shared")
		if err != nil || len(got) != 4096 || !bytes.Equal(got, bytes.Repeat(got[:1], 4096)) {
			t.Errorf("shared key torn or missing: len %d, %v", len(got), err)
		}
		_ = b.Delete(ctx, prefix+"conc/shared")
	})
}

func TestFile(t *testing.T) {
	t.Parallel()
	suite(t, func(t *testing.T) *blob.Bucket {
		dir := filepath.Join(t.TempDir(), "media", "nested") // does not exist yet
		b, err := blob.Open(context.Background(), "file://"+filepath.ToSlash(dir))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() {
			if err := b.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return b
	}, "")
}

func TestMem(t *testing.T) {
	t.Parallel()
	suite(t, func(t *testing.T) *blob.Bucket {
		b, err := blob.Open(context.Background(), "mem://")
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { _ = b.Close() })
		return b
	}, "")
}

func TestS3(t *testing.T) {
	u := os.Getenv("BONAFIDE_TEST_S3_URL")
	if u == "" {
		t.Skip("BONAFIDE_TEST_S3_URL not set (e.g. s3://bucket?endpoint=http://127.0.0.1:PORT&use_path_style=true&region=us-east-1)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := blob.Open(ctx, u)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := blob.CreateS3Bucket(ctx, b); err != nil {
		t.Fatalf("CreateS3Bucket: %v", err)
	}
	// A second call is a no-op.
	if err := blob.CreateS3Bucket(ctx, b); err != nil {
		t.Fatalf("CreateS3Bucket again: %v", err)
	}
	_ = b.Close()
	prefix := fmt.Sprintf("test-%d/", time.Now().UnixNano())
	suite(t, func(t *testing.T) *blob.Bucket {
		b, err := blob.Open(context.Background(), u)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { _ = b.Close() })
		return b
	}, prefix)
}

func TestFileLayout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "a", "b")
	b, err := blob.Open(ctx, "file://"+filepath.ToSlash(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Fatalf("dir not created: %v", err)
	}
	if err := b.Put(ctx, "f/m.jpg", []byte("jpeg"), "image/jpeg"); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "f", "m.jpg"))
	if err != nil || string(got) != "jpeg" {
		t.Fatalf("file on disk = %q, %v", got, err)
	}
	// One file per object: no metadata sidecar that a crash between two writes could leave behind.
	entries, err := os.ReadDir(filepath.Join(dir, "f"))
	if err != nil || len(entries) != 1 || entries[0].Name() != "m.jpg" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("files beside the object: %v, %v; want only m.jpg", names, err)
	}
	// A sidecar left by an earlier version goes with its object.
	if err := os.WriteFile(filepath.Join(dir, "f", "m.jpg.attrs"), []byte(`{"user.content_type":"image/jpeg"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(ctx, "f/m.jpg"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "f", "m.jpg.attrs")); !os.IsNotExist(err) {
		t.Fatalf("old sidecar after Delete: %v; want it gone", err)
	}
}

func TestOpenRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, u := range []string{
		"gs://bucket",
		"azblob://c",
		"ftp://host/dir",
		"/var/lib/bonafide/media",
		"",
		"file://./relative",
		"file://host/dir",
		"file:///tmp/x?metadata=skip",
		"s3://",
		"://bad",
	} {
		b, err := blob.Open(ctx, u)
		if err == nil {
			_ = b.Close()
			t.Errorf("Open(%q): no error", u)
			continue
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("%q", u)) {
			t.Errorf("Open(%q): error %q does not name the URL", u, err)
		}
	}
	_, err := blob.Open(ctx, "gs://bucket")
	for _, s := range []string{"file://", "mem://", "s3://"} {
		if err == nil || !strings.Contains(err.Error(), s) {
			t.Errorf("unknown scheme error %v does not list %s", err, s)
		}
	}
}

func TestCreateS3BucketRefusesNonS3(t *testing.T) {
	t.Parallel()
	b, err := blob.Open(context.Background(), "mem://")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := blob.CreateS3Bucket(context.Background(), b); err == nil {
		t.Fatal("CreateS3Bucket on mem:// succeeded")
	}
}

func BenchmarkFilePut1MB(b *testing.B) {
	ctx := context.Background()
	bk, err := blob.Open(ctx, "file://"+filepath.ToSlash(b.TempDir()))
	if err != nil {
		b.Fatal(err)
	}
	defer bk.Close()
	data := make([]byte, 1<<20)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := bk.Put(ctx, "bench/obj", data, "application/octet-stream"); err != nil {
			b.Fatal(err)
		}
	}
}
