package api

// Signed media URLs: every original_url the API renders carries ?expires=<unix>&signature=<hex>, an
// HMAC-SHA256 over the path and the expiry with the installation's key, like an S3 presigned URL.
// A browser can fetch() it without the token header (Oz serves /static/ openly behind its nginx),
// yet it gives nothing away: it names one file, cannot be altered, and dies at its expiry. Without
// a signature /static/ still takes the token header, as before.

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"time"

	"bonafide"
)

// DefaultURLLifetime is how long a rendered media URL works.
const DefaultURLLifetime = time.Hour

// NewURLKey returns a fresh random key for signing URLs (64 hex characters).
func NewURLKey() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// signature is the HMAC of a /static/ path and its expiry.
func (s *Server) signature(path string, expires int64) string {
	m := hmac.New(sha256.New, s.urlKey)
	m.Write([]byte(path))
	m.Write([]byte{0})
	m.Write([]byte(strconv.FormatInt(expires, 10)))
	return hex.EncodeToString(m.Sum(nil))
}

// signedURL is the public URL of a stored file, signed until now + URLLifetime. The expiry is
// rounded up to the minute, so the URLs of one file rendered within a minute are the same.
func (s *Server) signedURL(key string) string {
	path := "/static/" + key
	exp := s.now().Add(s.cfg.URLLifetime)
	expires := exp.Truncate(time.Minute).Add(time.Minute).Unix()
	return s.cfg.BaseURL + path + "?expires=" + strconv.FormatInt(expires, 10) + "&signature=" + s.signature(path, expires)
}

// checkSignature verifies a signed /static/ request: the signature must match the path and the
// expiry, and the expiry must not have passed. Any fault is 403, with the reason.
func (s *Server) checkSignature(r *http.Request) error {
	q := r.URL.Query()
	expires, err := strconv.ParseInt(q.Get("expires"), 10, 64)
	if err != nil {
		return bonafide.Errorf(bonafide.CodeForbidden, "You have not access to this resource: the link has no valid expiry")
	}
	// Signed over the path as rendered ("/static/" + key; keys are ids and extensions, nothing a
	// client would escape), checked over the path as the server reads it.
	if !hmac.Equal([]byte(q.Get("signature")), []byte(s.signature(r.URL.Path, expires))) {
		return bonafide.Errorf(bonafide.CodeForbidden, "You have not access to this resource: the link was altered (its signature does not match); use the original_url the API gave")
	}
	if s.now().Unix() > expires {
		return bonafide.Errorf(bonafide.CodeForbidden, "You have not access to this resource: the link expired; fetch the folder again for a fresh one")
	}
	return nil
}
