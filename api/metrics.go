package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the server's Prometheus collectors, in their own registry.
type Metrics struct {
	reg              *prometheus.Registry
	requests         *prometheus.CounterVec
	latency          *prometheus.HistogramVec
	analysesStarted  prometheus.Counter
	AnalysisDuration prometheus.Histogram
	verdicts         *prometheus.CounterVec
	retentionDeleted *prometheus.CounterVec
	bodiesCut        *prometheus.CounterVec
}

// NewMetrics registers the collectors.
func NewMetrics() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bonafide_http_requests_total",
		Help: "HTTP requests by route, method and status code."}, []string{"route", "method", "code"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "bonafide_http_request_duration_seconds",
		Help: "HTTP request latency by route and method.", Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12)}, []string{"route", "method"})
	m.analysesStarted = prometheus.NewCounter(prometheus.CounterOpts{Name: "bonafide_analyses_started_total",
		Help: "Analyses accepted."})
	m.AnalysisDuration = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "bonafide_analysis_duration_seconds",
		Help: "Time to run one analysis in a worker.", Buckets: prometheus.ExponentialBuckets(0.05, 2, 12)})
	m.verdicts = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bonafide_verdicts_total",
		Help: "Finished analyses by resolution (SUCCESS, DECLINED, FAILED)."}, []string{"resolution"})
	m.retentionDeleted = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bonafide_retention_deleted_total",
		Help: "What the retention run deleted: kind media (files and best shots; the rows stay) or folder (whole)."}, []string{"kind"})
	m.retentionDeleted.WithLabelValues("media")
	m.retentionDeleted.WithLabelValues("folder")
	m.bodiesCut = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bonafide_http_bodies_cut_total",
		Help: "Request bodies cut, their connection closed, by reason: slow (under the minimum rate after the grace period) or idle (stalled)."}, []string{"reason"})
	m.reg.MustRegister(m.requests, m.latency, m.analysesStarted, m.AnalysisDuration, m.verdicts, m.retentionDeleted, m.bodiesCut,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Register adds a collector (the job queue's depth, for example).
func (m *Metrics) Register(c prometheus.Collector) { m.reg.MustRegister(c) }

// Verdict counts one finished analysis.
func (m *Metrics) Verdict(resolution string) { m.verdicts.WithLabelValues(resolution).Inc() }

// RetentionDeleted counts n media or folders ("media", "folder") the retention run deleted.
func (m *Metrics) RetentionDeleted(kind string, n int) {
	m.retentionDeleted.WithLabelValues(kind).Add(float64(n))
}

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// TokenHandler serves /metrics to requests with "Authorization: Bearer <token>" and answers 401
// to others; an empty token serves everyone. The comparison takes the same time whatever the
// token sent (both sides hashed first, so not even the length leaks).
func (m *Metrics) TokenHandler(token string) http.Handler {
	h := m.Handler()
	if token == "" {
		return h
	}
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(got))
		if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			http.Error(w, "401 unauthorized: /metrics needs Authorization: Bearer <token>", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

// Unwrap lets http.ResponseController reach the connection (read deadlines, flushing).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// Instrument counts and times every request by its route pattern (ids left out).
func (m *Metrics) Instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		route := r.Pattern
		if _, p, ok := strings.Cut(route, " "); ok {
			route = p
		}
		if route == "" || route == "/" {
			route = "other"
		}
		route = strings.TrimSuffix(strings.TrimSuffix(route, "{$}"), "/")
		method := metricMethod(r.Method)
		m.requests.WithLabelValues(route, method, strconv.Itoa(sw.code)).Inc()
		m.latency.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
	})
}

// metricMethod is the method label: the standard methods by name, anything a client invents as
// "other", so that no request can create a new time series.
func metricMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}

// queueDepth exports the job queue's size by state at each scrape.
type queueDepth struct {
	desc *prometheus.Desc
	fn   func(ctx context.Context) (map[string]int, error)
}

func (q *queueDepth) Describe(ch chan<- *prometheus.Desc) { ch <- q.desc }

func (q *queueDepth) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts, err := q.fn(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(q.desc, err)
		return
	}
	for state, n := range counts {
		ch <- prometheus.MustNewConstMetric(q.desc, prometheus.GaugeValue, float64(n), state)
	}
}

// RegisterQueueDepth exports bonafide_queue_jobs{state=...} from fn.
func (m *Metrics) RegisterQueueDepth(fn func(ctx context.Context) (map[string]int, error)) {
	m.reg.MustRegister(&queueDepth{desc: prometheus.NewDesc("bonafide_queue_jobs",
		"Jobs in the durable queue by state (available, running, retryable, completed, ...).", []string{"state"}, nil), fn: fn})
}
