package dbapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hush-secrets/hush/redact/redacttest"
)

const testToken = "dapi-test-token-0123456789"

func newTestClient(t *testing.T, h http.HandlerFunc, opts ...Option) (*Client, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	opts = append([]Option{WithRetries(3, time.Millisecond)}, opts...)
	return NewClient(Config{Host: srv.URL, Token: testToken}, opts...), srv
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func TestClientSendsAuthUserAgentAndBodies(t *testing.T) {
	var got struct {
		auth, ua, ctype, method, path, query string
		body                                 map[string]any
	}
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		got.auth, got.ua, got.ctype = r.Header.Get("Authorization"), r.Header.Get("User-Agent"), r.Header.Get("Content-Type")
		got.method, got.path, got.query = r.Method, r.URL.Path, r.URL.RawQuery
		got.body = nil
		if r.Body != nil {
			b, _ := io.ReadAll(r.Body)
			if len(b) > 0 {
				_ = json.Unmarshal(b, &got.body)
			}
		}
		switch r.URL.Path {
		case PathSecretsGet:
			writeJSON(w, 200, GetSecretResponse{Key: r.URL.Query().Get("key"), Value: base64.StdEncoding.EncodeToString([]byte("s3cr\x00t"))})
		case PathScopesList:
			writeJSON(w, 200, map[string]any{"scopes": []map[string]any{{"name": "a", "backend_type": "DATABRICKS"}}})
		case PathSecretsList:
			writeJSON(w, 200, map[string]any{"secrets": []map[string]any{{"key": "k", "last_updated_timestamp": 1700000000123}}})
		case PathACLsGet:
			writeJSON(w, 200, ACLItem{Principal: "users", Permission: "READ"})
		case PathACLsList:
			writeJSON(w, 200, map[string]any{"items": []ACLItem{{Principal: "u", Permission: "MANAGE"}}})
		default:
			writeJSON(w, 200, map[string]any{})
		}
	})
	ctx := context.Background()

	v, err := c.GetSecret(ctx, "sc ope", "k&ey")
	if err != nil || string(v) != "s3cr\x00t" {
		t.Fatalf("GetSecret = %q, %v", v, err)
	}
	if got.auth != "Bearer "+testToken || !strings.HasPrefix(got.ua, "hush/") || got.method != "GET" {
		t.Fatalf("headers: auth=%q ua=%q method=%s", got.auth, got.ua, got.method)
	}
	if got.query != "key=k%26ey&scope=sc+ope" {
		t.Fatalf("query = %q", got.query)
	}

	if err := c.PutSecret(ctx, "s", "k", "v1"); err != nil {
		t.Fatal(err)
	}
	if got.method != "POST" || got.path != PathSecretsPut || got.ctype != "application/json" ||
		got.body["string_value"] != "v1" || got.body["bytes_value"] != nil {
		t.Fatalf("put string: %+v", got)
	}
	if err := c.PutSecretBytes(ctx, "s", "k", []byte{0xff, 0}); err != nil {
		t.Fatal(err)
	}
	if got.body["bytes_value"] != "/wA=" || got.body["string_value"] != nil {
		t.Fatalf("put bytes body: %v", got.body)
	}
	// An empty string value is still sent (the pointer tells absent from empty).
	if err := c.PutSecret(ctx, "s", "k", ""); err != nil {
		t.Fatal(err)
	}
	if v, ok := got.body["string_value"]; !ok || v != "" {
		t.Fatalf("empty string value not sent: %v", got.body)
	}

	scopes, err := c.ListScopes(ctx)
	if err != nil || len(scopes) != 1 || scopes[0].Name != "a" || scopes[0].BackendType != "DATABRICKS" {
		t.Fatalf("ListScopes = %+v, %v", scopes, err)
	}
	secs, err := c.ListSecrets(ctx, "a")
	if err != nil || len(secs) != 1 || secs[0].Key != "k" || secs[0].LastUpdatedTimestamp != 1700000000123 {
		t.Fatalf("ListSecrets = %+v, %v", secs, err)
	}
	acl, err := c.GetACL(ctx, "a", "users")
	if err != nil || acl != (ACLItem{Principal: "users", Permission: "READ"}) || got.query != "principal=users&scope=a" {
		t.Fatalf("GetACL = %+v, %v (query %q)", acl, err, got.query)
	}
	acls, err := c.ListACLs(ctx, "a")
	if err != nil || len(acls) != 1 || acls[0].Permission != "MANAGE" {
		t.Fatalf("ListACLs = %+v, %v", acls, err)
	}

	for _, call := range []struct {
		name string
		do   func() error
		path string
		body map[string]any
	}{
		{"CreateScope", func() error {
			return c.CreateScope(ctx, CreateScopeRequest{Scope: "x", InitialManagePrincipal: "users"})
		}, PathScopesCreate, map[string]any{"scope": "x", "initial_manage_principal": "users"}},
		{"DeleteScope", func() error { return c.DeleteScope(ctx, "x") }, PathScopesDelete, map[string]any{"scope": "x"}},
		{"DeleteSecret", func() error { return c.DeleteSecret(ctx, "x", "k") }, PathSecretsDel, map[string]any{"scope": "x", "key": "k"}},
		{"PutACL", func() error { return c.PutACL(ctx, "x", "p", "READ") }, PathACLsPut, map[string]any{"scope": "x", "principal": "p", "permission": "READ"}},
		{"DeleteACL", func() error { return c.DeleteACL(ctx, "x", "p") }, PathACLsDelete, map[string]any{"scope": "x", "principal": "p"}},
	} {
		if err := call.do(); err != nil {
			t.Fatalf("%s: %v", call.name, err)
		}
		gb, _ := json.Marshal(got.body)
		wb, _ := json.Marshal(call.body)
		if got.method != "POST" || got.path != call.path || string(gb) != string(wb) {
			t.Fatalf("%s sent %s %s %s, want POST %s %s", call.name, got.method, got.path, gb, call.path, wb)
		}
	}
}

