// Package blob stores media bytes in a bucket opened from a URL via gocloud.dev/blob.
//
// Supported URLs:
//
//   - file:///abs/dir            local disk; the directory is created if missing, and objects are
//     written to a temporary file in the same directory and then renamed into place (one file per
//     object: no metadata sidecar, so the content type given to Put is not kept on disk).
//   - mem://                     in-memory (tests).
//   - s3://bucket?endpoint=...&use_path_style=true&region=...   any S3-compatible store.
//     Credentials come from the usual AWS environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY);
//     without them the SDK falls back to instance metadata.
package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/blob/memblob"
	"gocloud.dev/blob/s3blob"
	"gocloud.dev/gcerrors"

	"bonafide"
)

// ErrNotFound is returned (wrapped) when a key does not exist.
var ErrNotFound = errors.New("blob: not found")

// ErrInvalidKey is returned (wrapped) when a key is empty, absolute, or contains "..".
var ErrInvalidKey = errors.New("blob: invalid key")

// SupportedSchemes lists the URL schemes Open accepts.
var SupportedSchemes = []string{"file", "mem", "s3"}

// Bucket is media storage backed by a gocloud.dev bucket.
type Bucket struct {
	b      *blob.Bucket
	scheme string
	name   string // S3 bucket name; "" otherwise
}

var _ bonafide.Blobs = (*Bucket)(nil)

// Open opens the bucket named by rawURL (file://, mem:// or s3://).
func Open(ctx context.Context, rawURL string) (*Bucket, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("blob: parse URL %q: %w", rawURL, err)
	}
	var b *blob.Bucket
	switch u.Scheme {
	case "file":
		b, err = openFile(u)
	case "mem":
		b = memblob.OpenBucket(nil)
	case "s3":
		if u.Host == "" {
			return nil, fmt.Errorf("blob: URL %q names no bucket (want s3://bucket?endpoint=...)", rawURL)
		}
		b, err = (&s3blob.URLOpener{}).OpenBucketURL(ctx, u)
	default:
		return nil, fmt.Errorf("blob: unsupported URL %q: scheme must be one of %s",
			rawURL, strings.Join(schemesWithSep(), ", "))
	}
	if err != nil {
		return nil, fmt.Errorf("blob: open %q: %w", rawURL, err)
	}
	bk := &Bucket{b: b, scheme: u.Scheme}
	if u.Scheme == "s3" {
		bk.name = u.Host
	}
	return bk, nil
}

func schemesWithSep() []string {
	out := make([]string, len(SupportedSchemes))
	for i, s := range SupportedSchemes {
		out[i] = s + "://"
	}
	return out
}

// openFile opens a fileblob bucket; only absolute paths (file:///abs/dir) are accepted.
func openFile(u *url.URL) (*blob.Bucket, error) {
	if u.Host != "" && u.Host != "localhost" {
		return nil, fmt.Errorf("file URL must be file:///absolute/dir (host %q not allowed)", u.Host)
	}
	dir := filepath.FromSlash(u.Path)
	if !filepath.IsAbs(dir) {
		return nil, fmt.Errorf("file URL path %q is not absolute", u.Path)
	}
	for k := range u.Query() {
		return nil, fmt.Errorf("file URL takes no query parameters (got %q)", k)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	return fileblob.OpenBucket(dir, &fileblob.Options{
		CreateDir:   true,
		DirFileMode: 0o750,
		// Temporary files go next to the final path and are renamed into place, so writes
		// are atomic even when os.TempDir is on another filesystem.
		NoTempDir: true,
		// No "<key>.attrs" sidecar: fileblob writes it before renaming the data into place, so a
		// crash between the two left a sidecar that no listing shows and no sweep removes. Nothing
		// here reads the stored content type back (the API keeps it in the media row), so every
		// write is one rename. Delete still removes a sidecar written by an earlier version.
		Metadata: fileblob.MetadataDontWrite,
	})
}

// ValidateKey reports whether key is acceptable: non-empty, not starting with "/",
// no ".." path element, no empty path elements, no NUL or backslash.
func ValidateKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: empty", ErrInvalidKey)
	case strings.HasPrefix(key, "/"):
		return fmt.Errorf("%w %q: leading /", ErrInvalidKey, key)
	case strings.HasSuffix(key, "/"):
		return fmt.Errorf("%w %q: trailing /", ErrInvalidKey, key)
	case strings.ContainsAny(key, "\x00\\"):
		return fmt.Errorf("%w %q: NUL or backslash", ErrInvalidKey, key)
	case strings.HasSuffix(key, ".attrs"):
		// fileblob hides "<key>.attrs" from listings and deletes it with <key>: the metadata
		// sidecars earlier versions wrote.
		return fmt.Errorf("%w %q: reserved suffix .attrs", ErrInvalidKey, key)
	}
	for _, el := range strings.Split(key, "/") {
		switch el {
		case "..", ".":
			return fmt.Errorf("%w %q: %q path element", ErrInvalidKey, key, el)
		case "":
			return fmt.Errorf("%w %q: empty path element", ErrInvalidKey, key)
		}
	}
	return nil
}

