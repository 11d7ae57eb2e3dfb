package api

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// With a token, /metrics answers 401 to a request without it or with another one (even one that
// shares its prefix) and the metrics to the right bearer.
func TestMetricsToken(t *testing.T) {
	const token = "s3cret-metrics-token"
	env := tuServer(t, func(c *Config) { c.MetricsToken = token })
	for _, h := range [][]string{nil, {"Authorization", "Bearer wrong"}, {"Authorization", "Bearer " + token[:10]},
		{"Authorization", token}, {"Authorization", "Basic " + token}} {
		r := env.tuDo("GET", "/metrics", "", nil, h...)
		if r.Status != 401 || strings.Contains(string(r.Body), "bonafide_http_requests_total") {
			t.Errorf("/metrics with %q: %d\n%s", h, r.Status, r.Body)
		}
	}
	r := env.tuDo("GET", "/metrics", "", nil, "Authorization", "Bearer "+token).tuExpect(200, 0)
	if !strings.Contains(string(r.Body), "bonafide_http_requests_total") {
		t.Fatalf("/metrics with the token:\n%s", r.Body)
	}
}

// MetricsElsewhere takes /metrics off the API handler; MetricsHandler serves it (on the address
// the caller chose), behind the token when there is one.
func TestMetricsElsewhere(t *testing.T) {
	env := tuServer(t, func(c *Config) { c.MetricsElsewhere = true; c.MetricsToken = "another-long-token" })
	env.tuDo("GET", "/api/version", "", nil).tuExpect(200, 0)
	env.tuDo("GET", "/metrics", "", nil).tuExpect(404, 10)
	env.tuDo("GET", "/metrics", "", nil, "Authorization", "Bearer another-long-token").tuExpect(404, 10)

	ms := httptest.NewServer(env.API.MetricsHandler())
	defer ms.Close()
	r := env.tuDo("GET", ms.URL+"/metrics", "", nil, "Authorization", "Bearer another-long-token").tuExpect(200, 0)
	if !strings.Contains(string(r.Body), `route="/api/version"`) {
		t.Fatalf("the metrics listener lacks the API's requests:\n%s", r.Body)
	}
	if r := env.tuDo("GET", ms.URL+"/metrics", "", nil); r.Status != 401 {
		t.Fatalf("metrics listener without the token: %d", r.Status)
	}
}
