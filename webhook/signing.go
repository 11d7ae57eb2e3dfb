// Package webhook signs, verifies and delivers webhooks following the
// Standard Webhooks specification (https://www.standardwebhooks.com/).
//
// A message is signed with HMAC-SHA256 over "<id>.<unix-seconds>.<body>"
// using a symmetric secret of the form "whsec_<base64 key>". The signature is
// carried in the webhook-signature header as "v1,<base64 mac>"; several
// space-separated signatures may be present (e.g. during secret rotation) and
// any one of them matching is sufficient.
//
// Delivery (see Client) refuses to connect to loopback, private, link-local
// and other internal addresses unless explicitly allowed, and enforces that
// check at connect time so DNS rebinding cannot bypass it.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"bonafide"
)

// Header names defined by the Standard Webhooks specification.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix is the conventional prefix of a Standard Webhooks secret.
const SecretPrefix = bonafide.WebhookSecretPrefix

// DefaultTolerance is the timestamp tolerance Verify uses when it is given a
// tolerance <= 0. It is the value recommended by the specification.
const DefaultTolerance = 5 * time.Minute

// Errors returned (wrapped) by Sign and Verify. Test with errors.Is.
var (
	// ErrInvalidSecret means the secret is empty or not "whsec_" + base64.
	ErrInvalidSecret = errors.New("webhook: invalid secret")
	// ErrMissingHeader means a required webhook-* header is absent or empty.
	ErrMissingHeader = errors.New("webhook: missing header")
	// ErrInvalidTimestamp means webhook-timestamp is not integer Unix seconds.
	ErrInvalidTimestamp = errors.New("webhook: invalid timestamp")
	// ErrTimestampTooOld means webhook-timestamp is older than the tolerance.
	ErrTimestampTooOld = errors.New("webhook: timestamp too old")
	// ErrTimestampTooNew means webhook-timestamp is further in the future than the tolerance.
	ErrTimestampTooNew = errors.New("webhook: timestamp too far in the future")
	// ErrNoMatchingSignature means none of the v1 signatures matched.
	ErrNoMatchingSignature = errors.New("webhook: no matching signature")
)

// NewSecret returns a fresh random secret (bonafide.NewWebhookSecret: "whsec_" + base64(24 random bytes)).
func NewSecret() (string, error) { return bonafide.NewWebhookSecret() }

// decodeSecret returns the HMAC key of a "whsec_<base64>" secret. The prefix
// is optional (a bare base64 key is accepted), as in the reference libraries.
func decodeSecret(secret string) ([]byte, error) {
	enc := strings.TrimPrefix(strings.TrimSpace(secret), SecretPrefix)
	if enc == "" {
		return nil, fmt.Errorf("%w: secret is empty", ErrInvalidSecret)
	}
	key, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		// Tolerate unpadded base64 as well.
		var err2 error
		if key, err2 = base64.RawStdEncoding.DecodeString(enc); err2 != nil {
			return nil, fmt.Errorf("%w: the part after %q is not valid base64", ErrInvalidSecret, SecretPrefix)
		}
	}
	if len(key) == 0 {
		return nil, fmt.Errorf("%w: secret key is empty", ErrInvalidSecret)
	}
	return key, nil
}

// mac computes the raw HMAC-SHA256 over "<id>.<ts>.<body>".
func mac(key []byte, id, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Sign returns the webhook-signature header value "v1,<base64 HMAC-SHA256>"
// for the message id, timestamp ts (truncated to Unix seconds) and body.
func Sign(secret, id string, ts time.Time, body []byte) (string, error) {
	key, err := decodeSecret(secret)
	if err != nil {
		return "", err
	}
	if id == "" {
		return "", errors.New("webhook: message id is empty")
	}
	sum := mac(key, id, strconv.FormatInt(ts.Unix(), 10), body)
	return "v1," + base64.StdEncoding.EncodeToString(sum), nil
}

// Verify checks a received webhook: the webhook-id, webhook-timestamp and
// webhook-signature headers must be present, the timestamp must be within
// tolerance of now (either direction; tolerance <= 0 means DefaultTolerance,
// a zero now means time.Now()), and at least one "v1,<sig>" entry in the
// space-separated signature header must match body. Signatures with other
// version prefixes are ignored. Comparison is constant-time.
//
// body must be the raw request body exactly as received.
func Verify(secret string, header http.Header, body []byte, tolerance time.Duration, now time.Time) error {
	key, err := decodeSecret(secret)
	if err != nil {
		return err
	}
	id := header.Get(HeaderID)
	tsRaw := header.Get(HeaderTimestamp)
	sigs := header.Get(HeaderSignature)
	switch {
	case id == "":
		return fmt.Errorf("%w: %s", ErrMissingHeader, HeaderID)
	case tsRaw == "":
		return fmt.Errorf("%w: %s", ErrMissingHeader, HeaderTimestamp)
	case strings.TrimSpace(sigs) == "":
		return fmt.Errorf("%w: %s", ErrMissingHeader, HeaderSignature)
	}

	secs, err := strconv.ParseInt(tsRaw, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %q is not integer Unix seconds", ErrInvalidTimestamp, tsRaw)
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	if now.IsZero() {
		now = time.Now()
	}
	ts := time.Unix(secs, 0)
	if d := now.Sub(ts); d > tolerance {
		return fmt.Errorf("%w: sent %s ago, tolerance %s", ErrTimestampTooOld, d.Truncate(time.Second), tolerance)
	} else if -d > tolerance {
		return fmt.Errorf("%w: %s ahead of now, tolerance %s", ErrTimestampTooNew, (-d).Truncate(time.Second), tolerance)
	}

	// Use the timestamp string exactly as received: it is what was signed.
	want := mac(key, id, tsRaw, body)
	sawV1 := false
	for _, entry := range strings.Fields(sigs) {
		version, sig, ok := strings.Cut(entry, ",")
		if !ok || version != "v1" {
			continue
		}
		sawV1 = true
		got, err := base64.StdEncoding.DecodeString(sig)
		if err != nil {
			continue
		}
		if hmac.Equal(got, want) {
			return nil
		}
	}
	if !sawV1 {
		return fmt.Errorf("%w: %s has no v1 signature", ErrNoMatchingSignature, HeaderSignature)
	}
	return ErrNoMatchingSignature
}
