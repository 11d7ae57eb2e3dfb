package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"bonafide"
)

// Defaults of the request body's minimum rate (Config.BodyMinRate, Config.BodyMinRateGrace):
// after 10 s a body must have averaged 4 KiB/s since the handler began reading it, as Apache's
// mod_reqtimeout "body=10,MinRate=4096" asks. The largest upload (10 files of 15 MiB) at 4 KiB/s
// would still take hours; a client that slow is cut by the 30 minute request limit anyway.
const (
	DefaultBodyMinRate      = 4096
	DefaultBodyMinRateGrace = 10 * time.Second
)

// bodyIdle gives every request body a read deadline: the earlier of BodyIdleTimeout after the
// last byte that arrived (a stalled body) and the time the body's average rate falls below
// BodyMinRate after BodyMinRateGrace (a trickling body: start + grace + bytes/rate, so each
// byte buys 1/rate seconds). A body cut either way answers code 3, closes the connection, is
// counted in bonafide_http_bodies_cut_total and logged. Once the body has ended no deadline is
// set, so that a long handler is not cancelled by the server's background read.
func (s *Server) bodyIdle(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			b := &idleBody{ReadCloser: r.Body, rc: http.NewResponseController(w), idle: s.cfg.BodyIdleTimeout,
				rate: s.cfg.BodyMinRate, grace: s.cfg.BodyMinRateGrace, start: time.Now(),
				cut: func(reason string, n int64, elapsed time.Duration) {
					w.Header().Set("Connection", "close")
					s.metrics.bodiesCut.WithLabelValues(reason).Inc()
					s.log.WarnContext(r.Context(), "request body cut", "reason", reason, "bytes", n,
						"elapsed_ms", elapsed.Milliseconds(), "client", s.clientAddr(r).String())
				}}
			if b.rc.SetReadDeadline(b.deadline(b.start)) == nil {
				r.Body = b
			}
		}
		next.ServeHTTP(w, r)
	})
}

// idleBody is a request body under bodyIdle's deadlines.
type idleBody struct {
	io.ReadCloser
	rc    *http.ResponseController
	idle  time.Duration
	rate  int64 // bytes a second; <= 0: no minimum rate
	grace time.Duration
	start time.Time
	n     int64 // bytes read so far
	done  bool  // the body ended or was cut
	cut   func(reason string, n int64, elapsed time.Duration)
}

// rateDeadline is when the body's average rate falls below the minimum (zero: never).
func (b *idleBody) rateDeadline() time.Time {
	if b.rate <= 0 {
		return time.Time{}
	}
	return b.start.Add(b.grace + time.Duration(float64(b.n)/float64(b.rate)*float64(time.Second)))
}

// deadline is the read deadline at now: the idle one or the rate one, whichever is earlier.
func (b *idleBody) deadline(now time.Time) time.Time {
	d := now.Add(b.idle)
	if r := b.rateDeadline(); !r.IsZero() && r.Before(d) {
		d = r
	}
	return d
}

func (b *idleBody) Read(p []byte) (int, error) {
	if b.done {
		return b.ReadCloser.Read(p)
	}
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	now := time.Now()
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		b.done = true
		elapsed := now.Sub(b.start)
		if r := b.rateDeadline(); !r.IsZero() && !now.Before(r) {
			b.cut("slow", b.n, elapsed)
			return n, &bonafide.Error{Code: bonafide.CodeInvalidStructure,
				Message: fmt.Sprintf("Invalid body structure: the request body arrived at %d bytes a second on average, under the minimum of %d after %s",
					int64(float64(b.n)/max(elapsed.Seconds(), 1e-3)), b.rate, b.grace)}
		}
		b.cut("idle", b.n, elapsed)
		return n, &bonafide.Error{Code: bonafide.CodeInvalidStructure,
			Message: fmt.Sprintf("Invalid body structure: the request body stopped arriving for %s", b.idle)}
	case err == io.EOF:
		// The end: net/http has begun its background read of the connection (and cleared the
		// deadline); a deadline set now would end that read and cancel a handler still at work.
		b.done = true
	case n > 0:
		_ = b.rc.SetReadDeadline(b.deadline(now))
	}
	return n, err
}
