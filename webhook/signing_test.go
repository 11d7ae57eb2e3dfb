package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestNewSecret(t *testing.T) {
	a, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatal("two secrets are equal")
	}
	if !strings.HasPrefix(a, "whsec_") {
		t.Fatalf("secret %q lacks whsec_ prefix", a)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(a, "whsec_"))
	if err != nil {
		t.Fatalf("secret is not base64: %v", err)
	}
	if len(key) != 24 {
		t.Fatalf("key length %d, want 24", len(key))
	}
	// It must be usable for signing.
	if _, err := Sign(a, "msg_1", time.Now(), []byte("{}")); err != nil {
		t.Fatal(err)
	}
}

// refSign is an independent reference implementation used to cross-check Sign.
func refSign(key []byte, id string, unix int64, body string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + strconv.FormatInt(unix, 10) + "." + body))
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func TestSignKnownVectors(t *testing.T) {
	ownKey := []byte("bonafide-webhook-test-key-24b!")
	tests := []struct {
		name   string
		secret string
		key    []byte // nil: don't cross-check with refSign
		id     string
		unix   int64
		body   string
		want   string
	}{
		{
			// Example published in the Standard Webhooks spec / reference libraries.
			name:   "spec example",
			secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
			id:     "msg_p5jXN8AQM9LWM0D4loKWxJek",
			unix:   1614265330,
			body:   `{"test": 2432232314}`,
			want:   "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
		},
		{
			// Constructed here; expected value computed with
			// `openssl dgst -sha256 -mac HMAC` and checked again via crypto/hmac.
			name:   "own vector",
			secret: "whsec_" + base64.StdEncoding.EncodeToString(ownKey),
			key:    ownKey,
			id:     "msg_bonafide_1",
			unix:   1700000000,
			body:   `{"event":"liveness.completed"}`,
			want:   "v1,JPEj2brXqq/6QaDlDiBH5553syGP5dQn6wDxKXjcyuY=",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.key != nil {
				if ref := refSign(tc.key, tc.id, tc.unix, tc.body); ref != tc.want {
					t.Fatalf("reference HMAC %q != hard-coded %q", ref, tc.want)
				}
			}
			ts := time.Unix(tc.unix, 999_000_000) // sub-second part must be ignored
			got, err := Sign(tc.secret, tc.id, ts, []byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("Sign = %q, want %q", got, tc.want)
			}
			h := http.Header{}
			h.Set("webhook-id", tc.id)
			h.Set("webhook-timestamp", strconv.FormatInt(tc.unix, 10))
			h.Set("webhook-signature", tc.want)
			if err := Verify(tc.secret, h, []byte(tc.body), time.Minute, time.Unix(tc.unix+30, 0)); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
}

func TestSignCrossCheckRandom(t *testing.T) {
	secret, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	body := `{"id":"abc","score":0.97}`
	got, err := Sign(secret, "msg_x", time.Unix(1234567890, 0), []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if want := refSign(key, "msg_x", 1234567890, body); got != want {
		t.Fatalf("Sign = %q, reference = %q", got, want)
	}
}

func signedHeader(t *testing.T, secret, id string, ts time.Time, body []byte) http.Header {
	t.Helper()
	sig, err := Sign(secret, id, ts, body)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
	h.Set("webhook-signature", sig)
	return h
}

func TestSignVerifyRoundTrip(t *testing.T) {
	secret, _ := NewSecret()
	body := []byte(`{"hello":"world"}`)
	ts := time.Unix(1700000000, 0)
	h := signedHeader(t, secret, "msg_1", ts, body)
	if err := Verify(secret, h, body, 5*time.Minute, ts.Add(4*time.Minute)); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	// Zero tolerance means DefaultTolerance (5m).
	if err := Verify(secret, h, body, 0, ts.Add(-4*time.Minute)); err != nil {
		t.Fatalf("Verify default tolerance: %v", err)
	}
	// Bare base64 key (no whsec_ prefix) is the same secret.
	if err := Verify(strings.TrimPrefix(secret, "whsec_"), h, body, time.Minute, ts); err != nil {
		t.Fatalf("Verify bare key: %v", err)
	}
}

func TestVerifyFailures(t *testing.T) {
	secret, _ := NewSecret()
	other, _ := NewSecret()
	body := []byte(`{"result":"live"}`)
	ts := time.Unix(1700000000, 0)
	now := ts.Add(10 * time.Second)

	mod := func(f func(h http.Header)) http.Header {
		h := signedHeader(t, secret, "msg_1", ts, body)
		f(h)
		return h
	}
	tests := []struct {
		name    string
		secret  string
		header  http.Header
		body    []byte
		now     time.Time
		wantErr error
		wantMsg string
	}{
		{"tampered body", secret, mod(func(http.Header) {}), []byte(`{"result":"spoof"}`), now, ErrNoMatchingSignature, ""},
		{"tampered timestamp", secret, mod(func(h http.Header) { h.Set("webhook-timestamp", strconv.FormatInt(ts.Unix()+1, 10)) }), body, now, ErrNoMatchingSignature, ""},
		{"tampered id", secret, mod(func(h http.Header) { h.Set("webhook-id", "msg_2") }), body, now, ErrNoMatchingSignature, ""},
		{"wrong secret", other, mod(func(http.Header) {}), body, now, ErrNoMatchingSignature, ""},
		{"expired", secret, mod(func(http.Header) {}), body, ts.Add(5*time.Minute + time.Second), ErrTimestampTooOld, "too old"},
		{"future", secret, mod(func(http.Header) {}), body, ts.Add(-6 * time.Minute), ErrTimestampTooNew, "future"},
		{"missing id", secret, mod(func(h http.Header) { h.Del("webhook-id") }), body, now, ErrMissingHeader, "webhook-id"},
		{"missing timestamp", secret, mod(func(h http.Header) { h.Del("webhook-timestamp") }), body, now, ErrMissingHeader, "webhook-timestamp"},
		{"missing signature", secret, mod(func(h http.Header) { h.Set("webhook-signature", "  ") }), body, now, ErrMissingHeader, "webhook-signature"},
		{"non-integer timestamp", secret, mod(func(h http.Header) { h.Set("webhook-timestamp", "2023-11-14T22:13:20Z") }), body, now, ErrInvalidTimestamp, "Unix seconds"},
		{"no v1 signature", secret, mod(func(h http.Header) {
			h.Set("webhook-signature", "v2,"+strings.TrimPrefix(h.Get("webhook-signature"), "v1,"))
		}), body, now, ErrNoMatchingSignature, "no v1"},
		{"garbage signature", secret, mod(func(h http.Header) { h.Set("webhook-signature", "v1,!!!notbase64") }), body, now, ErrNoMatchingSignature, ""},
		{"truncated signature", secret, mod(func(h http.Header) { h.Set("webhook-signature", h.Get("webhook-signature")[:20]) }), body, now, ErrNoMatchingSignature, ""},
		{"empty secret", "", mod(func(http.Header) {}), body, now, ErrInvalidSecret, ""},
		{"non-base64 secret", "whsec_%%%", mod(func(http.Header) {}), body, now, ErrInvalidSecret, "base64"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Verify(tc.secret, tc.header, tc.body, 5*time.Minute, tc.now)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantMsg != "" && !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("err %q does not mention %q", err, tc.wantMsg)
			}
		})
	}
}

func TestVerifyMultipleSignatures(t *testing.T) {
	oldSecret, _ := NewSecret()
	newSecret, _ := NewSecret()
	body := []byte(`{"n":1}`)
	ts := time.Unix(1700000000, 0)
	oldSig, _ := Sign(oldSecret, "msg_1", ts, body)
	newSig, _ := Sign(newSecret, "msg_1", ts, body)

	h := http.Header{}
	h.Set("webhook-id", "msg_1")
	h.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
	// Unknown versions, junk and both rotation signatures, oddly spaced.
	h.Set("webhook-signature", "v1a,abc  v2,"+strings.TrimPrefix(newSig, "v1,")+" junk v1,AAAA "+oldSig+"   "+newSig)

	for _, s := range []string{oldSecret, newSecret} {
		if err := Verify(s, h, body, time.Minute, ts); err != nil {
			t.Fatalf("Verify with one of two secrets: %v", err)
		}
	}
	third, _ := NewSecret()
	if err := Verify(third, h, body, time.Minute, ts); !errors.Is(err, ErrNoMatchingSignature) {
		t.Fatalf("unrelated secret: err = %v", err)
	}
}

func TestSignRejectsBadInput(t *testing.T) {
	if _, err := Sign("whsec_", "id", time.Now(), nil); !errors.Is(err, ErrInvalidSecret) {
		t.Fatalf("empty key: %v", err)
	}
	secret, _ := NewSecret()
	if _, err := Sign(secret, "", time.Now(), nil); err == nil {
		t.Fatal("empty id accepted")
	}
}
