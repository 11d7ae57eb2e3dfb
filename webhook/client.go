package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"
)

// Defaults applied by New for zero-valued Options fields.
const (
	DefaultTimeout          = 10 * time.Second
	DefaultUserAgent        = "Bonafide-Webhooks/1"
	DefaultMaxResponseBytes = 4 << 10
	// maxErrorSnippet bounds how much of a response body appears in
	// StatusError.Error().
	maxErrorSnippet = 256
)

// Options configures a Client.
type Options struct {
	// Timeout bounds a whole delivery attempt (connect, TLS, request,
	// response headers and reading the bounded body). Default 10s.
	Timeout time.Duration
	// AllowPrivate permits loopback, private, link-local and other internal
	// targets. Default false: such targets are refused.
	AllowPrivate bool
	// AllowedHosts lists targets permitted even if internal: host names
	// (exact, case-insensitive; any address they resolve to is permitted),
	// IP addresses, or CIDR prefixes such as "10.1.0.0/16".
	AllowedHosts []string
	// UserAgent is sent as the user-agent header. Default DefaultUserAgent.
	UserAgent string
	// MaxResponseBytes caps how much of a response body is read (and kept
	// in StatusError.Body). Default DefaultMaxResponseBytes.
	MaxResponseBytes int64
}

// Validate reports malformed Options (currently: AllowedHosts entries that
// are neither a host name, an IP address nor a CIDR prefix). New ignores such
// entries, so call Validate when loading configuration.
func (o Options) Validate() error {
	if _, _, bad := parseAllowed(o.AllowedHosts); len(bad) > 0 {
		return fmt.Errorf("webhook: AllowedHosts entries are not a host name, IP or CIDR: %q", bad)
	}
	if o.Timeout < 0 || o.MaxResponseBytes < 0 {
		return errors.New("webhook: Timeout and MaxResponseBytes must not be negative")
	}
	return nil
}

// StatusError is returned by Deliver when the endpoint answers with a
// non-2xx status (including 3xx: redirects are never followed).
type StatusError struct {
	StatusCode int
	// Body is the start of the response body (at most MaxResponseBytes),
	// with invalid UTF-8 and control characters replaced.
	Body string
	// Location is the redirect target of a 3xx response, if any.
	Location string
	// RetryAfter is the parsed Retry-After header (0 if absent or invalid).
	RetryAfter time.Duration
}

func (e *StatusError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "webhook: endpoint responded %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	if e.StatusCode >= 300 && e.StatusCode < 400 {
		b.WriteString(" (redirects are not followed; configure the final URL")
		if e.Location != "" {
			fmt.Fprintf(&b, ", which may be %q", e.Location)
		}
		b.WriteString(")")
	}
	if e.Body != "" {
		s := e.Body
		if len(s) > maxErrorSnippet {
			s = strings.ToValidUTF8(s[:maxErrorSnippet], "") + "…"
		}
		fmt.Fprintf(&b, ": %s", s)
	}
	return b.String()
}

// Retryable reports whether another attempt might succeed: 5xx, 408 and 429.
func (e *StatusError) Retryable() bool {
	return e.StatusCode >= 500 || e.StatusCode == http.StatusRequestTimeout || e.StatusCode == http.StatusTooManyRequests
}

// permanentError marks failures that no retry can fix (e.g. a bad secret).
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Retryable classifies an error returned by Deliver. Network errors,
// timeouts, cancellations and 5xx/408/429 responses are retryable; other
// 4xx and 3xx responses, *BlockedError, invalid URLs and invalid secrets are
// not. A nil error is not retryable.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	var be *BlockedError
	if errors.As(err, &be) {
		return false
	}
	var se *StatusError
	if errors.As(err, &se) {
		return se.Retryable()
	}
	var pe *permanentError
	if errors.As(err, &pe) || errors.Is(err, ErrInvalidURL) || errors.Is(err, ErrInvalidSecret) {
		return false
	}
	// Everything else is transport-level: DNS failures, refused or reset
	// connections, TLS failures, timeouts and context cancellation.
	return true
}

// Client delivers signed webhooks. It is safe for concurrent use.
type Client struct {
	opts Options
	pol  *policy
	hc   *http.Client
}

// New returns a Client. Zero-valued Options fields take their defaults.
// Proxy environment variables are deliberately ignored: the SSRF guard must
// see the real destination address.
func New(o Options) *Client {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.UserAgent == "" {
		o.UserAgent = DefaultUserAgent
	}
	if o.MaxResponseBytes <= 0 {
		o.MaxResponseBytes = DefaultMaxResponseBytes
	}
	c := &Client{opts: o, pol: newPolicy(o)}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           c.dialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   o.Timeout,
		ExpectContinueTimeout: time.Second,
	}
	c.hc = &http.Client{
		Transport: tr,
		Timeout:   o.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	return c
}

// dialContext dials with a Control hook that vets the resolved IP right
// before connect(2), so a name that re-resolves to an internal address
// (DNS rebinding) is still refused.
func (c *Client) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	d := net.Dialer{
		Timeout:   c.opts.Timeout,
		KeepAlive: 30 * time.Second,
		Control: func(network, address string, _ syscall.RawConn) error {
			switch network {
			case "tcp", "tcp4", "tcp6":
			default:
				return fmt.Errorf("webhook: refusing %s connection", network)
			}
			return c.pol.checkDial(host, address)
		},
	}
	return d.DialContext(ctx, network, addr)
}

// Deliver POSTs body (JSON) to url, signed with secret under message id,
// with content-type, webhook-id, webhook-timestamp, webhook-signature and
// user-agent headers. A 2xx response is success. Any other response yields
// a *StatusError; a refused target yields a *BlockedError (before any
// connection is made). Use Retryable to decide whether to try again; reuse
// the same id for retries so receivers can deduplicate.
func (c *Client) Deliver(ctx context.Context, url, secret, id string, body []byte) error {
	u, err := c.pol.parseTarget(url, false)
	if err != nil {
		return err
	}
	now := time.Now()
	sig, err := Sign(secret, id, now, body)
	if err != nil {
		return &permanentError{err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return &permanentError{fmt.Errorf("webhook: building request: %w", err)}
	}
	req.Header.Set("content-type", "application/json")
	req.Header.Set("user-agent", c.opts.UserAgent)
	req.Header.Set(HeaderID, id)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(HeaderSignature, sig)

	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	// Read a bounded amount; the rest is discarded when the body is closed.
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, c.opts.MaxResponseBytes))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	return &StatusError{
		StatusCode: resp.StatusCode,
		Body:       sanitize(snippet),
		Location:   resp.Header.Get("Location"),
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), now),
	}
}

// sanitize makes an untrusted body snippet safe to log on one line.
func sanitize(b []byte) string {
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == '\t' {
			return ' '
		}
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}

func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, int64(24*time.Hour/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), 24*time.Hour)
	}
	return 0
}
