package bridge

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/hush-secrets/hush/internal/handout"
	"github.com/hush-secrets/hush/redact"
	"github.com/hush-secrets/hush/redact/redacttest"
	"github.com/hush-secrets/hush/runtime/dbapi"
)

const upstreamToken = "dapi-upstream-token-0123456789"

// fakeAPI is a small in-memory Secrets API with per-scope read denial, for
// the bridge's unit tests (the real server is exercised in server_test.go).
type fakeAPI struct {
	mu      sync.Mutex
	secrets map[string]map[string]string // scope -> key -> value
	updated map[string]int64             // scope/key -> timestamp
	denied  map[string]bool              // scopes the token may not read
	gets    int
	auths   []string
	badGet  bool // answer secrets/get with a body that is not base64
}

func newFakeAPI() *fakeAPI {
	return &fakeAPI{
		secrets: map[string]map[string]string{
			"prod":   {"db": "hello-secret-db-pass", "api": "api-key-0123456789", "pin": "42"},
			"locked": {"root": "root-password-zzz-9"},
		},
		updated: map[string]int64{},
		denied:  map[string]bool{"locked": true},
	}
}

func (f *fakeAPI) put(scope, key, value string, ts int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.secrets[scope] == nil {
		f.secrets[scope] = map[string]string{}
	}
	f.secrets[scope][key] = value
	f.updated[scope+"/"+key] = ts
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.auths = append(f.auths, r.Header.Get("Authorization"))
	w.Header().Set("Content-Type", "application/json")
	fail := func(status int, code, msg string) {
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(dbapi.ErrorResponse{ErrorCode: code, Message: msg})
	}
	if r.Header.Get("Authorization") != "Bearer "+upstreamToken {
		fail(401, dbapi.CodeUnauthenticated, "Invalid access token.")
		return
	}
	q := r.URL.Query()
	scope, key := q.Get("scope"), q.Get("key")
	switch r.URL.Path {
	case dbapi.PathScopesList:
		var out dbapi.ListScopesResponse
		for _, s := range []string{"prod", "locked", "new"} {
			if f.secrets[s] != nil {
				out.Scopes = append(out.Scopes, dbapi.SecretScope{Name: s, BackendType: "DATABRICKS"})
			}
		}
		json.NewEncoder(w).Encode(out)
	case dbapi.PathSecretsList, dbapi.PathSecretsGet:
		if f.secrets[scope] == nil {
			fail(404, dbapi.CodeResourceDoesNotExist, "Scope "+scope+" does not exist!")
			return
		}
		if f.denied[scope] {
			fail(403, dbapi.CodePermissionDenied, "User does not have READ permission on scope "+scope)
			return
		}
		if r.URL.Path == dbapi.PathSecretsList {
			var out dbapi.ListSecretsResponse
			for k := range f.secrets[scope] {
				out.Secrets = append(out.Secrets, dbapi.SecretMetadata{Key: k, LastUpdatedTimestamp: f.updated[scope+"/"+k]})
			}
			json.NewEncoder(w).Encode(out)
			return
		}
		f.gets++
		v, ok := f.secrets[scope][key]
		if !ok {
			fail(404, dbapi.CodeResourceDoesNotExist, "Secret does not exist with scope: "+scope+" and key: "+key)
			return
		}
		enc := base64.StdEncoding.EncodeToString([]byte(v))
		if f.badGet {
			enc = "!!" + v
		}
		json.NewEncoder(w).Encode(dbapi.GetSecretResponse{Key: key, Value: enc})
	default:
		fail(404, dbapi.CodeEndpointNotFound, "no such endpoint")
	}
}

