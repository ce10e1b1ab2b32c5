package server

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// latencyBuckets are the upper bounds (seconds) of the latency histogram.
var latencyBuckets = [...]float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

type metricKey struct {
	route, method string
	status        int
}

type histogram struct {
	count   uint64
	sum     float64
	buckets [len(latencyBuckets)]uint64
}

// metrics keeps request counts and latency histograms by route pattern,
// method and status, and writes them in the Prometheus text format. Labels
// are route patterns, never raw URLs, so their number is bounded.
type metrics struct {
	mu   sync.Mutex
	data map[metricKey]*histogram
}

func newMetrics() *metrics { return &metrics{data: make(map[metricKey]*histogram)} }

func (m *metrics) observe(route, method string, status int, d time.Duration) {
	sec := d.Seconds()
	m.mu.Lock()
	defer m.mu.Unlock()
	k := metricKey{route, method, status}
	h := m.data[k]
	if h == nil {
		h = &histogram{}
		m.data[k] = h
	}
	h.count++
	h.sum += sec
	for i, b := range latencyBuckets {
		if sec <= b {
			h.buckets[i]++
		}
	}
}

func (m *metrics) serve(w http.ResponseWriter, _ *http.Request) {
	m.mu.Lock()
	keys := make([]metricKey, 0, len(m.data))
	snap := make(map[metricKey]histogram, len(m.data))
	for k, h := range m.data {
		keys = append(keys, k)
		snap[k] = *h
	}
	m.mu.Unlock()
	slices.SortFunc(keys, func(a, b metricKey) int {
		if c := strings.Compare(a.route, b.route); c != 0 {
			return c
		}
		if c := strings.Compare(a.method, b.method); c != 0 {
			return c
		}
		return a.status - b.status
	})
	var sb strings.Builder
	sb.WriteString("# HELP hush_http_requests_total HTTP requests served, by route pattern, method and status.\n")
	sb.WriteString("# TYPE hush_http_requests_total counter\n")
	for _, k := range keys {
		fmt.Fprintf(&sb, "hush_http_requests_total{%s} %d\n", labels(k), snap[k].count)
	}
	sb.WriteString("# HELP hush_http_request_duration_seconds Latency of HTTP requests, by route pattern, method and status.\n")
	sb.WriteString("# TYPE hush_http_request_duration_seconds histogram\n")
	for _, k := range keys {
		h := snap[k]
		l := labels(k)
		for i, b := range latencyBuckets {
			fmt.Fprintf(&sb, "hush_http_request_duration_seconds_bucket{%s,le=\"%s\"} %d\n", l, strconv.FormatFloat(b, 'g', -1, 64), h.buckets[i])
		}
		fmt.Fprintf(&sb, "hush_http_request_duration_seconds_bucket{%s,le=\"+Inf\"} %d\n", l, h.count)
		fmt.Fprintf(&sb, "hush_http_request_duration_seconds_sum{%s} %s\n", l, strconv.FormatFloat(h.sum, 'g', -1, 64))
		fmt.Fprintf(&sb, "hush_http_request_duration_seconds_count{%s} %d\n", l, h.count)
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = w.Write([]byte(sb.String()))
}

func labels(k metricKey) string {
	return fmt.Sprintf("route=%s,method=%s,status=\"%d\"", strconv.Quote(k.route), strconv.Quote(k.method), k.status)
}
