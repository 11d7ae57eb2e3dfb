package api

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"bonafide"
)

// A rendered original_url works without the token header until it expires; an altered path,
// signature or expiry, or an expired link, answers 403 with the Oz envelope; without a signature
// /static/ still needs the token.
func TestSignedMediaURLs(t *testing.T) {
	env := tuServer(t)
	u := env.tuUserLoggedIn(bonafide.RoleClient, env.tuCompanyWithSecret("Signed", "whsec_"+strings.Repeat("s", 32)).ID, "signed@example.com")
	f := env.tuFolder(u)
	link := f["media"].([]any)[0].(map[string]any)["original_url"].(string)
	if !strings.Contains(link, "?expires=") || !strings.Contains(link, "&signature=") {
		t.Fatalf("original_url %q is not signed", link)
	}
	want := tuJPEG(t)
	r := env.tuFor(t).tuDo("GET", link, "", nil).tuExpect(http.StatusOK, 0)
	if !bytes.Equal(r.Body, want) {
		t.Fatalf("the signed link gave %d bytes, not the upload", len(r.Body))
	}

	path, query, _ := strings.Cut(link, "?")
	sig := query[strings.Index(query, "signature=")+len("signature="):]
	flipped := string(rune('0' + (sig[0]-'0'+1)%10))
	if sig[0] > '9' {
		flipped = "0"
	}
	for name, bad := range map[string]string{
		"altered signature": path + "?" + strings.Replace(query, "signature="+sig, "signature="+flipped+sig[1:], 1),
		"altered expiry":    path + "?" + strings.Replace(query, "expires=", "expires=9", 1),
		"another file":      strings.Replace(path, ".jpeg", ".png", 1) + "?" + query,
		"no expiry":         path + "?signature=" + sig,
	} {
		t.Run(name, func(t *testing.T) {
			env.tuFor(t).tuDo("GET", bad, "", nil).tuExpect(http.StatusForbidden, int(bonafide.CodeForbidden))
		})
	}
	// Without a signature: the token, as before.
	env.tuFor(t).tuDo("GET", path, "", nil).tuExpect(http.StatusUnauthorized, int(bonafide.CodeAuthNotProvided))
	env.tuFor(t).tuDo("GET", path, u.Token, nil).tuExpect(http.StatusOK, 0)
	// Past its lifetime (1 h by default, rounded up to the minute) the link is dead.
	env.Clock.Advance(DefaultURLLifetime + 2*time.Minute)
	r = env.tuFor(t).tuDo("GET", link, "", nil).tuExpect(http.StatusForbidden, int(bonafide.CodeForbidden))
	if !strings.Contains(string(r.Body), "expired") {
		t.Fatalf("expired link: %s", r.Body)
	}
}
