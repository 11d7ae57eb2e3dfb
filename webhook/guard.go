package webhook

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// ErrInvalidURL is wrapped by errors about a malformed or unsupported webhook
// URL (bad syntax, scheme other than http/https, missing host).
var ErrInvalidURL = errors.New("webhook: invalid URL")

// BlockedError reports that a webhook target was refused by the SSRF guard
// because it is (or resolved to) an internal address.
type BlockedError struct {
	// Host is the host name or IP literal from the URL.
	Host string
	// Addr is the refused IP address. It is the zero Addr when the refusal
	// was based on the host name alone (e.g. "localhost").
	Addr netip.Addr
	// Reason describes the address class, e.g. "private network".
	Reason string
}

func (e *BlockedError) Error() string {
	var target string
	switch {
	case !e.Addr.IsValid():
		target = fmt.Sprintf("%q", e.Host)
	case e.Host == "" || e.Host == e.Addr.String():
		target = e.Addr.String()
	default:
		target = fmt.Sprintf("%s (host %q)", e.Addr, e.Host)
	}
	return fmt.Sprintf("webhook: refusing to connect to %s: it is a %s address, "+
		"and webhook targets must be public internet addresses "+
		"(an operator can permit it with AllowPrivate or AllowedHosts)", target, e.Reason)
}

var (
	cgnat        = netip.MustParsePrefix("100.64.0.0/10")
	thisNetwork  = netip.MustParsePrefix("0.0.0.0/8")
	reservedV4   = netip.MustParsePrefix("240.0.0.0/4") // includes 255.255.255.255
	nat64        = netip.MustParsePrefix("64:ff9b::/96")
	ipv4Compat96 = netip.MustParsePrefix("::/96") // deprecated IPv4-compatible IPv6
)

