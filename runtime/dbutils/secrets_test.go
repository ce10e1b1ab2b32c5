package dbutils

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hush-secrets/hush/redact"
	"github.com/hush-secrets/hush/redact/redacttest"
	"github.com/hush-secrets/hush/runtime/dbapi"
)

// fakeAPI is an in-memory Secrets API that counts GetSecret calls per key.
type fakeAPI struct {
	mu     sync.Mutex
	values map[string][]byte // "scope/key"; scope lower-cased
	calls  map[string]int
	err    error         // when set, every call fails with it
	gate   chan struct{} // when set, GetSecret waits for it to close
	// waiting counts the GetSecret calls that have reached the gate.
	waiting int
}

func newFakeAPI(kv ...string) *fakeAPI {
	f := &fakeAPI{values: map[string][]byte{}, calls: map[string]int{}}
	for i := 0; i+1 < len(kv); i += 2 {
		f.values[kv[i]] = []byte(kv[i+1])
	}
	return f
}

func (f *fakeAPI) set(k, v string) {
	f.mu.Lock()
	f.values[k] = []byte(v)
	f.mu.Unlock()
}

func (f *fakeAPI) setErr(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
}

// awaitWaiting returns once n GetSecret calls have reached the gate; it
// fails the test if they have not after a minute.
func (f *fakeAPI) awaitWaiting(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		f.mu.Lock()
		w := f.waiting
		f.mu.Unlock()
		if w >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d GetSecret calls reached the server, want %d", w, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func (f *fakeAPI) count(k string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[k]
}

