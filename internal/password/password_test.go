package password

import (
	"strings"
	"testing"
)

func TestHashAndCheck(t *testing.T) {
	h, err := Hash("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q: want argon2id with the OWASP parameters", h)
	}
	h2, err := Hash("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if h == h2 {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	for _, c := range []struct {
		hash, pw string
		want     bool
	}{
		{h, "correct horse", true},
		{h2, "correct horse", true},
		{h, "correct horse ", false},
		{h, "", false},
		{"", "correct horse", false},
		{"$bcrypt$x$y$z$w", "correct horse", false},
		{strings.Replace(h, "m=19456", "m=x", 1), "correct horse", false},
		{Dummy(), "bonafide: no such account", true},
		{Dummy(), "correct horse", false},
	} {
		if got := Check(c.hash, c.pw); got != c.want {
			t.Errorf("Check(%q, %q) = %v, want %v", c.hash, c.pw, got, c.want)
		}
	}
}