// wrap translates a gocloud error, mapping NotFound to ErrNotFound.
func wrap(op, key string, err error) error {
	if err == nil {
		return nil
	}
	if gcerrors.Code(err) == gcerrors.NotFound {
		// Also a *bonafide.Error of code CodeNotExist, so callers need not import this package.
		return fmt.Errorf("blob: %s %q: %w", op, key, errors.Join(ErrNotFound, bonafide.NotFound("file", key), err))
	}
	return fmt.Errorf("blob: %s %q: %w", op, key, err)
}

// Put stores data under key, replacing any existing object.
func (b *Bucket) Put(ctx context.Context, key string, data []byte, contentType string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	var opts *blob.WriterOptions
	if contentType != "" {
		opts = &blob.WriterOptions{ContentType: contentType}
	}
	return wrap("put", key, b.b.WriteAll(ctx, key, data, opts))
}

// Upload stores what r yields under key, streaming it, replacing any existing object. When r
// fails the write is aborted and no new object is left under key.
func (b *Bucket) Upload(ctx context.Context, key string, r io.Reader, contentType string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	// gocloud's own Upload commits what was read when r fails; cancelling the writer's context
	// before Close aborts the write instead.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := b.b.NewWriter(wctx, key, &blob.WriterOptions{ContentType: contentType})
	if err != nil {
		return wrap("upload", key, err)
	}
	if _, err := io.Copy(w, r); err != nil {
		cancel()
		_ = w.Close()
		return wrap("upload", key, err)
	}
	return wrap("upload", key, w.Close())
}

// List calls fn with every object whose key starts with prefix, in key order, with its size and
// modification time. A sidecar ".attrs" file of an earlier version is not listed; a leftover temporary file
// of an interrupted write ("<key>.<hex>.tmp") is, like any object. An object deleted while the
// listing walks past it (another node's sweep) is skipped: fileblob then fails the walk, and the
// listing resumes after the last key it gave.
func (b *Bucket) List(ctx context.Context, prefix string, fn func(bonafide.BlobInfo) error) error {
	last, started := "", false
	for restarts := 0; ; restarts++ {
		it := b.b.List(&blob.ListOptions{Prefix: prefix})
		for {
			obj, err := it.Next(ctx)
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				if gcerrors.Code(err) == gcerrors.NotFound && restarts < 100 {
					break
				}
				return wrap("list", prefix, err)
			}
			if obj.IsDir || (started && obj.Key <= last) {
				continue
			}
			last, started = obj.Key, true
			if err := fn(bonafide.BlobInfo{Key: obj.Key, Size: obj.Size, ModTime: obj.ModTime}); err != nil {
				return err
			}
		}
	}
}

// Get returns the whole object.
func (b *Bucket) Get(ctx context.Context, key string) ([]byte, error) {
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	data, err := b.b.ReadAll(ctx, key)
	if err != nil {
		return nil, wrap("get", key, err)
	}
	return data, nil
}

// Open returns a reader over the object; the caller closes it.
func (b *Bucket) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	r, err := b.b.NewReader(ctx, key, nil)
	if err != nil {
		return nil, wrap("open", key, err)
	}
	return r, nil
}

// Delete removes the object. Deleting a missing key returns ErrNotFound.
func (b *Bucket) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	return wrap("delete", key, b.b.Delete(ctx, key))
}

// Exists reports whether the object exists.
func (b *Bucket) Exists(ctx context.Context, key string) (bool, error) {
	if err := ValidateKey(key); err != nil {
		return false, err
	}
	ok, err := b.b.Exists(ctx, key)
	if err != nil {
		return false, wrap("exists", key, err)
	}
	return ok, nil
}

// Size returns the object's size in bytes.
func (b *Bucket) Size(ctx context.Context, key string) (int64, error) {
	if err := ValidateKey(key); err != nil {
		return 0, err
	}
	a, err := b.b.Attributes(ctx, key)
	if err != nil {
		return 0, wrap("size", key, err)
	}
	return a.Size, nil
}

// Close releases the bucket.
func (b *Bucket) Close() error { return b.b.Close() }

// As exposes the driver's types (for s3://, **s3.Client); see gocloud.dev/blob.Bucket.As.
func (b *Bucket) As(i any) bool { return b.b.As(i) }

// CreateS3Bucket creates the S3 bucket behind b (gocloud cannot create buckets). It is a no-op
// if the bucket already exists and is owned by the caller. It fails for non-S3 buckets.
func CreateS3Bucket(ctx context.Context, b *Bucket) error {
	var client *s3.Client
	if b.scheme != "s3" || !b.b.As(&client) {
		return fmt.Errorf("blob: CreateS3Bucket: not an s3:// bucket (scheme %q)", b.scheme)
	}
	in := &s3.CreateBucketInput{Bucket: aws.String(b.name)}
	// Outside us-east-1, AWS wants the region repeated as the location constraint.
	if r := client.Options().Region; r != "" && r != "us-east-1" {
		in.CreateBucketConfiguration = &s3types.CreateBucketConfiguration{
			LocationConstraint: s3types.BucketLocationConstraint(r),
		}
	}
	_, err := client.CreateBucket(ctx, in)
	if err != nil {
		var owned *s3types.BucketAlreadyOwnedByYou
		if errors.As(err, &owned) {
			return nil
		}
		return fmt.Errorf("blob: create S3 bucket %q: %w", b.name, err)
	}
	return nil
}