func (f *fakeAPI) GetSecret(ctx context.Context, scope, key string) ([]byte, error) {
	f.mu.Lock()
	gate := f.gate
	f.waiting++
	f.mu.Unlock()
	if gate != nil {
		<-gate
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	k := strings.ToLower(scope) + "/" + key
	f.calls[k]++
	if f.err != nil {
		return nil, f.err
	}
	v, ok := f.values[k]
	if !ok {
		return nil, &dbapi.APIError{StatusCode: 404, ErrorCode: dbapi.CodeResourceDoesNotExist, Message: "Failed to get secret key for scope " + scope, Host: "http://fake"}
	}
	return append([]byte(nil), v...), nil
}

func (f *fakeAPI) ListSecrets(ctx context.Context, scope string) ([]dbapi.SecretMetadata, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	var out []dbapi.SecretMetadata
	for k := range f.values {
		if s, key, _ := strings.Cut(k, "/"); s == strings.ToLower(scope) {
			out = append(out, dbapi.SecretMetadata{Key: key, LastUpdatedTimestamp: 42})
		}
	}
	if out == nil {
		return nil, &dbapi.APIError{StatusCode: 404, ErrorCode: dbapi.CodeResourceDoesNotExist, Message: "Scope " + scope + " does not exist!"}
	}
	return out, nil
}

func (f *fakeAPI) ListScopes(ctx context.Context) ([]dbapi.SecretScope, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	seen := map[string]bool{}
	var out []dbapi.SecretScope
	for k := range f.values {
		s, _, _ := strings.Cut(k, "/")
		if !seen[s] {
			seen[s] = true
			out = append(out, dbapi.SecretScope{Name: s, BackendType: "DATABRICKS"})
		}
	}
	return out, nil
}

func (f *fakeAPI) Host() string { return "http://fake" }

// recorder is a Registrar that remembers every value added, and can be made
// to block in Add or to fail.
type recorder struct {
	mu      sync.Mutex
	added   map[string]bool
	entered chan struct{} // when set, Add signals here...
	release chan struct{} // ...and waits for this
	err     error
}

func newRecorder() *recorder { return &recorder{added: map[string]bool{}} }

func (r *recorder) Add(v []byte) error {
	if r.entered != nil {
		r.entered <- struct{}{}
		<-r.release
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.added[string(v)] = true
	return nil
}

func (r *recorder) has(v string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.added[v]
}

// clock is an injectable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func mustGet(t *testing.T, s *Secrets, scope, key, want string) {
	t.Helper()
	got, err := s.Get(context.Background(), scope, key)
	if err != nil || got != want {
		t.Fatalf("Get(%s, %s) = %q, %v; want %q", scope, key, got, err, want)
	}
}

func TestGetCachesForTTL(t *testing.T) {
	api := newFakeAPI("s/k", "value-1")
	clk := newClock()
	s := New(api, newRecorder(), Options{Now: clk.Now})

	mustGet(t, s, "s", "k", "value-1")
	mustGet(t, s, "S", "k", "value-1") // scope names are case-insensitive
	if n := api.count("s/k"); n != 1 {
		t.Fatalf("calls = %d, want 1 (second Get from cache)", n)
	}
	api.set("s/k", "value-2")
	clk.Advance(DefaultTTL - time.Second)
	mustGet(t, s, "s", "k", "value-1")
	clk.Advance(time.Second)
	mustGet(t, s, "s", "k", "value-2")
	if n := api.count("s/k"); n != 2 {
		t.Fatalf("calls = %d, want 2 after the TTL", n)
	}
	b, err := s.GetBytes(context.Background(), "s", "k")
	if err != nil || string(b) != "value-2" {
		t.Fatalf("GetBytes = %q, %v", b, err)
	}
	b[0] = 'X' // the caller owns its copy
	mustGet(t, s, "s", "k", "value-2")
	if n := api.count("s/k"); n != 2 {
		t.Fatalf("calls = %d, want 2 (GetBytes from cache)", n)
	}
}

func TestNegativeTTLDisablesCachingWhenNegative(t *testing.T) {
	api := newFakeAPI("s/k", "value-1")
	s := New(api, newRecorder(), Options{TTL: -1})
	mustGet(t, s, "s", "k", "value-1")
	mustGet(t, s, "s", "k", "value-1")
	if n := api.count("s/k"); n != 2 || s.Len() != 0 {
		t.Fatalf("calls = %d, len = %d; want 2 calls and nothing cached", n, s.Len())
	}
}

func TestCacheSizeBoundEvictsLeastRecentlyUsed(t *testing.T) {
	api := newFakeAPI("s/a", "value-a", "s/b", "value-b", "s/c", "value-c", "s/d", "value-d")
	s := New(api, newRecorder(), Options{MaxEntries: 3})
	mustGet(t, s, "s", "a", "value-a")
	mustGet(t, s, "s", "b", "value-b")
	mustGet(t, s, "s", "c", "value-c")
	mustGet(t, s, "s", "a", "value-a") // a is now the most recently used; b the least
	mustGet(t, s, "s", "d", "value-d") // evicts b
	if s.Len() != 3 {
		t.Fatalf("Len = %d, want 3", s.Len())
	}
	mustGet(t, s, "s", "a", "value-a")
	mustGet(t, s, "s", "c", "value-c")
	if api.count("s/a") != 1 || api.count("s/c") != 1 {
		t.Fatalf("a or c was evicted: calls a=%d c=%d", api.count("s/a"), api.count("s/c"))
	}
	mustGet(t, s, "s", "b", "value-b")
	if api.count("s/b") != 2 {
		t.Fatalf("b calls = %d, want 2 (evicted, fetched again)", api.count("s/b"))
	}
}

func TestNotFoundIsRecognisableAndCachedBriefly(t *testing.T) {
	api := newFakeAPI()
	clk := newClock()
	s := New(api, newRecorder(), Options{Now: clk.Now})
	_, err := s.Get(context.Background(), "s", "k")
	if err == nil || err.Error() != "Secret does not exist with scope: s and key: k" {
		t.Fatalf("err = %v", err)
	}
	var ae *dbapi.APIError
	var de *Error
	if !errors.Is(err, dbapi.ErrResourceDoesNotExist) || !errors.As(err, &ae) || ae.StatusCode != 404 || !errors.As(err, &de) || de.Op != "get" {
		t.Fatalf("err does not expose the API error: %#v", err)
	}
	_, err = s.GetBytes(context.Background(), "s", "k")
	if !errors.As(err, &de) || de.Op != "getBytes" || !errors.Is(err, dbapi.ErrResourceDoesNotExist) {
		t.Fatalf("GetBytes err = %#v", err)
	}
	if n := api.count("s/k"); n != 1 {
		t.Fatalf("calls = %d, want 1 (not-found answer cached)", n)
	}
	api.set("s/k", "now-it-exists")
	clk.Advance(DefaultNegativeTTL - time.Millisecond)
	if _, err := s.Get(context.Background(), "s", "k"); err == nil {
		t.Fatal("negative answer forgotten too early")
	}
	clk.Advance(time.Millisecond)
	mustGet(t, s, "s", "k", "now-it-exists")
}

func TestStaleIfError(t *testing.T) {
	down := &dbapi.TransportError{Method: "GET", Path: dbapi.PathSecretsGet, Host: "http://fake", Err: errors.New("connect: connection refused")}
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"unreachable", down},
		{"5xx", &dbapi.APIError{StatusCode: 503, ErrorCode: "TEMPORARILY_UNAVAILABLE", Message: "try later", Host: "http://fake"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeAPI("s/k", "value-1")
			clk := newClock()
			s := New(api, newRecorder(), Options{Now: clk.Now, MaxStale: time.Minute})
			mustGet(t, s, "s", "k", "value-1")
			api.setErr(tc.err)
			clk.Advance(DefaultTTL + 30*time.Second)
			mustGet(t, s, "s", "k", "value-1") // stale, server down
			calls := api.count("s/k")
			mustGet(t, s, "s", "k", "value-1") // stale again, without asking the server
			if n := api.count("s/k"); n != calls {
				t.Fatalf("calls = %d, want %d: the stale value is served from the cache for a while", n, calls)
			}
			clk.Advance(staleRetry)
			mustGet(t, s, "s", "k", "value-1") // the server is asked again, still down
			if n := api.count("s/k"); n != calls+1 {
				t.Fatalf("calls = %d, want %d after staleRetry", n, calls+1)
			}
			clk.Advance(30*time.Second - staleRetry) // TTL + MaxStale: too old now
			_, err := s.Get(context.Background(), "s", "k")
			if err == nil || !strings.Contains(err.Error(), "http://fake") || !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want one naming the host and wrapping the cause", err)
			}
			api.setErr(nil)
			mustGet(t, s, "s", "k", "value-1")
		})
	}
}