type fixture struct {
	api    *fakeAPI
	up     *httptest.Server
	red    *redact.Redactor
	b      *Bridge
	warnMu sync.Mutex
	warns  []string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	fx := &fixture{api: newFakeAPI()}
	fx.up = httptest.NewServer(fx.api)
	t.Cleanup(fx.up.Close)
	fx.red = redact.New(redact.Options{MinLength: 4})
	b, err := New(Options{Upstream: fx.up.URL, Token: upstreamToken, Redactor: fx.red, Warn: func(m string) {
		fx.warnMu.Lock()
		fx.warns = append(fx.warns, m)
		fx.warnMu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	fx.b = b
	return fx
}

// redacts reports whether the fixture's redactor hides s (raw: the
// fixture's redactor redacts no derived form).
func (fx *fixture) redacts(s string) bool {
	return redacttest.FindLeak(fx.red.Redact(nil, []byte("x "+s+" y")), [][]byte{[]byte(s)}, nil) == nil
}

// hookRecorder runs check before the first byte of the answer is written.
type hookRecorder struct {
	*httptest.ResponseRecorder
	check func()
	done  bool
}

func (h *hookRecorder) WriteHeader(code int) {
	if !h.done {
		h.done = true
		h.check()
	}
	h.ResponseRecorder.WriteHeader(code)
}

func (h *hookRecorder) Write(p []byte) (int, error) {
	if !h.done {
		h.done = true
		h.check()
	}
	return h.ResponseRecorder.Write(p)
}

func (fx *fixture) do(method, target, token string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	fx.b.ServeHTTP(rec, req)
	return rec
}

func TestGetRegistersBeforeAnswering(t *testing.T) {
	fx := newFixture(t)
	const secret = "hello-secret-db-pass"
	if fx.redacts(secret) {
		t.Fatal("secret registered before any fetch")
	}
	registeredAtFirstByte := false
	rec := &hookRecorder{ResponseRecorder: httptest.NewRecorder(), check: func() { registeredAtFirstByte = fx.redacts(secret) }}
	req := httptest.NewRequest("GET", "/api/2.0/secrets/get?scope=prod&key=db", nil)
	req.Header.Set("Authorization", "Bearer "+fx.b.Token())
	fx.b.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if !registeredAtFirstByte {
		t.Fatal("the value was not in the redaction set when the answer started")
	}
	var got dbapi.GetSecretResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	v, _ := base64.StdEncoding.DecodeString(got.Value)
	if string(v) != secret || got.Key != "db" {
		t.Fatalf("answer %+v", got)
	}
	if rec.Header().Get("Cache-Control") != "no-store" {
		t.Error("secret answers must not be cacheable")
	}
	// The upstream saw the configured token, never the local one.
	for _, a := range fx.api.auths {
		if a != "Bearer "+upstreamToken {
			t.Fatalf("upstream saw Authorization %q", a)
		}
	}
}

func TestLocalAuthentication(t *testing.T) {
	fx := newFixture(t)
	for _, tok := range []string{"", "wrong", upstreamToken, fx.b.Token() + "x"} {
		rec := fx.do("GET", "/api/2.0/secrets/scopes/list", tok)
		if rec.Code != 401 || !strings.Contains(rec.Body.String(), dbapi.CodeUnauthenticated) {
			t.Errorf("token %q: status %d %s", tok, rec.Code, rec.Body)
		}
	}
	if len(fx.api.auths) != 0 {
		t.Fatal("unauthenticated requests reached upstream")
	}
	if !strings.HasPrefix(fx.b.Token(), "hushb-") || len(fx.b.Token()) < 40 {
		t.Fatalf("weak local token %q", fx.b.Token())
	}
	other, _ := New(Options{Upstream: fx.up.URL, Redactor: fx.red})
	if other.Token() == fx.b.Token() {
		t.Fatal("two bridges share a token")
	}
}

func TestReadOnly(t *testing.T) {
	fx := newFixture(t)
	tok := fx.b.Token()
	cases := []struct {
		method, path string
		status       int
		code         string
	}{
		{"POST", "/api/2.0/secrets/put", 403, dbapi.CodePermissionDenied},
		{"GET", "/api/2.0/secrets/put", 403, dbapi.CodePermissionDenied},
		{"POST", "/api/2.0/secrets/scopes/delete", 403, dbapi.CodePermissionDenied},
		{"POST", "/api/2.0/secrets/acls/put", 403, dbapi.CodePermissionDenied},
		{"POST", "/api/2.0/secrets/get", 403, dbapi.CodePermissionDenied},
		{"DELETE", "/api/2.0/secrets/list", 403, dbapi.CodePermissionDenied},
		{"GET", "/api/2.0/clusters/list", 404, dbapi.CodeEndpointNotFound},
		{"GET", "/", 404, dbapi.CodeEndpointNotFound},
	}
	for _, c := range cases {
		rec := fx.do(c.method, c.path, tok)
		var er dbapi.ErrorResponse
		_ = json.Unmarshal(rec.Body.Bytes(), &er)
		if rec.Code != c.status || er.ErrorCode != c.code || er.Message == "" {
			t.Errorf("%s %s: %d %s", c.method, c.path, rec.Code, rec.Body)
		}
		if c.status == 403 && !strings.Contains(er.Message, "read-only") {
			t.Errorf("%s %s: message %q does not say the bridge is read-only", c.method, c.path, er.Message)
		}
	}
	if len(fx.api.auths) != 0 {
		t.Fatal("refused requests reached upstream")
	}
}

func TestUpstreamErrorsPassThrough(t *testing.T) {
	fx := newFixture(t)
	rec := fx.do("GET", "/api/2.0/secrets/get?scope=prod&key=nope", fx.b.Token())
	var er dbapi.ErrorResponse
	_ = json.Unmarshal(rec.Body.Bytes(), &er)
	if rec.Code != 404 || er.ErrorCode != dbapi.CodeResourceDoesNotExist || er.Message != "Secret does not exist with scope: prod and key: nope" {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	rec = fx.do("GET", "/api/2.0/secrets/list?scope=locked", fx.b.Token())
	if rec.Code != 403 || !strings.Contains(rec.Body.String(), "READ permission") {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	rec = fx.do("GET", "/api/2.0/secrets/scopes/list", fx.b.Token())
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"prod"`) {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
}

func TestMalformedValueIsWithheld(t *testing.T) {
	fx := newFixture(t)
	fx.api.badGet = true
	rec := fx.do("GET", "/api/2.0/secrets/get?scope=prod&key=db", fx.b.Token())
	if rec.Code != http.StatusBadGateway {
		t.Fatalf("status %d", rec.Code)
	}
	if !redacttest.AssertNoSecret(t, rec.Body.Bytes(), []byte("hello-secret-db-pass")) {
		t.Fatal("an unregistrable value was forwarded")
	}
}

func TestUnreachableUpstream(t *testing.T) {
	red := redact.New(redact.Options{MinLength: 4})
	up := httptest.NewServer(http.NotFoundHandler())
	url := up.URL
	up.Close()
	b, err := New(Options{Upstream: url, Token: upstreamToken, Redactor: red})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/api/2.0/secrets/get?scope=s&key=k", nil)
	req.Header.Set("Authorization", "Bearer "+b.Token())
	rec := httptest.NewRecorder()
	b.ServeHTTP(rec, req)
	if !redacttest.AssertNoSecret(t, rec.Body.Bytes(), []byte(upstreamToken), []byte(b.Token())) {
		t.Fatal("a token leaked into an error") // before the body is printed below
	}
	if rec.Code != http.StatusBadGateway || !strings.Contains(rec.Body.String(), url) {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if _, err := b.LoadAll(context.Background()); err == nil || !strings.Contains(err.Error(), url) {
		t.Fatalf("LoadAll error %v does not name the host", err)
	}
}

func TestLoadAllAndRefresh(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	st, err := fx.b.LoadAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Scopes != 2 || st.Secrets != 3 || st.Denied != 1 {
		t.Fatalf("stats %+v", st)
	}
	for i, s := range []string{"hello-secret-db-pass", "api-key-0123456789"} {
		if !fx.redacts(s) {
			t.Errorf("value %d not registered by LoadAll", i)
		}
	}
	if fx.redacts("root-password-zzz-9") {
		t.Error("a secret the token cannot read was registered")
	}
	// "42" is below the minimum: warned about by name, never by value.
	if len(fx.warns) != 1 || !redacttest.AssertNoSecret(t, []byte(fx.warns[0]), []byte("42")) {
		t.Fatalf("%d warnings, want one that does not quote the value", len(fx.warns))
	}
	if !strings.Contains(fx.warns[0], "prod/pin") {
		t.Fatalf("warnings %q", fx.warns)
	}

	// Nothing changed: a refresh fetches nothing.
	fx.api.gets = 0
	if st, err = fx.b.Refresh(ctx); err != nil || st.Secrets != 0 || fx.api.gets != 0 {
		t.Fatalf("idle refresh: %+v %v, %d gets", st, err, fx.api.gets)
	}
	// Rotate one, add one in a new scope: exactly those two are fetched.
	fx.api.put("prod", "db", "rotated-db-pass-777", 99)
	fx.api.put("new", "tok", "brand-new-token-555", 5)
	if st, err = fx.b.Refresh(ctx); err != nil || st.Secrets != 2 || fx.api.gets != 2 {
		t.Fatalf("refresh: %+v %v, %d gets", st, err, fx.api.gets)
	}
	for i, s := range []string{"rotated-db-pass-777", "brand-new-token-555", "hello-secret-db-pass"} {
		if !fx.redacts(s) {
			t.Errorf("value %d not redacted after refresh (old values must stay)", i)
		}
	}
}

func TestRunRefreshStopsWithContext(t *testing.T) {
	fx := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { fx.b.RunRefresh(ctx, 1); close(done) }()
	cancel()
	<-done
}

func TestListenServesOverLoopbackOnly(t *testing.T) {
	fx := newFixture(t)
	if _, err := fx.b.Listen("0.0.0.0:0"); err == nil {
		t.Fatal("a non-loopback listen address was accepted")
	}
	srv, err := fx.b.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", srv.URL+"/api/2.0/secrets/get?scope=prod&key=api", nil)
	req.Header.Set("Authorization", "Bearer "+fx.b.Token())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !fx.redacts("api-key-0123456789") {
		t.Fatalf("status %d, and the value was not registered", resp.StatusCode) // the body holds it
	}
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if err := srv.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Fatal("bridge still answers after Close")
	}
}

func TestNewValidates(t *testing.T) {
	red := redact.New(redact.Options{})
	for _, o := range []Options{{Upstream: "http://x"}, {Upstream: "ftp://x", Redactor: red}, {Upstream: "", Redactor: red}} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
	for err, want := range map[error]bool{
		fmt.Errorf("wrapped: %w", &dbapi.APIError{StatusCode: 403}): true,
		&dbapi.APIError{StatusCode: 404}:                            true,
		&dbapi.APIError{StatusCode: 500}:                            false,
		errors.New("connection refused"):                            false,
	} {
		if denied(err) != want {
			t.Errorf("denied(%v) = %v, want %v", err, !want, want)
		}
	}
}

// TestShortAndEmptyValuesAreHandedOutWithOneWarning: a value too short to
// redact and an empty one are answered, each with the same one warning
// (handout.TooShortWarning) naming the secret, never the value.
func TestShortAndEmptyValuesAreHandedOutWithOneWarning(t *testing.T) {
	fx := newFixture(t)
	fx.api.put("prod", "empty", "", 1)
	for _, key := range []string{"pin", "empty"} {
		rec := fx.do("GET", "/api/2.0/secrets/get?scope=prod&key="+key, fx.b.Token())
		if rec.Code != 200 {
			t.Fatalf("%s: status %d %s", key, rec.Code, rec.Body)
		}
	}
	want := []string{
		"hush: warning: " + handout.TooShortWarning("secret prod/pin", 2, 4),
		"hush: warning: " + handout.TooShortWarning("secret prod/empty", 0, 4),
	}
	if !slices.Equal(fx.warns, want) {
		t.Fatalf("warnings %q, want %q", fx.warns, want)
	}
	if strings.Contains(fx.warns[0], "42") {
		t.Fatal("the warning shows the value")
	}
}

// TestNonUTF8ValueRegistersWhatPythonPrints: the str the Python shim
// decodes from a value that is not valid UTF-8, and the bytes repr it
// prints for getBytes, are registered before the answer.
func TestNonUTF8ValueRegistersWhatPythonPrints(t *testing.T) {
	fx := newFixture(t)
	const raw = "first-part-\xff-second-part\xe2\x82"
	fx.api.put("prod", "bin", raw, 1)
	rec := fx.do("GET", "/api/2.0/secrets/get?scope=prod&key=bin", fx.b.Token())
	if rec.Code != 200 {
		t.Fatalf("status %d %s", rec.Code, rec.Body)
	}
	for _, printed := range []string{raw, "first-part-\ufffd-second-part\ufffd", `first-part-\xff-second-part\xe2\x82`} {
		if !fx.redacts(printed) {
			t.Errorf("a printed form of %d bytes is not registered", len(printed))
		}
	}
}
