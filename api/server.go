// Package api is the Oz-compatible HTTP transport: routes (each with and without the trailing
// slash, never redirected), the token middleware, multipart parsing, the JSON shapes, and the one
// table from error code to HTTP status.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime"
	"strings"
	"time"

	"bonafide"
)

// Config tunes the server.
type Config struct {
	BaseURL         string        // scheme://host:port that media URLs are built from
	SessionTTL      time.Duration // sliding lifetime of a token (default 15 min)
	ServiceTTL      time.Duration // lifetime of a service account's token (default 5 years)
	MaxFiles        int           // files per request and per folder (default 10)
	MaxFileBytes    int64         // per file (default 15 MiB)
	MaxPayloadBytes int64         // the JSON payload part (default 1 MiB)
	// UploadDir is where the file parts of a request are spooled while it is handled (at most
	// MaxFiles x MaxFileBytes per request; removed when it ends). Default os.TempDir().
	UploadDir            string
	SingleRequestTimeout time.Duration // single-request mode waits this long for the analyses (default 60 s)
	// Login throttling (throttle.go): failed logins per account (email) and client address before
	// each further attempt waits LoginBackoff*2^k, at most LoginBackoffMax (defaults 5, 1 s,
	// 1 min); per account across all addresses LoginAccountFailures before the same backoff
	// (default 100); per client address LoginAddressFailures before the same backoff up to
	// LoginAddressBackoffMax (defaults 20, 5 min). An entry is forgotten LoginWindow after its last failure or delay
	// (default 15 min); each table holds at most MaxLoginEntries (default 100,000). The state is
	// in this process's memory, or in SharedLoginThrottle when it is set.
	LoginFailures          int
	LoginAccountFailures   int
	LoginBackoff           time.Duration
	LoginBackoffMax        time.Duration
	LoginAddressFailures   int
	LoginAddressBackoffMax time.Duration
	LoginWindow            time.Duration
	MaxLoginEntries        int
	// SharedLoginThrottle, when set, keeps the login throttle's entries there instead of in this
	// process, so that every node of a cluster counts the same failures (scale-out).
	SharedLoginThrottle bonafide.LoginThrottleStore
	// TrustedProxyHeader names the header a reverse proxy puts the client address in (for
	// example X-Forwarded-For or X-Real-IP); empty (the default): the header is ignored and the
	// client address is the connection's. TrustedProxies are the networks the header is believed
	// from (and skipped in it, rightmost first); empty: from any peer, so set them whenever the
	// server can be reached other than through the proxy.
	TrustedProxyHeader string
	TrustedProxies     []netip.Prefix
	// BodyIdleTimeout ends a request whose body stops arriving for this long (default 30 s): a
	// body trickled a byte at a time cannot hold a connection, while an upload on a slow link
	// that keeps moving is never cut.
	BodyIdleTimeout time.Duration
	// BodyMinRate is the least average rate, in bytes a second, of a request body once
	// BodyMinRateGrace has passed since the handler began reading it (defaults
	// DefaultBodyMinRate, DefaultBodyMinRateGrace; a negative rate turns it off): a body that
	// trickles is cut, its connection closed and counted (bonafide_http_bodies_cut_total), as
	// Apache's mod_reqtimeout MinRate does (slowbody.go).
	BodyMinRate      int64
	BodyMinRateGrace time.Duration
	// MaxInstant bounds the Instant API analyses running at once on this node (default twice the
	// cores); past it a request is answered 429 with Retry-After instead of piling up in memory.
	MaxInstant int
	// ErasureWait is how long POST /api/erasures waits for its job before it answers 202 with the
	// receipt IN_PROGRESS (default 10 s).
	ErasureWait     time.Duration
	ValidateWebhook func(url string) error
	Version         string

	// MetricsToken, when set, makes /metrics answer 401 unless the request carries
	// "Authorization: Bearer <MetricsToken>". MetricsElsewhere leaves /metrics off Handler: the
	// caller serves MetricsHandler on its own address.
	MetricsToken     string
	MetricsElsewhere bool

	// URLKey signs the media and best-shot URLs the API renders (signing.go); URLLifetime is how
	// long one works (default 1 h). Without a key, New makes one for this process only: in
	// production serve passes the installation's key, which every node shares.
	URLKey      string
	URLLifetime time.Duration

	// Pages are handlers served beside the API, by mux pattern (serve mounts the capture page,
	// web/capture, at "/capture/"); they get the same CORS, metrics and body guards.
	Pages map[string]http.Handler
}

