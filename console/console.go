// Package console is the operator console: server-rendered HTML pages under /console/ where a
// Bonafide account logs in (the API's own login, throttle and sessions, through Auth), lists the
// folders it may see with filters and paging, opens a folder (media, best shots, the verdict, the
// reasons, every signal with its weight, a per-frame chart, the engine and model versions) and, as
// ADMIN, OPERATOR, or CLIENT ADMIN / CLIENT OPERATOR of the folder's company, sets a decision on an
// analysis (bonafide.Decide, the rule PATCH /api/analyses/{id} uses).
//
// Everything it serves is embedded (templates, one stylesheet, one small script): no build step,
// no CDN. Security: the session cookie is HttpOnly, SameSite=Strict, Secure over TLS, scoped to
// /console/; every POST carries a CSRF token (an HMAC of the session, or of a pre-login cookie)
// and passes Go's cross-origin protection (Sec-Fetch-Site / Origin); a strict
// Content-Security-Policy allows no inline script or style.
package console

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"bonafide"
)

// Auth is the API's login and session logic, which the console shares rather than copying it: the
// same password check, the same login backoff per account and client address, the same sessions
// (api.Server implements it; cmd/bonafide hands it over).
type Auth interface {
	// Login checks the credentials (the client address comes from r) and opens a session; it
	// returns the session's access token. A throttled attempt is code 101 with Details
	// {"retry_after": seconds}.
	Login(r *http.Request, email, password string) (token string, u *bonafide.User, err error)
	// Authenticate returns the active user of an access token, sliding the session's expiry.
	Authenticate(ctx context.Context, token string) (*bonafide.User, error)
	// Logout ends the session of an access token.
	Logout(ctx context.Context, token string) error
}

// Config wires the console.
type Config struct {
	// Key makes the CSRF tokens (HMAC-SHA256); every node of an installation must share it
	// (serve passes the installation's URL-signing key). Required.
	Key string
	// SignURL is the signed URL of a stored file (media, best shot), as the API renders it; the
	// console links its path, so the browser fetches it from the same origin. Required.
	SignURL func(blobKey string) string
	// Status is the HTTP status of an Oz error code: the API's one table (api.StatusOf). Required.
	Status func(bonafide.Code) int
	// SecureCookie marks the cookies Secure even on plain HTTP (a TLS proxy in front); they are
	// Secure on every request that came over TLS anyway.
	SecureCookie bool
	PageSize     int // folders per list page (default 50, at most 500)
	// BodyTimeout bounds the time a form body may take to arrive (default 30 s): a body trickled
	// a byte at a time cannot hold a connection.
	BodyTimeout time.Duration
	Version     string
	Log         *slog.Logger
	Now         func() time.Time
	// Instrument wraps the console's handler, e.g. to count its requests in the API's Prometheus
	// metrics (nil: none).
	Instrument func(http.Handler) http.Handler
}

// Console serves the operator console.
type Console struct {
	cfg   Config
	store bonafide.Store
	auth  Auth
	key   []byte
	pages map[string]*template.Template
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Cookie names. The session cookie holds the API session's access token (HttpOnly: no script
// reads it); the login cookie binds the login form's CSRF token before there is a session.
const (
	sessionCookie = "bonafide_console"
	loginCookie   = "bonafide_console_login"
	// Path is where the console is served.
	Path = "/console/"
)

// ContentSecurityPolicy is sent with every console answer: nothing inline, nothing from elsewhere.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// New builds the console.
func New(cfg Config, store bonafide.Store, auth Auth) (*Console, error) {
	if cfg.Key == "" || cfg.SignURL == nil || cfg.Status == nil || auth == nil || store == nil {
		return nil, errors.New("console: Key, SignURL, Status, the store and Auth are required")
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 50
	}
	cfg.PageSize = min(cfg.PageSize, 500)
	if cfg.BodyTimeout <= 0 {
		cfg.BodyTimeout = 30 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m := hmac.New(sha256.New, []byte(cfg.Key))
	m.Write([]byte("bonafide console csrf v1"))
	c := &Console{cfg: cfg, store: store, auth: auth, key: m.Sum(nil), pages: map[string]*template.Template{}}
	for _, page := range []string{"login", "list", "folder", "error"} {
		t, err := template.ParseFS(templateFS, "templates/layout.html", "templates/"+page+".html")
		if err != nil {
			return nil, fmt.Errorf("console: template %s: %w", page, err)
		}
		c.pages[page] = t
	}
	return c, nil
}

// handlerFunc is a console handler; an error becomes an HTML error page with the API's status.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// Handler serves /console/ and everything under it.
func (c *Console) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /console/{$}", c.wrap(c.authed(c.list)))
	mux.Handle("GET /console/login", c.wrap(c.loginPage))
	mux.Handle("POST /console/login", c.wrap(c.login))
	mux.Handle("POST /console/logout", c.wrap(c.authed(c.logout)))
	mux.Handle("GET /console/folders/{id}", c.wrap(c.authed(c.folder)))
	mux.Handle("POST /console/analyses/{id}/decision", c.wrap(c.authed(c.decide)))
	assets, _ := fs.Sub(assetFS, "assets")
	files := http.StripPrefix("/console/assets/", http.FileServer(http.FS(assets)))
	mux.Handle("GET /console/assets/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") { // no directory listings
			c.wrap(func(http.ResponseWriter, *http.Request) error {
				return bonafide.Errorf(bonafide.CodeNotExist, "There is no console file %s", r.URL.Path)
			}).ServeHTTP(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	}))
	mux.Handle("/console/", c.wrap(func(w http.ResponseWriter, r *http.Request) error {
		return bonafide.Errorf(bonafide.CodeNotExist, "There is no console page %s %s", r.Method, r.URL.Path)
	}))
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(c.wrap(func(w http.ResponseWriter, r *http.Request) error {
		return bonafide.Errorf(bonafide.CodeForbidden, "This form was sent from another site; open the console and send it again")
	}))
	return securityHeaders(cop.Handler(mux))
}