func TestStaleIsOffByDefault(t *testing.T) {
	api := newFakeAPI("s/k", "value-1")
	clk := newClock()
	s := New(api, newRecorder(), Options{Now: clk.Now})
	mustGet(t, s, "s", "k", "value-1")
	api.setErr(&dbapi.TransportError{Method: "GET", Path: dbapi.PathSecretsGet, Host: "http://fake", Err: errors.New("connection refused")})
	clk.Advance(DefaultTTL)
	if _, err := s.Get(context.Background(), "s", "k"); err == nil || !strings.Contains(err.Error(), "server http://fake unavailable") {
		t.Fatalf("err = %v", err)
	}
}

func TestDefinitiveErrorDropsTheCachedValue(t *testing.T) {
	api := newFakeAPI("s/k", "value-1")
	clk := newClock()
	s := New(api, newRecorder(), Options{Now: clk.Now, MaxStale: time.Hour})
	mustGet(t, s, "s", "k", "value-1")
	clk.Advance(DefaultTTL)
	api.setErr(&dbapi.APIError{StatusCode: 403, ErrorCode: dbapi.CodePermissionDenied, Message: "User does not have READ permission on scope s"})
	_, err := s.Get(context.Background(), "s", "k")
	if err == nil || err.Error() != "PERMISSION_DENIED: User does not have READ permission on scope s" || !errors.Is(err, dbapi.ErrPermissionDenied) {
		t.Fatalf("err = %v", err)
	}
	// The revoked value must not come back as "stale" when the server then goes down.
	api.setErr(&dbapi.TransportError{Method: "GET", Host: "http://fake", Err: errors.New("connection refused")})
	if v, err := s.Get(context.Background(), "s", "k"); err == nil {
		t.Fatalf("served %q after access was revoked", v)
	}
}