// withDefaults returns a copy with every unset field at its default.
func (c Config) withDefaults() Config {
	c.defaults()
	return c
}

func (c *Config) defaults() {
	if c.MaxInstant <= 0 {
		c.MaxInstant = 2 * runtime.NumCPU()
	}
	if c.ErasureWait <= 0 {
		c.ErasureWait = 10 * time.Second
	}
	if c.BodyIdleTimeout <= 0 {
		c.BodyIdleTimeout = 30 * time.Second
	}
	if c.BodyMinRate == 0 {
		c.BodyMinRate = DefaultBodyMinRate
	}
	if c.BodyMinRateGrace <= 0 {
		c.BodyMinRateGrace = DefaultBodyMinRateGrace
	}
	if c.SessionTTL <= 0 {
		c.SessionTTL = 15 * time.Minute
	}
	if c.URLLifetime <= 0 {
		c.URLLifetime = DefaultURLLifetime
	}
	if c.ServiceTTL <= 0 {
		c.ServiceTTL = 5 * 365 * 24 * time.Hour
	}
	if c.MaxFiles <= 0 {
		c.MaxFiles = 10
	}
	if c.MaxFileBytes <= 0 {
		c.MaxFileBytes = 15 << 20
	}
	if c.MaxPayloadBytes <= 0 {
		c.MaxPayloadBytes = 1 << 20
	}
	if c.SingleRequestTimeout <= 0 {
		c.SingleRequestTimeout = 60 * time.Second
	}
	if c.LoginFailures <= 0 {
		c.LoginFailures = 5
	}
	if c.LoginAccountFailures <= 0 {
		c.LoginAccountFailures = DefaultLoginAccountFailures
	}
	if c.LoginWindow <= 0 {
		c.LoginWindow = 15 * time.Minute
	}
	if c.LoginBackoff <= 0 {
		c.LoginBackoff = time.Second
	}
	if c.LoginBackoffMax <= 0 {
		c.LoginBackoffMax = time.Minute
	}
	if c.LoginAddressFailures <= 0 {
		c.LoginAddressFailures = 20
	}
	if c.LoginAddressBackoffMax <= 0 {
		c.LoginAddressBackoffMax = 5 * time.Minute
	}
	if c.MaxLoginEntries <= 0 {
		c.MaxLoginEntries = 100_000
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
}

// Server serves the API.
type Server struct {
	cfg   Config
	store bonafide.Store
	blobs bonafide.Blobs
	// analyzer runs Instant API analyses; nil when this process runs none.
	analyzer bonafide.Analyzer
	log      *slog.Logger
	now      func() time.Time
	metrics  *Metrics

	throttle *loginThrottle
	// instantSlots holds one token per running Instant API analysis.
	instantSlots chan struct{}
	urlKey       []byte // signs media URLs
}

// New builds a server. analyzer may be nil when this process runs no instant analyses.
func New(cfg Config, store bonafide.Store, blobs bonafide.Blobs, analyzer bonafide.Analyzer, log *slog.Logger, now func() time.Time) *Server {
	cfg.defaults()
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	log = withRequestLog(log) // lines logged with a request's context carry its id
	if cfg.URLKey == "" {
		cfg.URLKey, _ = NewURLKey() // this process only; serve passes the installation's key
	}
	return &Server{cfg: cfg, store: store, blobs: blobs, analyzer: analyzer, log: log, now: now,
		metrics: NewMetrics(), throttle: newLoginThrottle(&cfg), instantSlots: make(chan struct{}, cfg.MaxInstant),
		urlKey: []byte(cfg.URLKey)}
}

// Metrics returns the server's Prometheus collectors.
func (s *Server) Metrics() *Metrics { return s.metrics }

// MetricsHandler serves /metrics, behind the bearer token when one is configured.
func (s *Server) MetricsHandler() http.Handler { return s.metrics.TokenHandler(s.cfg.MetricsToken) }

// handlerFunc is a handler that returns an error for the one error writer.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// Handler returns the HTTP handler with every route.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	route := func(method, path string, h handlerFunc, auth bool) {
		wrapped := s.wrap(h, auth)
		p := strings.TrimSuffix(path, "/")
		mux.Handle(method+" "+p+"/{$}", wrapped)
		mux.Handle(method+" "+p, wrapped)
	}
	route("POST", "/api/authorize/auth", s.login, false)
	route("POST", "/api/authorize/refresh", s.refresh, true)
	route("GET", "/api/version", s.version, false)
	route("GET", "/api/openapi.yaml", s.openapi, false)

	route("POST", "/api/folders", s.createFolder, true)
	route("GET", "/api/folders", s.listFolders, true)
	route("GET", "/api/folders/{id}", s.getFolder, true)
	route("DELETE", "/api/folders/{id}", s.deleteFolder, true)
	route("GET", "/api/folders/{id}/meta_data", s.getFolderMeta, true)
	route("POST", "/api/folders/{id}/meta_data", s.setFolderMeta, true)
	route("PATCH", "/api/folders/{id}/meta_data", s.patchFolderMeta, true)
	route("DELETE", "/api/folders/{id}/meta_data", s.deleteFolderMeta, true)
	route("POST", "/api/folders/{id}/media", s.addMedia, true)
	route("GET", "/api/folders/{id}/media", s.listFolderMedia, true)
	route("GET", "/api/media/{id}", s.getMedia, true)
	route("PATCH", "/api/media/{id}", s.patchMedia, true)
	route("DELETE", "/api/media/{id}", s.deleteMedia, true)
	route("POST", "/api/folders/{id}/analyses", s.startAnalyses, true)
	route("GET", "/api/folders/{id}/analyses", s.listAnalyses, true)
	route("GET", "/api/analyses/{id}", s.getAnalysis, true)
	route("PATCH", "/api/analyses/{id}", s.patchAnalysis, true)
	route("POST", "/api/instant/folders", s.instant, true)
	s.collectionRoutes(route)
	s.captureRoutes(route)
	s.accountRoutes(route)
	route("GET", "/api/audit", s.listAudit, true)
	s.erasureRoutes(route)

	for pattern, h := range s.cfg.Pages {
		mux.Handle(pattern, h)
	}
	mux.Handle("GET /static/{key...}", s.wrap(s.staticSigned, false))
	mux.Handle("GET /healthz", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}))
	mux.Handle("GET /readyz", s.wrap(s.ready, false))
	if !s.cfg.MetricsElsewhere {
		mux.Handle("GET /metrics", s.MetricsHandler())
	}
	mux.Handle("/", s.wrap(func(w http.ResponseWriter, r *http.Request) error {
		if allow := allowedMethods(mux, r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			return &bonafide.Error{Code: bonafide.CodeNotAllowed, Details: map[string]any{"allow": allow},
				Message: fmt.Sprintf("HTTP method not allowed on this endpoint: %s %s; allowed: %s", r.Method, r.URL.Path, strings.Join(allow, ", "))}
		}
		return bonafide.Errorf(bonafide.CodeNotExist, "no endpoint %s %s", r.Method, r.URL.Path)
	}, false))
	// Outermost first: the request id (so that every answer, a preflight's too, carries it),
	// CORS, the metrics (which count a recovered panic as the 500 it is answered with), panic
	// recovery, the body's idle deadline.
	return withRequestID(s.withAuditSource(s.cors(s.metrics.Instrument(s.recoverPanics(s.bodyIdle(mux))))))
}

