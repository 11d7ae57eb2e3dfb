package api

// Request ids and panic recovery, as tailscale's tsweb does them: every request gets an id (its
// client's X-Request-Id when that is well formed, a new one otherwise), which its answer carries
// in X-Request-Id, every log line written with its context carries as request_id, and a code-0
// error envelope carries in its details; a handler that panics is answered with the Oz error
// envelope (500, code 0) while its stack goes to the log, and the server keeps serving.

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"runtime/debug"

	"github.com/google/uuid"

	"bonafide"
)

// RequestIDHeader carries the request id, in the request (optional) and in every answer.
const RequestIDHeader = "X-Request-Id"

// maxRequestIDLen bounds an incoming request id: longer ones are replaced.
const maxRequestIDLen = 128

type requestIDKey struct{}

// RequestID returns the request id that Guard or Handler gave the request of ctx ("" outside a
// request).
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// wellFormedRequestID reports whether an incoming id may be kept: 1 to 128 characters among
// letters, digits and - _ . : (a UUID, a trace id, a proxy's request id), so that it cannot
// forge log fields or split a header.
func wellFormedRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.', c == ':':
		default:
			return false
		}
	}
	return true
}

// withRequestID gives r its id and sets the answer's header. A request that has one already (an
// outer Guard gave it) keeps it, so the middleware may be stacked.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if RequestID(r.Context()) != "" {
			next.ServeHTTP(w, r)
			return
		}
		id := r.Header.Get(RequestIDHeader)
		if !wellFormedRequestID(id) {
			id = uuid.NewString()
		}
		w.Header().Set(RequestIDHeader, id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
	})
}

// Guard gives every request of h a request id (as Handler does its own) and answers a panic in h
// with the Oz error envelope. serve puts it around everything the listener serves (the console
// beside the API), so that every answer carries X-Request-Id.
func (s *Server) Guard(h http.Handler) http.Handler {
	return withRequestID(s.withAuditSource(s.recoverPanics(h)))
}

// recoverPanics answers a request whose handler panicked with the Oz error envelope (500, code 0,
// the request id in its details) and logs the panic with its stack and the request id; the
// answer names no server path and holds no stack. When the handler had begun its answer, the
// envelope cannot follow: the connection is cut (http.ErrAbortHandler), so that the client sees
// a broken answer rather than a truncated one that looks whole.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pw := &panicWriter{ResponseWriter: w}
		before := w.Header().Clone() // the outer middleware's headers (request id, CORS)
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.ErrorContext(r.Context(), "panic serving a request", "method", r.Method, "path", r.URL.Path,
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()), "answer_started", pw.started)
			if pw.started {
				panic(http.ErrAbortHandler)
			}
			// Headers the handler set for its own answer (a length, a file name) do not belong
			// to the envelope.
			h := w.Header()
			clear(h)
			maps.Copy(h, before)
			s.writeError(pw, r, &bonafide.Error{Code: bonafide.CodeUnknown, Message: unknownErrorMessage,
				Err: fmt.Errorf("panic: %v", v)})
		}()
		next.ServeHTTP(pw, r)
	})
}

// panicWriter records whether the answer has begun.
type panicWriter struct {
	http.ResponseWriter
	started bool
}

// Unwrap lets http.ResponseController reach the connection.
func (w *panicWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *panicWriter) WriteHeader(code int) {
	if code >= 200 { // 1xx informational answers leave the real one to come
		w.started = true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *panicWriter) Write(p []byte) (int, error) {
	w.started = true
	return w.ResponseWriter.Write(p)
}

// requestLog adds the request id of a record's context to the record: a handler logs with
// s.log.InfoContext(r.Context(), ...) and the line carries request_id.
type requestLog struct{ slog.Handler }

// withRequestLog wraps log's handler once.
func withRequestLog(log *slog.Logger) *slog.Logger {
	if _, ok := log.Handler().(requestLog); ok {
		return log
	}
	return slog.New(requestLog{log.Handler()})
}

func (h requestLog) Handle(ctx context.Context, rec slog.Record) error {
	if id := RequestID(ctx); id != "" {
		rec.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, rec)
}

func (h requestLog) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestLog{h.Handler.WithAttrs(attrs)}
}

func (h requestLog) WithGroup(name string) slog.Handler {
	return requestLog{h.Handler.WithGroup(name)}
}