// securityHeaders are on every console answer, errors and assets included.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

type ctxKey struct{}

// session is the logged-in caller of a request.
type session struct {
	User  *bonafide.User
	Token string
	CSRF  string // the token every form of the page carries
}

// slot is where authed puts the request's session, so that wrap's error page shows it too.
type slot struct{ s *session }

func current(r *http.Request) *session {
	if sl, _ := r.Context().Value(ctxKey{}).(*slot); sl != nil {
		return sl.s
	}
	return nil
}

// wrap writes a handler's error as an HTML page.
func (c *Console) wrap(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, &slot{}))
		if err := c.readForm(w, r); err != nil {
			c.writeError(w, r, err)
			return
		}
		if err := h(w, r); err != nil {
			c.writeError(w, r, err)
		}
	})
}

// maxForm bounds a console request body: a decision's comment is at most 2000 characters.
const maxForm = 64 << 10

// readForm reads a POST's form before anything else, bounded in size (maxForm) and in time
// (BodyTimeout), so that the handlers read a parsed form and a fault of the body is one answer.
func (c *Console) readForm(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodPost {
		return nil
	}
	rc := http.NewResponseController(w)
	deadline := rc.SetReadDeadline(time.Now().Add(c.cfg.BodyTimeout)) == nil
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	err := r.ParseForm()
	if err != nil {
		// The rest of a faulty body is not waited for: the connection closes after the answer
		// (the deadline stays, so draining it cannot block either).
		w.Header().Set("Connection", "close")
	}
	var mbe *http.MaxBytesError
	switch {
	case err == nil:
		if deadline {
			_ = rc.SetReadDeadline(time.Time{})
		}
		return nil
	case errors.As(err, &mbe):
		return err // writeError names the limit
	case errors.Is(err, os.ErrDeadlineExceeded):
		return bonafide.Errorf(bonafide.CodeInvalidStructure, "The form stopped arriving for %s; send it again", c.cfg.BodyTimeout)
	}
	return bonafide.Errorf(bonafide.CodeInvalidStructure, "The form could not be read: send it from the console's pages")
}

func (c *Console) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *bonafide.Error
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		e = bonafide.Errorf(bonafide.CodeBodyTooBig, "The form is too large: at most %d bytes", mbe.Limit)
	case !errors.As(err, &e), e.Code == bonafide.CodeUnknown, e.Code == bonafide.CodeDatabase:
		c.cfg.Log.Error("console: internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		e = &bonafide.Error{Code: bonafide.CodeUnknown, Message: "Something went wrong on the server; try again"}
	}
	status := c.cfg.Status(e.Code)
	w.Header().Set("Cache-Control", "no-store")
	c.render(w, status, "error", pageData{Title: http.StatusText(status), Session: current(r),
		Body: map[string]any{"Status": status, "Message": e.Message, "Code": int(e.Code)}})
}

// pageData is what every page template gets.
type pageData struct {
	Title   string
	Session *session
	Version string
	Body    any
}

func (c *Console) render(w http.ResponseWriter, status int, page string, d pageData) {
	d.Version = c.cfg.Version
	var b strings.Builder
	if err := c.pages[page].Execute(&b, d); err != nil {
		c.cfg.Log.Error("console: render", "page", page, "err", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if w.Header().Get("Cache-Control") == "" {
		w.Header().Set("Cache-Control", "no-store")
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}

// --- sessions and CSRF ------------------------------------------------------------------------

// csrfFor is the CSRF token bound to a value the browser holds in an HttpOnly cookie (the session
// token, or the login cookie): a page of another origin can neither read the cookie nor compute
// the token.
func (c *Console) csrfFor(purpose, bound string) string {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write([]byte(bound))
	return hex.EncodeToString(m.Sum(nil))
}

// checkCSRF refuses a POST whose form token does not match (code 9, 403).
func (c *Console) checkCSRF(r *http.Request, want string) error {
	got := r.PostFormValue("csrf")
	if got == "" || !hmac.Equal([]byte(got), []byte(want)) {
		return bonafide.Errorf(bonafide.CodeForbidden, "The form's security token is missing or out of date; reload the page and send it again")
	}
	return nil
}

func (c *Console) secure(r *http.Request) bool { return c.cfg.SecureCookie || r.TLS != nil }

func (c *Console) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: Path, MaxAge: maxAge,
		HttpOnly: true, Secure: c.secure(r), SameSite: http.SameSiteStrictMode})
}