// allowedMethods lists the methods some route serves r's path with (OPTIONS, the CORS preflight,
// always); none when no route has the path. It asks the mux itself, so it cannot disagree with
// the registrations.
func allowedMethods(mux *http.ServeMux, r *http.Request) []string {
	var out []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := *r
		probe.Method = m
		if _, pattern := mux.Handler(&probe); pattern != "" && pattern != "/" {
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return append(out, http.MethodOptions)
}

// cors adds the headers Oz's nginx adds, and answers preflight requests.
func (s *Server) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS, PATCH, DELETE")
		h.Set("Access-Control-Allow-Headers", "DNT,X-CustomHeader,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,x-forensic-access-token,x-forensics-access-token,x-capture-token")
		h.Set("X-Frame-Options", "SAMEORIGIN")
		h.Set("X-Content-Type-Options", "nosniff") // media and best shots are served as their sniffed type, never guessed by the browser
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

type ctxKey struct{}

// principal is the authenticated caller.
type principal struct {
	user    *bonafide.User
	session *bonafide.Session
}

func caller(r *http.Request) *principal {
	p, _ := r.Context().Value(ctxKey{}).(*principal)
	return p
}

// wrap runs the auth check when asked and writes any error as the Oz envelope.
func (s *Server) wrap(h handlerFunc, auth bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if auth {
			p, err := s.authenticate(r)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, p))
		}
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// statusOf is the one table from Oz error code to HTTP status (oz-api.md §1.6).
func statusOf(c bonafide.Code) int {
	switch c {
	case bonafide.CodeNotAllowed:
		return http.StatusMethodNotAllowed
	case bonafide.CodeNotRealized:
		return http.StatusNotImplemented
	case bonafide.CodeInvalidStructure, bonafide.CodeInvalidValue, bonafide.CodeInvalidType,
		bonafide.CodeAlreadyExist, bonafide.CodeBodyTooBig, bonafide.CodeHumanFriendly:
		return http.StatusBadRequest
	case bonafide.CodeAuthNotProvided, bonafide.CodeAuthInvalid, bonafide.CodeAuthExpired, bonafide.CodeCredentialsBad:
		return http.StatusUnauthorized
	case bonafide.CodeForbidden, bonafide.CodeUserBlocked:
		return http.StatusForbidden
	case bonafide.CodeNotExist:
		return http.StatusNotFound
	case bonafide.CodeExternalService:
		return http.StatusBadGateway
	case bonafide.CodeThrottled:
		return http.StatusTooManyRequests
	case bonafide.CodeGone:
		return http.StatusGone
	}
	return http.StatusInternalServerError
}