func TestRegisterBeforeReturn(t *testing.T) {
	api := newFakeAPI("s/k", "value-1")
	rec := newRecorder()
	rec.entered, rec.release = make(chan struct{}), make(chan struct{})
	s := New(api, rec, Options{})
	done := make(chan string, 1)
	go func() {
		v, _ := s.Get(context.Background(), "s", "k")
		done <- v
	}()
	<-rec.entered // Add has been called and is blocked
	select {
	case v := <-done:
		t.Fatalf("Get returned %q while the value was still being registered", v)
	default:
	}
	close(rec.release)
	if v := <-done; v != "value-1" || !rec.has("value-1") {
		t.Fatalf("Get = %q, registered = %v", v, rec.has("value-1"))
	}
}

func TestRotatedValuesStayRegistered(t *testing.T) {
	api := newFakeAPI("s/k", "old-value")
	rec := newRecorder()
	s := New(api, rec, Options{})
	mustGet(t, s, "s", "k", "old-value")
	api.set("s/k", "new-value")
	mustGet(t, s, "s", "k", "old-value") // still cached
	if err := s.Refresh(context.Background(), "s", "k"); err != nil {
		t.Fatal(err)
	}
	if !rec.has("new-value") {
		t.Fatal("Refresh returned before registering the new value")
	}
	mustGet(t, s, "s", "k", "new-value")
	api.set("s/k", "newest-value")
	s.Invalidate("S", "k")
	mustGet(t, s, "s", "k", "newest-value")
	for _, v := range []string{"old-value", "new-value", "newest-value"} {
		if !rec.has(v) {
			t.Fatalf("%s not registered", v)
		}
	}
	if n := api.count("s/k"); n != 3 {
		t.Fatalf("calls = %d, want 3", n)
	}
}

func TestRotationWithRealRedactor(t *testing.T) {
	api := newFakeAPI("s/k", "first-password")
	red := redact.New(redact.Options{})
	s := New(api, red, Options{})
	mustGet(t, s, "s", "k", "first-password")
	api.set("s/k", "second-password")
	if err := s.Refresh(context.Background(), "s", "k"); err != nil {
		t.Fatal(err)
	}
	v, err := s.Get(context.Background(), "s", "k")
	if err != nil || v != "second-password" {
		t.Fatalf("Get = %q, %v", v, err)
	}
	// "password": no part of either value may be left.
	out := red.Redact(nil, []byte("a first-password b second-password c"))
	redacttest.AssertNoSecret(t, out, []byte("password"))
}

func TestTooShortValueIsReturnedWithAWarning(t *testing.T) {
	api := newFakeAPI("s/pin", "42")
	rec := newRecorder()
	rec.err = fmt.Errorf("add: %w", redact.ErrTooShort)
	var warnings []string
	s := New(api, rec, Options{Warn: func(m string) { warnings = append(warnings, m) }})
	mustGet(t, s, "s", "pin", "42")
	if len(warnings) != 1 || !strings.Contains(warnings[0], "secret s/pin is 2 bytes, shorter than the redactor's minimum: it cannot be redacted") {
		t.Fatalf("warnings = %q", warnings)
	}
	redacttest.AssertNoSecret(t, []byte(warnings[0]), []byte("42"))
}

func TestRegistrationFailureWithholdsTheValue(t *testing.T) {
	api := newFakeAPI("s/k", "value-1")
	rec := newRecorder()
	rec.err = errors.New("automaton full")
	s := New(api, rec, Options{})
	v, err := s.Get(context.Background(), "s", "k")
	if err == nil || !redacttest.AssertNoSecret(t, []byte(err.Error()), []byte("value-1")) {
		t.Fatal("Get: no error, or one that quotes the value")
	}
	if v != "" || s.Len() != 0 {
		t.Fatalf("Get returned %d bytes (len %d); want the value withheld and not cached", len(v), s.Len())
	}
	s2 := New(api, nil, Options{})
	if v, err := s2.Get(context.Background(), "s", "k"); err == nil || v != "" {
		t.Fatalf("nil redactor: Get = %q, %v", v, err)
	}
}