// specialPurpose are the other blocks of the IANA IPv4 and IPv6 Special-Purpose Address
// Registries (RFC 6890 and updates) that are not globally reachable unicast: protocol
// assignments, documentation, benchmarking, 6to4 relays, discard, ORCHIDs, translation.
var specialPurpose = []struct {
	p    netip.Prefix
	name string
}{
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignments (192.0.0.0/24)"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation (TEST-NET-1)"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation (TEST-NET-2)"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation (TEST-NET-3)"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking (198.18.0.0/15)"},
	{netip.MustParsePrefix("192.88.99.0/24"), "deprecated 6to4 relay anycast"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "local-use IPv4/IPv6 translation"},
	{netip.MustParsePrefix("100::/64"), "discard-only (100::/64)"},
	{netip.MustParsePrefix("2001::/23"), "IETF protocol assignments (2001::/23)"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation (2001:db8::/32)"},
	{netip.MustParsePrefix("2002::/16"), "6to4 (2002::/16)"},
	{netip.MustParsePrefix("3fff::/20"), "documentation (3fff::/20)"},
	{netip.MustParsePrefix("5f00::/16"), "segment routing SIDs (5f00::/16)"},
	{netip.MustParsePrefix("fec0::/10"), "deprecated site-local"},
}

// blockedReason returns why ip is not an acceptable public destination, or
// "" if it is acceptable.
func blockedReason(ip netip.Addr) string {
	if !ip.IsValid() {
		return "invalid"
	}
	ip = ip.WithZone("").Unmap()
	switch {
	case ip.IsUnspecified():
		return "unspecified"
	case ip.IsLoopback():
		return "loopback"
	case ip.IsPrivate():
		return "private network"
	case ip.IsLinkLocalUnicast():
		return "link-local (cloud metadata)"
	case ip.IsMulticast(), ip.IsLinkLocalMulticast(), ip.IsInterfaceLocalMulticast():
		return "multicast"
	case cgnat.Contains(ip):
		return "carrier-grade NAT (100.64.0.0/10)"
	case thisNetwork.Contains(ip):
		return `"this network" (0.0.0.0/8)`
	case reservedV4.Contains(ip):
		return "reserved or broadcast"
	}
	for _, sp := range specialPurpose {
		if sp.p.Contains(ip) {
			return "special-purpose: " + sp.name
		}
	}
	if ip.Is6() && (nat64.Contains(ip) || ipv4Compat96.Contains(ip)) {
		// An IPv4 address embedded in the low 32 bits: judge that address.
		b := ip.As16()
		if r := blockedReason(netip.AddrFrom4([4]byte(b[12:]))); r != "" {
			return r + " (IPv4 embedded in IPv6)"
		}
	}
	return ""
}

// policy is the compiled form of the SSRF-related Options.
type policy struct {
	allowPrivate bool
	hosts        map[string]bool // normalized host names
	prefixes     []netip.Prefix  // allowed IPs (as /32 or /128) and CIDRs
}

func normalizeHost(h string) string {
	h = strings.TrimSpace(h)
	h = strings.TrimPrefix(h, "[")
	h = strings.TrimSuffix(h, "]")
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

// parseAllowed compiles AllowedHosts; it returns the malformed entries.
func parseAllowed(entries []string) (hosts map[string]bool, prefixes []netip.Prefix, bad []string) {
	hosts = map[string]bool{}
	for _, raw := range entries {
		e := normalizeHost(raw)
		if e == "" {
			continue
		}
		if strings.Contains(e, "/") {
			p, err := netip.ParsePrefix(e)
			if err != nil {
				bad = append(bad, raw)
				continue
			}
			if p.Addr().Is4In6() && p.Bits() >= 96 {
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
			prefixes = append(prefixes, p.Masked())
			continue
		}
		if ip, err := netip.ParseAddr(e); err == nil {
			ip = ip.WithZone("").Unmap()
			prefixes = append(prefixes, netip.PrefixFrom(ip, ip.BitLen()))
			continue
		}
		if strings.ContainsAny(e, " \t/:@?#") {
			bad = append(bad, raw)
			continue
		}
		hosts[e] = true
	}
	return hosts, prefixes, bad
}

func newPolicy(o Options) *policy {
	hosts, prefixes, _ := parseAllowed(o.AllowedHosts)
	return &policy{allowPrivate: o.AllowPrivate, hosts: hosts, prefixes: prefixes}
}

// hostAllowed reports whether the host name (not IP) is explicitly allowed.
func (p *policy) hostAllowed(host string) bool {
	return p.hosts[normalizeHost(host)]
}

func (p *policy) ipAllowed(ip netip.Addr) bool {
	ip = ip.WithZone("").Unmap()
	for _, pr := range p.prefixes {
		if pr.Contains(ip) {
			return true
		}
	}
	return false
}

// checkIP returns a *BlockedError if a connection to ip (reached via host)
// must be refused.
func (p *policy) checkIP(host string, ip netip.Addr) error {
	if p.allowPrivate || p.hostAllowed(host) || p.ipAllowed(ip) {
		return nil
	}
	if r := blockedReason(ip); r != "" {
		return &BlockedError{Host: host, Addr: ip.WithZone("").Unmap(), Reason: r}
	}
	return nil
}

// checkDial is the net.Dialer Control check: address is the already-resolved
// "ip:port" the socket is about to connect to; host is the name from the URL.
func (p *policy) checkDial(host, address string) error {
	ipStr, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("webhook: unexpected dial address %q: %w", address, err)
	}
	ip, err := netip.ParseAddr(ipStr)
	if err != nil {
		// Fail closed: Control should only ever see IP addresses.
		return &BlockedError{Host: host, Reason: "unresolved"}
	}
	return p.checkIP(host, ip)
}

// isLocalhostName reports whether h is a name that conventionally resolves
// to loopback (RFC 6761).
func isLocalhostName(h string) bool {
	return h == "localhost" || strings.HasSuffix(h, ".localhost")
}

// parseTarget parses and checks the parts of a webhook URL that can be
// checked without DNS: syntax, scheme, host presence, and literal IPs.
// If checkNames is set, "localhost" names are refused too.
func (p *policy) parseTarget(raw string, checkNames bool) (*url.URL, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, fmt.Errorf("%w: the URL is empty", ErrInvalidURL)
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("%w: %q is not a valid URL (%v)", ErrInvalidURL, raw, err)
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
	case "":
		return nil, fmt.Errorf("%w: %q has no scheme; it must start with https:// or http://", ErrInvalidURL, raw)
	default:
		return nil, fmt.Errorf("%w: scheme %q is not supported; the URL must start with https:// or http://", ErrInvalidURL, u.Scheme)
	}
	host := u.Hostname()
	if host == "" {
		return nil, fmt.Errorf("%w: %q has no host name", ErrInvalidURL, raw)
	}
	if port := u.Port(); port != "" {
		if n, err := parsePort(port); err != nil || n == 0 {
			return nil, fmt.Errorf("%w: port %q is not valid", ErrInvalidURL, port)
		}
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if err := p.checkIP(host, ip); err != nil {
			return nil, err
		}
	} else if checkNames && !p.allowPrivate && !p.hostAllowed(host) && isLocalhostName(normalizeHost(host)) {
		return nil, &BlockedError{Host: host, Reason: "loopback (localhost)"}
	}
	return u, nil
}

func parsePort(s string) (int, error) {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("not a number")
		}
		n = n*10 + int(c-'0')
		if n > 65535 {
			return 0, fmt.Errorf("out of range")
		}
	}
	return n, nil
}

// ValidateURL checks a webhook URL (e.g. a resolution_endpoint) when it is
// submitted: it must parse, use http or https, name a host, and must not be
// a literal internal IP address (loopback, private, link-local, ...) or a
// "localhost" name, unless permitted by o.AllowPrivate or o.AllowedHosts.
//
// It does not resolve DNS: a name that resolves to an internal address is
// caught at delivery time. Errors wrap ErrInvalidURL or are *BlockedError,
// and their messages are written to be shown to the person who submitted it.
func ValidateURL(raw string, o Options) error {
	_, err := newPolicy(o).parseTarget(raw, true)
	return err
}