// errorBody is the Oz error envelope; details is sent under both names clients read.
type errorBody struct {
	Code     bonafide.Code `json:"error_code"`
	Message  string        `json:"error_message"`
	Details  any           `json:"error_details"`
	Details2 any           `json:"details"`
}

// unknownErrorMessage is the one message of an internal error (code 0 or 12): what went wrong is
// in the log, under the request id that the answer's details carry.
const unknownErrorMessage = "Unknown server side error occurred"

// writeError writes err as the Oz error envelope. An internal error (not a *bonafide.Error, or
// code 0 or 12) is logged with the request id and answered with a generic message and the
// request id in its details, by which an operator finds the log line.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *bonafide.Error
	if !errors.As(err, &e) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			e = bonafide.Errorf(bonafide.CodeBodyTooBig, "Request data too big: the limit is %d bytes", mbe.Limit)
		} else {
			e = s.internalError(r, bonafide.CodeUnknown, err)
		}
	} else if e.Code == bonafide.CodeUnknown || e.Code == bonafide.CodeDatabase {
		e = s.internalError(r, e.Code, err)
	}
	writeJSON(w, statusOf(e.Code), errorBody{Code: e.Code, Message: e.Message, Details: e.Details, Details2: e.Details})
}

// internalError logs err and returns what the client is told of it.
func (s *Server) internalError(r *http.Request, code bonafide.Code, err error) *bonafide.Error {
	s.log.ErrorContext(r.Context(), "internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	out := &bonafide.Error{Code: code, Message: unknownErrorMessage}
	if id := RequestID(r.Context()); id != "" {
		out.Details = map[string]string{"request_id": id}
	}
	return out
}

// writeJSON writes v as Oz writes JSON (ozJSON).
func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := ozJSON(v)
	if err != nil {
		// Only a value that cannot be JSON gets here: a bug, answered as code 0.
		data = []byte(`{"error_code": 0, "error_message": "Unknown server side error occurred", "error_details": null, "details": null}` + "\n")
		status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

// version answers GET /api/version, the health probe Oz's deployment uses.
func (s *Server) version(w http.ResponseWriter, r *http.Request) error {
	body := map[string]any{"version": s.cfg.Version, "core": s.cfg.Version}
	if s.analyzer != nil {
		info := s.analyzer.Info()
		var models []map[string]string
		for _, m := range info.Models {
			models = append(models, map[string]string{"name": m.File, "version": m.SHA256})
		}
		body["engine"] = info.Version
		body["models"] = models
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

// ready checks that the database answers.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if _, err := s.store.CountUsers(ctx); err != nil {
		return &bonafide.Error{Code: bonafide.CodeDatabase, Message: "database not ready", Err: err}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}

// StatusOf is the HTTP status of an Oz error code: the one table, which the console's HTML errors
// use too.
func StatusOf(c bonafide.Code) int { return statusOf(c) }