func TestCancelledCallerDoesNotFailOthers(t *testing.T) {
	api := newFakeAPI("s/k", "value-1")
	api.gate = make(chan struct{})
	s := New(api, newRecorder(), Options{})
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() { _, err := s.Get(ctx, "s", "k"); first <- err }()
	second := make(chan string, 1)
	// The second caller joins only once the first one's fetch is in flight.
	for {
		s.mu.Lock()
		n := len(s.flights)
		s.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	go func() { v, _ := s.Get(context.Background(), "s", "k"); second <- v }()
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Fatalf("first err = %v", err)
	}
	close(api.gate)
	if v := <-second; v != "value-1" {
		t.Fatalf("second = %q", v)
	}
	if n := api.count("s/k"); n != 1 {
		t.Fatalf("calls = %d, want 1", n)
	}
}

// TestSingleflightOverHTTP: 10,000 concurrent Gets of one cold key make
// exactly one request to a real HTTP server through the real client.
func TestSingleflightOverHTTP(t *testing.T) {
	var requests atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		<-release
		_ = json.NewEncoder(w).Encode(dbapi.GetSecretResponse{Key: "k", Value: base64.StdEncoding.EncodeToString([]byte("cold-value"))})
	}))
	defer srv.Close()
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	s := New(dbapi.NewClient(dbapi.Config{Host: srv.URL, Token: "t"}), newRecorder(), Options{})

	const n = 10000
	var started, finished sync.WaitGroup
	var wrong atomic.Int32
	started.Add(n)
	finished.Add(n)
	for range n {
		go func() {
			defer finished.Done()
			started.Done()
			v, err := s.Get(context.Background(), "s", "k")
			if err != nil || v != "cold-value" {
				wrong.Add(1)
			}
		}()
	}
	started.Wait()
	close(release)
	finished.Wait()
	if got := requests.Load(); got != 1 {
		t.Fatalf("%d requests, want exactly 1", got)
	}
	if wrong.Load() != 0 {
		t.Fatalf("%d callers got a wrong answer", wrong.Load())
	}
}

func TestUnreachableHostIsNamed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := "http://" + ln.Addr().String()
	_ = ln.Close()
	s := New(dbapi.NewClient(dbapi.Config{Host: host, Token: "t"}), newRecorder(), Options{})
	_, err = s.Get(context.Background(), "s", "k")
	var te *dbapi.TransportError
	if err == nil || !strings.Contains(err.Error(), host) || !errors.As(err, &te) {
		t.Fatalf("err = %v", err)
	}
	_, err = s.ListScopes(context.Background())
	if err == nil || !strings.Contains(err.Error(), host) {
		t.Fatalf("ListScopes err = %v", err)
	}
}

func TestListAndListScopes(t *testing.T) {
	api := newFakeAPI("s/a", "value-a")
	s := New(api, newRecorder(), Options{})
	list, err := s.List(context.Background(), "s")
	if err != nil || len(list) != 1 || list[0].Key != "a" || list[0].LastUpdatedTimestamp != 42 {
		t.Fatalf("List = %+v, %v", list, err)
	}
	scopes, err := s.ListScopes(context.Background())
	if err != nil || len(scopes) != 1 || scopes[0].Name != "s" {
		t.Fatalf("ListScopes = %+v, %v", scopes, err)
	}
	_, err = s.List(context.Background(), "nope")
	if err == nil || err.Error() != "RESOURCE_DOES_NOT_EXIST: Scope nope does not exist!" || !errors.Is(err, dbapi.ErrResourceDoesNotExist) {
		t.Fatalf("List(nope) err = %v", err)
	}
	if api.count("s/a") != 0 {
		t.Fatal("List fetched a value")
	}
}

func TestHelp(t *testing.T) {
	h := New(newFakeAPI(), newRecorder(), Options{}).Help()
	for _, want := range []string{
		"get(scope: String, key: String): String -> Gets the string representation of a secret value with scope and key",
		"getBytes(scope: String, key: String): byte[] -> Gets the bytes representation of a secret value with scope and key",
		"list(scope: String): Seq -> Lists secret metadata for secrets within a scope",
		"listScopes: Seq -> Lists secret scopes",
	} {
		if !strings.Contains(h, want) {
			t.Errorf("Help lacks %q", want)
		}
	}
}

