package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"bonafide"
)

// Login throttling. Failed logins are counted three ways: per account and client address (the
// email, known or not, so that throttling does not tell which emails exist, with the address), per
// account across all addresses, and per client address. Past a number of free failures each
// further attempt must wait base*2^k (k = failures beyond the free ones), capped; an attempt
// refused while waiting is not checked and does not count, so waiting out the delay always gives
// one more try. There is no hard lock:
//
//   - per account and address the ceiling is low (default: 5 free failures, 1 s doubling, at most
//     1 min): one client guessing one account is slowed at once, but a stranger failing from
//     their own address does not slow the owner at another one;
//   - per account across addresses it is much higher (default: 100 free failures, then the same
//     backoff): a guesser spread over many addresses gets about one try a minute past it, while
//     a single stranger cannot reach it quickly (their own address waits first);
//   - per address it is longer (default: 20 free failures, at most 5 min): it stops one client
//     hammering many accounts (password spraying). A success does not clear it, or a client
//     holding one valid account could clear it between guesses at others.
//
// A successful login clears its (account, address) entry only: the account's count across
// addresses runs out on its own, so an owner logging in does not hand a distributed guesser a
// fresh allowance. An entry is forgotten LoginWindow after its last failure or the end of its
// delay, whichever is later, and each table holds at most MaxLoginEntries entries (past it,
// expired ones are swept, then the stalest is dropped). Keys are hashed to 16 bytes (IPv6
// addresses are counted per /64), so memory stays small and bounded. In scale-out
// (Config.SharedLoginThrottle) the entries are kept in the database instead, so failures spread
// over every node count as one; they are deleted a day after they ended (sweep.SessionPurge).

// DefaultLoginAccountFailures is Config.LoginAccountFailures's default: failed logins of one
// account, from all addresses together, before each further attempt waits.
const DefaultLoginAccountFailures = 100

// backoffTable is one throttle table. Callers hold loginThrottle.mu.
type backoffTable struct {
	free      int
	base, max time.Duration
	window    time.Duration
	limit     int
	m         map[[16]byte]*backoffEntry
}

// backoffEntry is one key's state: failures, the last one, and the time attempts wait until.
type backoffEntry = bonafide.LoginBackoff

func (t *backoffTable) expired(e *backoffEntry, now time.Time) bool {
	return now.Sub(e.End()) > t.window
}

// waitOf is how long an attempt must still wait under entry e (0: go ahead).
func (t *backoffTable) waitOf(e backoffEntry, now time.Time) time.Duration {
	if e.Failures == 0 || t.expired(&e, now) || !now.Before(e.Until) {
		return 0
	}
	return e.Until.Sub(now)
}

// next is entry e after one more failure at now (an expired entry starts again from zero).
func (t *backoffTable) next(e backoffEntry, now time.Time) backoffEntry {
	if t.expired(&e, now) {
		e = backoffEntry{}
	}
	e.Failures++
	e.Last = now
	if k := e.Failures - t.free; k >= 0 {
		d := t.max
		if k < 30 {
			if b := t.base << k; b > 0 && b < d {
				d = b
			}
		}
		e.Until = now.Add(d)
	}
	return e
}

// wait says how long an attempt for key must still wait (0: go ahead).
func (t *backoffTable) wait(key [16]byte, now time.Time) time.Duration {
	e := t.m[key]
	if e == nil {
		return 0
	}
	if t.expired(e, now) {
		delete(t.m, key)
		return 0
	}
	return t.waitOf(*e, now)
}

// fail records a failure for key and sets its next delay.
func (t *backoffTable) fail(key [16]byte, now time.Time) {
	e := t.m[key]
	if e == nil {
		if len(t.m) >= t.limit {
			t.makeRoom(now)
		}
		e = &backoffEntry{}
		t.m[key] = e
	}
	*e = t.next(*e, now)
}