func TestClientDecodesAPIErrors(t *testing.T) {
	c, srv := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("scope") {
		case "missing":
			writeJSON(w, 404, ErrorResponse{ErrorCode: CodeResourceDoesNotExist, Message: "Scope missing does not exist!"})
		case "denied":
			writeJSON(w, 403, ErrorResponse{ErrorCode: CodePermissionDenied, Message: "User has no READ permission; token " + testToken})
		case "html":
			w.WriteHeader(502)
			_, _ = io.WriteString(w, "<html>bad gateway</html>")
		case "plain":
			w.WriteHeader(401)
			_, _ = io.WriteString(w, "invalid token "+testToken)
		}
	})
	ctx := context.Background()

	_, err := c.ListSecrets(ctx, "missing")
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != 404 || ae.Host != srv.URL || !errors.Is(err, ErrResourceDoesNotExist) {
		t.Fatalf("err = %#v", err)
	}
	if err.Error() != "Scope missing does not exist!" {
		t.Fatalf("message = %q", err.Error())
	}
	if IsUnavailable(err) {
		t.Fatal("404 must not count as unavailable")
	}

	_, err = c.ListSecrets(ctx, "denied")
	if !errors.Is(err, ErrPermissionDenied) || !redacttest.AssertNoSecret(t, []byte(err.Error()), []byte(testToken)) {
		t.Fatal("denied: not ErrPermissionDenied, or the error holds the token")
	}

	_, err = c.ListSecrets(ctx, "html")
	if !errors.As(err, &ae) || ae.StatusCode != 502 || ae.ErrorCode != CodeInternalError ||
		!strings.Contains(err.Error(), srv.URL) || strings.Contains(err.Error(), "<html>") || !IsUnavailable(err) {
		t.Fatalf("html: %#v %v", err, err)
	}

	_, err = c.ListSecrets(ctx, "plain")
	if !errors.Is(err, ErrUnauthenticated) || strings.Contains(err.Error(), testToken) || !strings.Contains(err.Error(), "invalid token ***") {
		t.Fatalf("plain: %v", err)
	}
}

func TestClientRetries429And503Only(t *testing.T) {
	var calls atomic.Int32
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		switch r.URL.Query().Get("scope") {
		case "busy":
			if n <= 2 {
				w.Header().Set("Retry-After", "0")
				writeJSON(w, 429, ErrorResponse{ErrorCode: "TOO_MANY_REQUESTS", Message: "slow down"})
				return
			}
			if n == 3 {
				writeJSON(w, 503, ErrorResponse{ErrorCode: "TEMPORARILY_UNAVAILABLE", Message: "later"})
				return
			}
			writeJSON(w, 200, map[string]any{})
		case "broken":
			writeJSON(w, 500, ErrorResponse{ErrorCode: CodeInternalError, Message: "boom"})
		case "always503":
			writeJSON(w, 503, ErrorResponse{ErrorCode: "TEMPORARILY_UNAVAILABLE", Message: "later"})
		}
	})
	ctx := context.Background()
	if _, err := c.ListSecrets(ctx, "busy"); err != nil || calls.Load() != 4 {
		t.Fatalf("busy: err=%v calls=%d, want success after 4 calls", err, calls.Load())
	}
	calls.Store(0)
	if _, err := c.ListSecrets(ctx, "broken"); err == nil || calls.Load() != 1 {
		t.Fatalf("500 retried: calls=%d err=%v", calls.Load(), err)
	}
	calls.Store(0)
	_, err := c.ListSecrets(ctx, "always503")
	if err == nil || calls.Load() != 4 || !IsUnavailable(err) {
		t.Fatalf("503 x4: calls=%d err=%v, want 1+3 retries then the error", calls.Load(), err)
	}
}

func TestClientRetryHonoursContext(t *testing.T) {
	var calls atomic.Int32
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Retry-After", "3600")
		writeJSON(w, 429, ErrorResponse{Message: "slow down"})
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := c.ListScopes(ctx); done <- err }()
	for calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) || calls.Load() != 1 {
		t.Fatalf("err=%v calls=%d", err, calls.Load())
	}
}

func TestClientTransportErrorNamesHost(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := "http://" + ln.Addr().String()
	_ = ln.Close() // nothing listens there now: connection refused
	c := NewClient(Config{Host: host, Token: testToken})
	_, err = c.GetSecret(context.Background(), "s", "k")
	var te *TransportError
	if !errors.As(err, &te) || te.Host != host || !strings.Contains(err.Error(), host) || !IsUnavailable(err) {
		t.Fatalf("err = %v", err)
	}
	if !redacttest.AssertNoSecret(t, []byte(err.Error()), []byte(testToken)) {
		t.Fatal("token in error")
	}
}

func TestClientRejectsBadBase64Quietly(t *testing.T) {
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, GetSecretResponse{Key: "k", Value: "not base64 !!! hunter2"})
	})
	_, err := c.GetSecret(context.Background(), "s", "k")
	if err == nil || !redacttest.AssertNoSecret(t, []byte(err.Error()), []byte("hunter2")) {
		t.Fatal("no error, or one that quotes the value")
	}
}

func TestClientEmptyListsAreNil(t *testing.T) {
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "{}")
	})
	ctx := context.Background()
	s, err := c.ListScopes(ctx)
	if err != nil || len(s) != 0 {
		t.Fatalf("%v %v", s, err)
	}
}
