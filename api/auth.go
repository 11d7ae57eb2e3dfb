package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"time"

	"bonafide"
	"bonafide/internal/password"
)

// newToken returns 64 random bytes as 128 lowercase hex characters, like Oz's tokens.
func newToken() (string, error) {
	b := make([]byte, 64)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// hashToken is what the store keeps of a token.
func hashToken(t string) string {
	h := sha256.Sum256([]byte(t))
	return hex.EncodeToString(h[:])
}

// tokenBody is the authorize response.
type tokenBody struct {
	AccessToken string   `json:"access_token"`
	ExpireToken string   `json:"expire_token"`
	ExpireDate  float64  `json:"expire_date"`
	User        userBody `json:"user"`
}

// issue creates a session for u and returns the response body; replaces is the token hash of the
// session a refresh replaces ("" for a login).
func (s *Server) issue(r *http.Request, u *bonafide.User, replaces string) (*tokenBody, error) {
	access, err := newToken()
	if err != nil {
		return nil, err
	}
	expire, err := newToken()
	if err != nil {
		return nil, err
	}
	ttl := s.cfg.SessionTTL
	if u.IsService() {
		ttl = s.cfg.ServiceTTL
	}
	sess := &bonafide.Session{TokenHash: hashToken(access), ExpireHash: hashToken(expire), UserID: u.ID,
		Expires: s.now().Add(ttl), LongLived: u.IsService(), Created: s.now(), Replaces: replaces}
	if err := s.store.CreateSession(r.Context(), sess); err != nil {
		return nil, err
	}
	return &tokenBody{AccessToken: access, ExpireToken: expire, ExpireDate: epoch(sess.Expires), User: s.renderUser(u)}, nil
}

// login answers POST /api/authorize/auth.
func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Credentials *struct {
			Email    string `json:"email"`
			Password string `json:"password"`
		} `json:"credentials"`
	}
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	if body.Credentials == nil {
		return missingField("credentials")
	}
	if bonafide.NormalizeEmail(body.Credentials.Email) == "" {
		return missingField("credentials.email")
	}
	u, err := s.checkLogin(w, r, body.Credentials.Email, body.Credentials.Password)
	if err != nil {
		return err
	}
	tb, err := s.issue(r, u, "")
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, tb)
	return nil
}

// checkLogin is the one credential check of the API and the console: lengths bounded first, the
// login throttle (a throttled attempt is 429 code 101 with Retry-After on w, when w is given),
// the same argon2 time for an unknown email, a blocked account refused after its password.
func (s *Server) checkLogin(w http.ResponseWriter, r *http.Request, rawEmail, pw string) (*bonafide.User, error) {
	email := bonafide.NormalizeEmail(rawEmail)
	// Bounded before anything else: an address is at most 254 characters (RFC 5321), and a
	// password longer than 1024 would only make argon2 work for an attacker.
	if len(email) > bonafide.MaxEmailLen || len(pw) > bonafide.MaxPasswordLen {
		return nil, &bonafide.Error{Code: bonafide.CodeInvalidValue,
			Message: fmt.Sprintf("Invalid param value: an email has at most %d characters and a password at most %d", bonafide.MaxEmailLen, bonafide.MaxPasswordLen),
			Details: map[string]string{"key_path": "credentials"}}
	}
	addr := s.clientAddr(r)
	if wait, by, err := s.throttle.check(r.Context(), email, addr, s.now()); err != nil {
		return nil, err
	} else if wait > 0 {
		s.auditLogin(r, bonafide.AuditLoginFailed, nil, email, "throttled")
		return nil, throttledError(w, wait, by)
	}
	u, err := s.store.GetUserByEmail(r.Context(), email)
	if err != nil && bonafide.CodeOf(err) != bonafide.CodeNotExist {
		return nil, err
	}
	hash := password.Dummy() // an unknown email costs the same argon2 time as a known one
	if u != nil {
		hash = u.PasswordHash
	}
	if !password.Check(hash, pw) || u == nil || email == "" {
		if err := s.throttle.fail(r.Context(), email, addr, s.now()); err != nil {
			return nil, err
		}
		s.log.InfoContext(r.Context(), "login failed", "email_sha256", hashToken(email)[:16], "client", addr.String())
		s.auditLogin(r, bonafide.AuditLoginFailed, u, email, "bad_credentials")
		return nil, bonafide.Errorf(bonafide.CodeCredentialsBad, "Invalid auth credentials")
	}
	if err := s.throttle.succeed(r.Context(), email, addr); err != nil {
		return nil, err
	}
	if u.Disabled {
		s.auditLogin(r, bonafide.AuditLoginFailed, u, email, "blocked")
		return nil, bonafide.Errorf(bonafide.CodeUserBlocked, "User profile is blocked")
	}
	s.auditLogin(r, bonafide.AuditLogin, u, email, "")
	return u, nil
}