// makeRoom sweeps expired entries and, if the table is still full, drops the stalest one.
func (t *backoffTable) makeRoom(now time.Time) {
	var stalest [16]byte
	var stalestAt time.Time
	for k, e := range t.m {
		if t.expired(e, now) {
			delete(t.m, k)
			continue
		}
		if stalestAt.IsZero() || e.Last.Before(stalestAt) {
			stalest, stalestAt = k, e.Last
		}
	}
	if len(t.m) >= t.limit {
		delete(t.m, stalest)
	}
}

// loginThrottle is the login throttle of one server: per (account, address), per account and
// per address. With shared set (scale-out), the entries live in the database instead of this
// process's tables, so every node counts the same failures; the delays are computed here either way.
type loginThrottle struct {
	mu      sync.Mutex
	pair    backoffTable
	account backoffTable
	address backoffTable
	shared  bonafide.LoginThrottleStore
}

func newLoginThrottle(c *Config) *loginThrottle {
	return &loginThrottle{
		pair: backoffTable{free: c.LoginFailures, base: c.LoginBackoff, max: c.LoginBackoffMax, window: c.LoginWindow,
			limit: c.MaxLoginEntries, m: map[[16]byte]*backoffEntry{}},
		account: backoffTable{free: c.LoginAccountFailures, base: c.LoginBackoff, max: c.LoginBackoffMax, window: c.LoginWindow,
			limit: c.MaxLoginEntries, m: map[[16]byte]*backoffEntry{}},
		address: backoffTable{free: c.LoginAddressFailures, base: c.LoginBackoff, max: c.LoginAddressBackoffMax, window: c.LoginWindow,
			limit: c.MaxLoginEntries, m: map[[16]byte]*backoffEntry{}},
		shared: c.SharedLoginThrottle,
	}
}

func throttleKey(s string) [16]byte {
	h := sha256.Sum256([]byte(s))
	return [16]byte(h[:16])
}

// addressKey counts an IPv6 client per /64 (one host usually holds a whole /64).
func addressKey(a netip.Addr) [16]byte {
	if a.Is6() && !a.Is4In6() {
		if p, err := a.Prefix(64); err == nil {
			return throttleKey(p.String())
		}
	}
	return throttleKey(a.Unmap().String())
}

// pairKey is the key of one account from one address (the address as addressKey counts it).
func pairKey(email string, addr netip.Addr) [16]byte {
	a := addressKey(addr)
	return throttleKey(email + "\x00" + hex.EncodeToString(a[:]))
}

// sharedKey is a table's key in the shared store: its table, then the hashed key in hex.
func sharedKey(table string, k [16]byte) string { return table + ":" + hex.EncodeToString(k[:]) }

// check returns the wait before an attempt for email from addr, and which key imposes it
// ("account" for the account's own entries, "address" for the client's).
func (lt *loginThrottle) check(ctx context.Context, email string, addr netip.Addr, now time.Time) (time.Duration, string, error) {
	var p, a, b time.Duration
	if lt.shared != nil {
		var es [3]bonafide.LoginBackoff
		for i, k := range lt.sharedKeys(email, addr) {
			e, err := lt.shared.GetLoginBackoff(ctx, k)
			if err != nil {
				return 0, "", err
			}
			es[i] = e
		}
		p, a, b = lt.pair.waitOf(es[0], now), lt.account.waitOf(es[1], now), lt.address.waitOf(es[2], now)
	} else {
		lt.mu.Lock()
		p = lt.pair.wait(pairKey(email, addr), now)
		a = lt.account.wait(throttleKey(email), now)
		b = lt.address.wait(addressKey(addr), now)
		lt.mu.Unlock()
	}
	a = max(a, p)
	if b > a {
		return b, "address", nil
	}
	return a, "account", nil
}

// sharedKeys are the store keys of the pair, account and address entries, in that order.
func (lt *loginThrottle) sharedKeys(email string, addr netip.Addr) [3]string {
	return [3]string{sharedKey("pair", pairKey(email, addr)), sharedKey("account", throttleKey(email)),
		sharedKey("address", addressKey(addr))}
}

