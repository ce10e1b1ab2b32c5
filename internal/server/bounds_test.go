package server_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/hush-secrets/hush/internal/server/servertest"
)

// lockedBuffer is a bytes.Buffer safe for the server's concurrent log writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// rawMethod sends method to path with no body and returns the status.
func rawMethod(t *testing.T, base, method, path, token string) int {
	t.Helper()
	req, err := http.NewRequest(method, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("request with a %d-byte method: %v", len(method), err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

// metricsSeries returns the number of hush_http_requests_total series and
// the size of /metrics.
func metricsSeries(t *testing.T, base string) (series, size int) {
	t.Helper()
	r := call(t, base, "GET", "/metrics", "", nil)
	for _, line := range strings.Split(r.raw, "\n") {
		if strings.HasPrefix(line, "hush_http_requests_total{") {
			series++
		}
	}
	return series, len(r.raw)
}

// Issue 13, item 1: nothing a caller sends may grow the metrics or the
// logged fields without bound. Many distinct, long HTTP methods, on known
// routes and unknown paths, with and without a token, add at most one
// series per route and status, and every logged field stays short.
func TestCallerCannotGrowMetricsOrLogFields(t *testing.T) {
	logs := &lockedBuffer{}
	s := servertest.StartWith(t, servertest.Options{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	paths := []string{pGet, pPut, "/no/such/" + strings.Repeat("p", 4096), "/metrics", "/healthz"}
	send := func(round int) {
		for i := range 20 {
			method := fmt.Sprintf("M%d%d%s", round, i, strings.Repeat("X", 2<<10))
			for _, p := range paths {
				rawMethod(t, s.URL, method, p, s.AdminToken)
				rawMethod(t, s.URL, method, p, "")
			}
		}
	}
	metricsSeries(t, s.URL) // its own series exists from now on
	send(0)
	series1, size1 := metricsSeries(t, s.URL)
	send(1)
	send(2)
	series2, size2 := metricsSeries(t, s.URL)
	if series2 != series1 {
		t.Errorf("distinct methods added metrics series: %d after one round, %d after three", series1, series2)
	}
	if size2 > 64<<10 || size2 > size1+1024 {
		t.Errorf("/metrics grew from %d to %d bytes with distinct methods", size1, size2)
	}
	if series1 > 4*len(paths) {
		t.Errorf("%d series for %d paths: methods are not a bounded label", series1, len(paths))
	}
	checkLogFieldsBounded(t, logs.String(), 1000)
}

// checkLogFieldsBounded fails when a string field of a JSON log line is
// longer than limit bytes.
func checkLogFieldsBounded(t *testing.T, logs string, limit int) {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	lines := 0
	for sc.Scan() {
		lines++
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("log line is not JSON: %v", err)
		}
		for k, v := range rec {
			if str, ok := v.(string); ok && len(str) > limit {
				t.Fatalf("logged field %q is %d bytes long (limit %d)", k, len(str), limit)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if lines == 0 {
		t.Fatal("no log lines")
	}
}

// Issue 13, item 11: a query string Go cannot parse completely (a ';', or
// more than 10,000 parameters) is a clear 400, not a misleading "Missing
// required field" after parameters were dropped silently.
func TestUnparsableQueryIsAClear400(t *testing.T) {
	s := servertest.Start(t)
	must(t, call(t, s.URL, "POST", pCreate, s.AdminToken, map[string]any{"scope": "q"}))
	must(t, call(t, s.URL, "POST", pPut, s.AdminToken, map[string]any{"scope": "q", "key": "k", "string_value": "v"}))
	r := call(t, s.URL, "GET", pGet+"?scope=q;key=k", s.AdminToken, nil)
	expect(t, r, 400, "INVALID_PARAMETER_VALUE", "")
	if msg, _ := r.body["message"].(string); !strings.Contains(msg, ";") || strings.Contains(msg, "Missing required field") {
		t.Errorf("';' message: %q", msg)
	}
	var q strings.Builder
	q.WriteString("scope=q&key=k")
	for i := range 10_001 {
		fmt.Fprintf(&q, "&p%d=1", i)
	}
	r = call(t, s.URL, "GET", pGet+"?"+q.String(), s.AdminToken, nil)
	expect(t, r, 400, "INVALID_PARAMETER_VALUE", "")
	if msg, _ := r.body["message"].(string); !strings.Contains(msg, "10000") {
		t.Errorf("too many parameters message: %q", msg)
	}
	// Ordinary queries still work.
	must(t, call(t, s.URL, "GET", pGet, s.AdminToken, nil, "scope", "q", "key", "k"))
}

// Issue 13, item 8: a string_value that is not valid Unicode text is
// refused with a pointer to bytes_value, and nothing is stored.
func TestInvalidTextIsRefused(t *testing.T) {
	s := servertest.Start(t)
	tok := s.AdminToken
	must(t, call(t, s.URL, "POST", pCreate, tok, map[string]any{"scope": "u"}))
	for name, body := range map[string]string{
		"invalid UTF-8":        "{\"scope\":\"u\",\"key\":\"k\",\"string_value\":\"a\xff\xfeb\"}",
		"lone high surrogate":  `{"scope":"u","key":"k","string_value":"a\ud800b"}`,
		"lone low surrogate":   `{"scope":"u","key":"k","string_value":"\udc00"}`,
		"reversed surrogates":  `{"scope":"u","key":"k","string_value":"\udc00\ud800"}`,
		"surrogate at the end": `{"scope":"u","key":"k","string_value":"x\ud83d"}`,
	} {
		r := call(t, s.URL, "POST", pPut, tok, body)
		expect(t, r, 400, "INVALID_PARAMETER_VALUE", "")
		if msg, _ := r.body["message"].(string); !strings.Contains(msg, "bytes_value") {
			t.Errorf("%s: message does not point to bytes_value: %q", name, msg)
		}
		if r := call(t, s.URL, "GET", pGet, tok, nil, "scope", "u", "key", "k"); r.status != 404 {
			t.Fatalf("%s: something was stored: %d", name, r.status)
		}
	}
	// Valid text, a pair of surrogates (an emoji) and an escaped backslash
	// followed by "ud800" are stored as sent.
	for _, c := range []struct{ body, want string }{
		{`{"scope":"u","key":"k","string_value":"\ud83d\ude00 ok"}`, "😀 ok"},
		{`{"scope":"u","key":"k","string_value":"\\ud800"}`, `\ud800`},
		{`{"scope":"u","key":"k","string_value":"\ufffd"}`, "\ufffd"},
	} {
		must(t, call(t, s.URL, "POST", pPut, tok, c.body))
		r := must(t, call(t, s.URL, "GET", pGet, tok, nil, "scope", "u", "key", "k"))
		if got := decodeValue(t, r); got != c.want {
			t.Errorf("stored %q, want %q", got, c.want)
		}
	}
}

// decodeValue returns the decoded value of a secrets/get answer.
func decodeValue(t *testing.T, r resp) string {
	t.Helper()
	v, _ := r.body["value"].(string)
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		t.Fatalf("value is not base64: %v", err)
	}
	return string(b)
}

// Issue 13, item 10: /.well-known/databricks-config never echoes the Host
// header, and advertises no OIDC endpoint, since hush has none.
func TestWellKnownIgnoresHostHeader(t *testing.T) {
	s := servertest.Start(t)
	req, err := http.NewRequest("GET", s.URL+"/.well-known/databricks-config", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "attacker.example"
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil || res.StatusCode != 200 {
		t.Fatalf("well-known: %d, %v", res.StatusCode, err)
	}
	for k, v := range body {
		if str, _ := v.(string); strings.Contains(str, "attacker.example") {
			t.Errorf("%s echoes the Host header: %q", k, str)
		}
	}
	if _, ok := body["oidc_endpoint"]; ok {
		t.Errorf("advertises an OIDC endpoint hush does not have: %v", body)
	}
	if body["workspace_id"] != "0" {
		t.Errorf("workspace_id: %v", body["workspace_id"])
	}
}