// authed runs h for a logged-in caller: a page without a (valid) session leads to the login
// page, a POST without one is refused; every POST must carry the session's CSRF token.
func (c *Console) authed(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		ck, err := r.Cookie(sessionCookie)
		var u *bonafide.User
		if err == nil && ck.Value != "" && len(ck.Value) <= 256 {
			u, err = c.auth.Authenticate(r.Context(), ck.Value)
			if err != nil && !isAuthError(err) {
				return err
			}
		}
		if u == nil {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				c.setCookie(w, r, sessionCookie, "", -1)
				http.Redirect(w, r, Path+"login", http.StatusSeeOther)
				return nil
			}
			return bonafide.Errorf(bonafide.CodeAuthInvalid, "Your console session has ended; log in again")
		}
		s := &session{User: u, Token: ck.Value, CSRF: c.csrfFor("session", ck.Value)}
		if sl, _ := r.Context().Value(ctxKey{}).(*slot); sl != nil {
			sl.s = s
		}
		if r.Method == http.MethodPost {
			if err := c.checkCSRF(r, s.CSRF); err != nil {
				return err
			}
		}
		return h(w, r)
	}
}

func isAuthError(err error) bool {
	switch bonafide.CodeOf(err) {
	case bonafide.CodeAuthNotProvided, bonafide.CodeAuthInvalid, bonafide.CodeAuthExpired, bonafide.CodeUserBlocked, bonafide.CodeNotExist:
		return true
	}
	return false
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// loginPage shows the login form, with a fresh login cookie binding its CSRF token.
func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) error {
	c.showLogin(w, r, http.StatusOK, "", "")
	return nil
}

func (c *Console) showLogin(w http.ResponseWriter, r *http.Request, status int, email, message string) {
	bind := randomHex(32)
	c.setCookie(w, r, loginCookie, bind, 900)
	c.render(w, status, "login", pageData{Title: "Log in", Body: map[string]any{
		"CSRF": c.csrfFor("login", bind), "Email": email, "Error": message}})
}

// login checks the form's CSRF token against the login cookie, then logs in through the API's
// Auth (throttled the same way); a success sets the session cookie and leads to the folder list.
func (c *Console) login(w http.ResponseWriter, r *http.Request) error {
	ck, err := r.Cookie(loginCookie)
	if err != nil || ck.Value == "" {
		return bonafide.Errorf(bonafide.CodeForbidden, "The login form's security token is missing; open the login page again (are cookies allowed?)")
	}
	if err := c.checkCSRF(r, c.csrfFor("login", ck.Value)); err != nil {
		return err
	}
	email, password := strings.TrimSpace(r.PostFormValue("email")), r.PostFormValue("password")
	if email == "" || password == "" {
		c.showLogin(w, r, http.StatusBadRequest, email, "Enter your email and your password.")
		return nil
	}
	token, u, err := c.auth.Login(r, email, password)
	if err != nil {
		var e *bonafide.Error
		if !errors.As(err, &e) || e.Code == bonafide.CodeUnknown || e.Code == bonafide.CodeDatabase {
			return err
		}
		if e.Code == bonafide.CodeThrottled {
			if d, ok := e.Details.(map[string]int); ok {
				w.Header().Set("Retry-After", fmt.Sprint(d["retry_after"]))
			}
		}
		msg := e.Message
		if e.Code == bonafide.CodeCredentialsBad {
			msg = "The email or the password is wrong."
		}
		c.showLogin(w, r, c.cfg.Status(e.Code), email, msg)
		return nil
	}
	if u.IsService() {
		// A CLIENT SERVICE token lives for years: it is for machine integrations, not a browser.
		if err := c.auth.Logout(r.Context(), token); err != nil {
			return err
		}
		c.showLogin(w, r, c.cfg.Status(bonafide.CodeForbidden), email,
			"CLIENT SERVICE accounts are for machine integrations and do not log in to the console; use a personal account.")
		return nil
	}
	c.setCookie(w, r, loginCookie, "", -1)
	c.setCookie(w, r, sessionCookie, token, 0)
	c.cfg.Log.Info("console login", "user_id", u.ID, "role", string(u.Role))
	http.Redirect(w, r, Path, http.StatusSeeOther)
	return nil
}

// logout ends the session and clears the cookie.
func (c *Console) logout(w http.ResponseWriter, r *http.Request) error {
	s := current(r)
	if err := c.auth.Logout(r.Context(), s.Token); err != nil {
		return err
	}
	c.setCookie(w, r, sessionCookie, "", -1)
	http.Redirect(w, r, Path+"login", http.StatusSeeOther)
	return nil
}