// BenchmarkGetCached measures a Get answered from the cache; the target is
// under 200 ns and 0 allocations.
func BenchmarkGetCached(b *testing.B) {
	s := New(newFakeAPI("scope/key", "cached-value-0123456789"), newRecorder(), Options{})
	ctx := context.Background()
	if _, err := s.Get(ctx, "scope", "key"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Get(ctx, "scope", "key"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetCachedParallel is BenchmarkGetCached from every P at once.
func BenchmarkGetCachedParallel(b *testing.B) {
	s := New(newFakeAPI("scope/key", "cached-value-0123456789"), newRecorder(), Options{})
	ctx := context.Background()
	if _, err := s.Get(ctx, "scope", "key"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Get(ctx, "scope", "key"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// TestInvalidateDuringFetch: a fetch in flight when Invalidate is called
// answers its caller but is not cached, and the next Get asks again.
func TestInvalidateDuringFetch(t *testing.T) {
	api := newFakeAPI("s/k", "value-1")
	api.gate = make(chan struct{})
	s := New(api, newRecorder(), Options{})
	got := make(chan string, 1)
	go func() { v, _ := s.Get(context.Background(), "s", "k"); got <- v }()
	api.awaitWaiting(t, 1)
	s.Invalidate("s", "k")
	close(api.gate)
	if v := <-got; v != "value-1" {
		t.Fatalf("Get = %q", v)
	}
	if s.Len() != 0 {
		t.Fatal("a fetch superseded by Invalidate was cached")
	}
	mustGet(t, s, "s", "k", "value-1")
	if n := api.count("s/k"); n != 2 {
		t.Fatalf("calls = %d, want 2", n)
	}
}

// TestRefreshDoesNotJoinAnOlderFetch: Refresh while a Get is in flight
// makes a request of its own, and its answer is what is cached.
func TestRefreshDoesNotJoinAnOlderFetch(t *testing.T) {
	api := newFakeAPI("s/k", "value-1")
	api.gate = make(chan struct{})
	s := New(api, newRecorder(), Options{})
	go func() { _, _ = s.Get(context.Background(), "s", "k") }()
	api.awaitWaiting(t, 1)
	refreshed := make(chan error, 1)
	go func() { refreshed <- s.Refresh(context.Background(), "s", "k") }()
	api.awaitWaiting(t, 2) // not joined: a second request reached the server
	api.set("s/k", "value-2")
	close(api.gate)
	if err := <-refreshed; err != nil {
		t.Fatal(err)
	}
	mustGet(t, s, "s", "k", "value-2")
	if n := api.count("s/k"); n != 2 {
		t.Fatalf("calls = %d, want 2", n)
	}
}

// TestEmptyValueIsHandedOutWithTheShortWarning: an empty value cannot be
// redacted; it is returned, with the same warning as a too-short one.
func TestEmptyValueIsHandedOutWithTheShortWarning(t *testing.T) {
	api := newFakeAPI("s/empty", "")
	var warnings []string
	s := New(api, redact.New(redact.Options{}), Options{Warn: func(m string) { warnings = append(warnings, m) }})
	mustGet(t, s, "s", "empty", "")
	if want := "secret s/empty is 0 bytes, shorter than the minimum of 4 bytes: it cannot be redacted and will show in output"; len(warnings) != 1 || warnings[0] != want {
		t.Fatalf("warnings = %q, want [%q]", warnings, want)
	}
}

// TestNonUTF8ValueRegistersWhatPythonPrints: the forms a Python client
// prints of a value that is not valid UTF-8 are registered too.
func TestNonUTF8ValueRegistersWhatPythonPrints(t *testing.T) {
	const raw = "first-part-\xff-second-part"
	red := redact.New(redact.Options{})
	s := New(newFakeAPI("s/bin", raw), red, Options{})
	mustGet(t, s, "s", "bin", raw)
	for _, printed := range []string{raw, "first-part-\ufffd-second-part", `first-part-\xff-second-part`} {
		if got := string(red.Redact(nil, []byte(printed))); got != redact.Token {
			t.Errorf("a printed form of %d bytes is not redacted", len(printed))
		}
	}
}