// auditLogin records a login attempt: the account's id when the email names one (anonymous
// otherwise, with the email's hash prefix, as the log has it), never the password.
func (s *Server) auditLogin(r *http.Request, action string, u *bonafide.User, email, reason string) {
	e := bonafide.AuditEntry{Action: action, Actor: bonafide.AuditAnonymous, Details: map[string]string{}}
	if u != nil {
		e.Actor, e.CompanyID = u.ID, u.CompanyID
		e.Objects = []bonafide.AuditObject{bonafide.Obj(bonafide.ObjUser, u.ID)}
	} else {
		e.Details["email_sha256"] = hashToken(email)[:16]
	}
	if reason != "" {
		e.Details["reason"] = reason
	}
	if err := bonafide.Audit(r.Context(), s.store, e); err != nil {
		s.log.ErrorContext(r.Context(), "audit entry not recorded", "action", action, "err", err)
	}
}

// Login is the API's login for the operator console (cmd/bonafide hands the server to it): the
// same check, throttle and sessions as POST /api/authorize/auth; it returns the new session's
// access token. A throttled attempt is code 101 with Details {"retry_after": seconds}.
func (s *Server) Login(r *http.Request, email, pw string) (string, *bonafide.User, error) {
	u, err := s.checkLogin(nil, r, email, pw)
	if err != nil {
		return "", nil, err
	}
	tb, err := s.issue(r, u, "")
	if err != nil {
		return "", nil, err
	}
	return tb.AccessToken, u, nil
}

// Authenticate is the token check of the API for the console: the user of an access token, whose
// session slides as with the token header.
func (s *Server) Authenticate(ctx context.Context, token string) (*bonafide.User, error) {
	p, err := s.authenticateToken(ctx, token)
	if err != nil {
		return nil, err
	}
	return p.user, nil
}

// Logout ends the session of an access token (nothing to do for an unknown one).
func (s *Server) Logout(ctx context.Context, token string) error {
	err := s.store.DeleteSession(ctx, hashToken(token))
	if bonafide.CodeOf(err) == bonafide.CodeNotExist {
		return nil
	}
	return err
}

// SignedURL is the signed, expiring URL of a stored file (media, best shot) as the API renders it.
func (s *Server) SignedURL(key string) string { return s.signedURL(key) }

// refresh answers POST /api/authorize/refresh: a new pair for the caller's own session. The old
// pair stays valid until the new one is first used (authenticate retires it then), as Oz
// documents: a client that loses the answer can still use its old pair.
func (s *Server) refresh(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		ExpireToken string `json:"expire_token"`
	}
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	if body.ExpireToken == "" {
		return missingField("expire_token")
	}
	old, err := s.store.GetSessionByExpireHash(r.Context(), hashToken(body.ExpireToken))
	if err != nil {
		if bonafide.CodeOf(err) == bonafide.CodeNotExist {
			return bonafide.Errorf(bonafide.CodeAuthInvalid, "Session not found")
		}
		return err
	}
	p := caller(r)
	if old.UserID != p.user.ID {
		return bonafide.Errorf(bonafide.CodeForbidden, "You have not access to refresh this session")
	}
	tb, err := s.issue(r, p.user, old.TokenHash)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, tb)
	return nil
}

// authenticate checks the token header and slides the session's expiry.
func (s *Server) authenticate(r *http.Request) (*principal, error) {
	token := r.Header.Get("X-Forensic-Access-Token")
	if token == "" {
		token = r.Header.Get("X-Forensics-Access-Token")
	}
	return s.authenticateToken(r.Context(), token)
}

// authenticateToken checks an access token and slides its session's expiry.
func (s *Server) authenticateToken(ctx context.Context, token string) (*principal, error) {
	if token == "" {
		return nil, bonafide.Errorf(bonafide.CodeAuthNotProvided, "User auth token is not provided. You must be logged for this request.")
	}
	sess, err := s.store.GetSession(ctx, hashToken(token))
	if err != nil {
		if bonafide.CodeOf(err) == bonafide.CodeNotExist {
			return nil, bonafide.Errorf(bonafide.CodeAuthInvalid, "User auth token is not valid. You must be logged for this request.")
		}
		return nil, err
	}
	now := s.now()
	if !now.Before(sess.Expires) {
		return nil, bonafide.Errorf(bonafide.CodeAuthExpired, "Provided user auth token has expired. Please renew it.")
	}
	u, err := s.store.GetUser(ctx, sess.UserID)
	if err != nil {
		return nil, err
	}
	if u.Disabled {
		return nil, bonafide.Errorf(bonafide.CodeUserBlocked, "User profile is blocked")
	}
	if sess.Replaces != "" {
		// The first use of a refreshed pair: the pair it replaces dies now.
		if err := s.store.RetireReplaced(ctx, sess.TokenHash); err != nil && bonafide.CodeOf(err) != bonafide.CodeNotExist {
			return nil, err
		}
		sess.Replaces = ""
	}
	if !sess.LongLived {
		// Sliding expiry; write at most every 10 s per session.
		if next := now.Add(s.cfg.SessionTTL); next.Sub(sess.Expires) > 10*time.Second {
			if err := s.store.ExtendSession(ctx, sess.TokenHash, next); err != nil {
				return nil, err
			}
			sess.Expires = next
		}
	}
	return &principal{user: u, session: sess}, nil
}

// epoch is a timestamp as float seconds with millisecond precision, as Oz sends them.
func epoch(t time.Time) float64 {
	return float64(t.UnixMilli()) / 1000
}