func (lt *loginThrottle) fail(ctx context.Context, email string, addr netip.Addr, now time.Time) error {
	if lt.shared != nil {
		// Counted even when the client has gone: the failure happened.
		ctx = context.WithoutCancel(ctx)
		for i, k := range lt.sharedKeys(email, addr) {
			t := [3]*backoffTable{&lt.pair, &lt.account, &lt.address}[i]
			if _, err := lt.shared.UpdateLoginBackoff(ctx, k,
				func(e bonafide.LoginBackoff) bonafide.LoginBackoff { return t.next(e, now) }); err != nil {
				return err
			}
		}
		return nil
	}
	lt.mu.Lock()
	defer lt.mu.Unlock()
	lt.pair.fail(pairKey(email, addr), now)
	lt.account.fail(throttleKey(email), now)
	lt.address.fail(addressKey(addr), now)
	return nil
}

// succeed clears the (account, address) entry of a successful login.
func (lt *loginThrottle) succeed(ctx context.Context, email string, addr netip.Addr) error {
	if lt.shared != nil {
		return lt.shared.DeleteLoginBackoff(context.WithoutCancel(ctx), sharedKey("pair", pairKey(email, addr)))
	}
	lt.mu.Lock()
	defer lt.mu.Unlock()
	delete(lt.pair.m, pairKey(email, addr))
	return nil
}

// size returns the number of entries of the three tables.
func (lt *loginThrottle) size() (pairs, accounts, addresses int) {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	return len(lt.pair.m), len(lt.account.m), len(lt.address.m)
}

// throttledError is the 429 answer with Retry-After in whole seconds, rounded up.
func throttledError(w http.ResponseWriter, wait time.Duration, by string) error {
	secs := int((wait + time.Second - 1) / time.Second)
	if w != nil {
		w.Header().Set("Retry-After", fmt.Sprint(secs))
	}
	what := "for this account"
	if by == "address" {
		what = "from your network address"
	}
	return &bonafide.Error{Code: bonafide.CodeThrottled,
		Message: fmt.Sprintf("Too many requests: too many failed logins %s; wait %s before trying again", what, humanSeconds(secs)),
		Details: map[string]int{"retry_after": secs}}
}

func humanSeconds(secs int) string {
	plural := func(n int, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	if secs < 60 {
		return plural(secs, "second")
	}
	if secs%60 == 0 {
		return plural(secs/60, "minute")
	}
	return plural(secs/60, "minute") + " " + plural(secs%60, "second")
}

// clientAddr is the address a request comes from: r.RemoteAddr, or, when TrustedProxyHeader is
// set and the request comes from a trusted proxy (any address when TrustedProxies is empty), the
// rightmost address of that header that is not itself a trusted proxy. A header that does not
// parse is ignored.
func (s *Server) clientAddr(r *http.Request) netip.Addr {
	remote := parseHostAddr(r.RemoteAddr)
	h := s.cfg.TrustedProxyHeader
	if h == "" || !s.trustedProxy(remote) {
		return remote
	}
	var parts []string
	for _, v := range r.Header.Values(h) {
		parts = append(parts, strings.Split(v, ",")...)
	}
	for i := len(parts) - 1; i >= 0; i-- {
		a := parseHostAddr(strings.TrimSpace(parts[i]))
		if !a.IsValid() {
			return remote
		}
		if i > 0 && len(s.cfg.TrustedProxies) > 0 && s.trustedProxy(a) {
			continue
		}
		return a
	}
	return remote
}

func (s *Server) trustedProxy(a netip.Addr) bool {
	if len(s.cfg.TrustedProxies) == 0 {
		return true
	}
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a.Unmap()) || p.Contains(a) {
			return true
		}
	}
	return false
}

// parseHostAddr reads "1.2.3.4", "1.2.3.4:5", "::1", "[::1]:5"; the zero Addr when it is none.
func parseHostAddr(v string) netip.Addr {
	if a, err := netip.ParseAddr(strings.Trim(v, "[]")); err == nil {
		return a.Unmap()
	}
	if host, _, err := net.SplitHostPort(v); err == nil {
		if a, err := netip.ParseAddr(host); err == nil {
			return a.Unmap()
		}
	}
	return netip.Addr{}
}
