package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// resp is a decoded answer.
type resp struct {
	status int
	raw    string
	body   map[string]any
}

func (r resp) code() string {
	c, _ := r.body["error_code"].(string)
	return c
}

// call sends method path with an optional JSON body (string or value) and
// bearer token; GET params go in query (key, value pairs).
func call(t testing.TB, base, method, path, token string, body any, query ...string) resp {
	t.Helper()
	u := base + path
	if len(query) > 0 {
		q := url.Values{}
		for i := 0; i+1 < len(query); i += 2 {
			q.Set(query[i], query[i+1])
		}
		u += "?" + q.Encode()
	}
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := resp{status: res.StatusCode, raw: string(raw)}
	if len(raw) > 0 && strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &out.body); err != nil {
			t.Fatalf("%s %s: answer is not a JSON object: %v: %q", method, path, err, raw)
		}
	}
	return out
}

// must asserts a 200 answer.
func must(t testing.TB, r resp) resp {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("want 200, got %d: %s", r.status, r.raw)
	}
	return r
}
