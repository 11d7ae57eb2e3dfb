package storeutil

import (
	"strings"

	"bonafide"
)

// NormEmail is an email as stored and looked up: trimmed, lower case.
func NormEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// PrepareSession checks ss for an insert, fills a zero Created from the clock and normalizes its
// times to storage precision.
func (c Codec) PrepareSession(ss *bonafide.Session) error {
	if ss.TokenHash == "" {
		return bonafide.Errorf(bonafide.CodeInvalidValue, "session token hash is empty")
	}
	if ss.Created.IsZero() {
		ss.Created = c.Now()
	}
	ss.Created, ss.Expires = Norm(ss.Created), Norm(ss.Expires)
	return nil
}

// LikeEscape escapes s for a LIKE pattern whose escape character is a backslash.
func LikeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
