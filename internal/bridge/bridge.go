// Package bridge serves the read endpoints of the Databricks Secrets API 2.0
// (scopes/list, list, get) on a loopback listener for code that hush runs or
// proxies: a notebook kernel, or the command of "hush run". It forwards each
// request to the real server (hush serve or a Databricks workspace) with the
// configured token, so the caller's own permissions apply, and registers
// every value it returns with the redactor, in every form the Python shim
// hands it out in, before the first byte of the answer is written
// (invariant 1 of DESIGN.md; the rule itself is internal/handout).
//
// Local processes authenticate to the bridge with a random per-bridge bearer
// token, so another user's process on the same machine cannot borrow the
// configured credential through it. The bridge is read-only: every other
// Secrets API endpoint is refused with 403.
package bridge

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/hush-secrets/hush/internal/handout"
	"github.com/hush-secrets/hush/redact"
	"github.com/hush-secrets/hush/runtime/dbapi"
)

// maxUpstreamBody bounds what the bridge reads from the upstream server in
// one answer (a list of many secrets is the largest legitimate one).
const maxUpstreamBody = 32 << 20

// Options configures a Bridge.
type Options struct {
	// Upstream is the base URL of the Secrets API server the bridge forwards
	// to, e.g. "http://127.0.0.1:8443" or "https://adb-1.azuredatabricks.net".
	Upstream string
	// Token is the credential the bridge presents upstream: the caller's own
	// personal access token, so the caller's real permissions apply.
	Token string
	// Redactor receives every value the bridge hands out, before it is
	// handed out. Required.
	Redactor *redact.Redactor
	// Client sends the upstream requests; nil means a client with a
	// one-minute timeout.
	Client *http.Client
	// Warn receives human-readable warnings, one whole line each starting
	// with "hush: warning: ", that never contain a value or a token: a value
	// too short to be redacted (handout.TooShortWarning), a refresh that
	// failed. Nil discards them.
	Warn func(msg string)
}

// Bridge is an http.Handler serving the read endpoints of the Secrets API,
// forwarding them upstream and registering every returned value. It is safe
// for concurrent use.
type Bridge struct {
	upstream string
	token    string
	local    string // the bearer token local callers present
	red      *redact.Redactor
	client   *http.Client  // forwards callers' requests as they are
	api      *dbapi.Client // the bridge's own calls (LoadAll, Refresh)
	warn     func(string)

	mu    sync.Mutex
	known map[secretID]int64 // last_updated_timestamp of each registered secret
}

type secretID struct{ scope, key string }

// New returns a Bridge with a fresh random local token.
func New(opts Options) (*Bridge, error) {
	if opts.Redactor == nil {
		return nil, errors.New("bridge: a redactor is required")
	}
	u, err := url.Parse(opts.Upstream)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("bridge: upstream %q is not an http(s) URL", opts.Upstream)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, fmt.Errorf("bridge: generate local token: %w", err)
	}
	client := opts.Client
	if client == nil {
		client = &http.Client{Timeout: time.Minute}
	}
	warn := opts.Warn
	if warn == nil {
		warn = func(string) {}
	}
	upstream := strings.TrimRight(opts.Upstream, "/")
	return &Bridge{
		upstream: upstream,
		token:    opts.Token,
		local:    "hushb-" + hex.EncodeToString(raw[:]),
		red:      opts.Redactor,
		client:   client,
		api:      dbapi.NewClient(dbapi.Config{Host: upstream, Token: opts.Token}, dbapi.WithHTTPClient(client)),
		warn:     warn,
		known:    make(map[secretID]int64),
	}, nil
}

// Token returns the bearer token local callers must present
// (Authorization: Bearer <token>); give it to the child as DATABRICKS_TOKEN.
func (b *Bridge) Token() string { return b.local }

// Upstream returns the base URL the bridge forwards to.
func (b *Bridge) Upstream() string { return b.upstream }

// readPaths are the endpoints the bridge forwards.
var readPaths = map[string]bool{
	dbapi.PathScopesList:  true,
	dbapi.PathSecretsList: true,
	dbapi.PathSecretsGet:  true,
}

// ServeHTTP answers one request of a local caller.
func (b *Bridge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !b.authorized(r) {
		writeError(w, http.StatusUnauthorized, dbapi.CodeUnauthenticated,
			"hush bridge: missing or wrong bearer token (use the DATABRICKS_TOKEN this process was started with)")
		return
	}
	path := r.URL.Path
	if !readPaths[path] {
		if strings.HasPrefix(path, "/api/2.0/secrets/") {
			writeError(w, http.StatusForbidden, dbapi.CodePermissionDenied,
				"hush bridge is read-only: only secrets/scopes/list, secrets/list and secrets/get are served here; manage secrets with `hush secrets` against the server")
			return
		}
		writeError(w, http.StatusNotFound, dbapi.CodeEndpointNotFound,
			fmt.Sprintf("hush bridge: no API found for '%s %s'", r.Method, path))
		return
	}
	if r.Method != http.MethodGet {
		writeError(w, http.StatusForbidden, dbapi.CodePermissionDenied,
			fmt.Sprintf("hush bridge is read-only: %s %s is not served; use GET", r.Method, path))
		return
	}
	status, header, body, err := b.forward(r.Context(), path, r.URL.RawQuery)
	if err != nil {
		writeError(w, http.StatusBadGateway, dbapi.CodeInternalError, err.Error())
		return
	}
	if path == dbapi.PathSecretsGet && status == http.StatusOK {
		q := r.URL.Query()
		if err := b.register(q.Get("scope"), q.Get("key"), body, -1); err != nil {
			// Fail closed: a value that is not in the redaction set is never handed out.
			writeError(w, http.StatusBadGateway, dbapi.CodeInternalError, err.Error())
			return
		}
	}
	if ct := header.Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (b *Bridge) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(b.local)) == 1
}

// forward sends GET path?query upstream with the configured token and
// returns the answer as read.
func (b *Bridge) forward(ctx context.Context, path, rawQuery string) (int, http.Header, []byte, error) {
	u := b.upstream + path
	if rawQuery != "" {
		u += "?" + rawQuery
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("hush bridge: build upstream request: %w", err)
	}
	if b.token != "" {
		req.Header.Set("Authorization", "Bearer "+b.token)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "hush-bridge/1")
	resp, err := b.client.Do(req)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("hush bridge: upstream %s unreachable: %w", b.upstream, redactURLError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxUpstreamBody+1))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("hush bridge: read answer of %s: %w", b.upstream, err)
	}
	if len(body) > maxUpstreamBody {
		return 0, nil, nil, fmt.Errorf("hush bridge: answer of %s is larger than %d bytes", b.upstream, maxUpstreamBody)
	}
	return resp.StatusCode, resp.Header, body, nil
}

// redactURLError keeps only the cause of a *url.Error: its URL could carry a
// query string, and callers' messages already name the host.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// register decodes a secrets/get answer and adds its value to the
// redactor (registerValue). updated is the secret's last_updated_timestamp
// when known, -1 otherwise.
func (b *Bridge) register(scope, key string, body []byte, updated int64) error {
	var got dbapi.GetSecretResponse
	if err := json.Unmarshal(body, &got); err != nil {
		return fmt.Errorf("hush bridge: upstream answer to secrets/get for %s/%s is not valid JSON; value withheld", scope, key)
	}
	value, err := base64.StdEncoding.DecodeString(got.Value)
	if err != nil {
		return fmt.Errorf("hush bridge: upstream value of %s/%s is not valid base64; value withheld", scope, key)
	}
	return b.registerValue(scope, key, value, updated)
}

// registerValue registers value by hush's one rule (handout.Register: every
// form the shim hands out; a value too short to redact, empty included, is
// handed out with a warning) and remembers when the secret was last
// updated, for Refresh.
func (b *Bridge) registerValue(scope, key string, value []byte, updated int64) error {
	warn := func(msg string) { b.warn("hush: warning: " + msg) }
	if err := handout.Register(b.red, scope, key, value, warn); err != nil {
		return fmt.Errorf("hush bridge: %w; value withheld", err)
	}
	b.mu.Lock()
	if prev, ok := b.known[secretID{scope, key}]; !ok || updated >= 0 || prev < 0 {
		b.known[secretID{scope, key}] = updated
	}
	b.mu.Unlock()
	return nil
}

// LoadStats counts what LoadAll or Refresh did.
type LoadStats struct {
	Scopes  int // scopes listed
	Secrets int // values fetched and registered
	Denied  int // scopes or secrets the token may not read (skipped)
}

// LoadAll fetches and registers every secret readable with the configured
// token, so values that reach a process by another path (a file, an
// environment variable) are redacted too. Scopes and secrets the token may
// not read are skipped and counted; any other failure stops the load.
func (b *Bridge) LoadAll(ctx context.Context) (LoadStats, error) {
	return b.load(ctx, true)
}

// Refresh lists scopes and secrets again and fetches only the secrets that
// are new or changed since they were last registered. Old values stay
// registered (a rotated value may still be printed by old code).
func (b *Bridge) Refresh(ctx context.Context) (LoadStats, error) {
	return b.load(ctx, false)
}

// loadConcurrency bounds the values fetched at once by LoadAll and
// Refresh: one at a time, a kernel with 1,000 readable secrets waited
// seconds for its preload (each read is audited on the server before it
// answers); a few in flight hide that latency without flooding the server.
const loadConcurrency = 8

func (b *Bridge) load(ctx context.Context, all bool) (LoadStats, error) {
	var st LoadStats
	scopes, err := b.api.ListScopes(ctx)
	if err != nil {
		return st, fmt.Errorf("load secrets: list scopes: %w", err)
	}
	var (
		mu sync.Mutex // guards st from the fetches
		g  errgroup.Group
	)
	g.SetLimit(loadConcurrency)
	gctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fetch := func(scope, key string, updated int64) error {
		value, err := b.api.GetSecret(gctx, scope, key)
		if denied(err) {
			// No READ on this secret, or it was deleted between list and get.
			mu.Lock()
			st.Denied++
			mu.Unlock()
			return nil
		}
		if err != nil {
			cancel()
			return fmt.Errorf("load secrets: get %s/%s: %w", scope, key, err)
		}
		if err := b.registerValue(scope, key, value, updated); err != nil {
			cancel()
			return fmt.Errorf("load secrets: %w", err)
		}
		mu.Lock()
		st.Secrets++
		mu.Unlock()
		return nil
	}
	listErr := b.listAndFetch(gctx, scopes, all, &st, &mu, &g, fetch)
	err = g.Wait()
	if listErr != nil {
		return st, listErr
	}
	return st, err
}

// listAndFetch lists the secrets of each scope and starts a fetch (on g)
// of each one that is new or, with all, of every one.
func (b *Bridge) listAndFetch(ctx context.Context, scopes []dbapi.SecretScope, all bool, st *LoadStats, mu *sync.Mutex, g *errgroup.Group, fetch func(scope, key string, updated int64) error) error {
	for _, sc := range scopes {
		mu.Lock()
		st.Scopes++
		mu.Unlock()
		list, err := b.api.ListSecrets(ctx, sc.Name)
		if denied(err) {
			mu.Lock()
			st.Denied++
			mu.Unlock()
			continue
		}
		if err != nil {
			return fmt.Errorf("load secrets: list scope %s: %w", sc.Name, err)
		}
		for _, m := range list {
			b.mu.Lock()
			prev, seen := b.known[secretID{sc.Name, m.Key}]
			b.mu.Unlock()
			if !all && seen && prev == m.LastUpdatedTimestamp {
				continue
			}
			scope, key, updated := sc.Name, m.Key, m.LastUpdatedTimestamp
			g.Go(func() error { return fetch(scope, key, updated) })
		}
	}
	return nil
}

// denied reports whether err is an upstream answer that the token may not
// read the thing (403), or that it vanished meanwhile (404): skipped, not fatal.
func denied(err error) bool {
	var ae *dbapi.APIError
	return errors.As(err, &ae) && (ae.StatusCode == http.StatusForbidden || ae.StatusCode == http.StatusNotFound)
}

// RunRefresh calls Refresh every interval until ctx is done. Failures are
// reported through Options.Warn and retried at the next tick.
func (b *Bridge) RunRefresh(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := b.Refresh(ctx); err != nil && ctx.Err() == nil {
				b.warn(fmt.Sprintf("hush: warning: refreshing secrets from %s failed: %v", b.upstream, err))
			}
		}
	}
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(dbapi.ErrorResponse{ErrorCode: code, Message: msg})
}

// Server is a Bridge listening on a loopback address.
type Server struct {
	// URL is the base URL local callers use, e.g. "http://127.0.0.1:40123";
	// give it to the child as DATABRICKS_HOST.
	URL string

	srv  *http.Server
	done chan struct{}
}

// Listen serves b on addr (use "127.0.0.1:0" for a free loopback port)
// until Close. Only loopback addresses are accepted: the bridge hands out
// secret values.
func (b *Bridge) Listen(addr string) (*Server, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("bridge: listen address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("bridge: listen address %q is not a loopback address", addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("bridge: listen on %s: %w", addr, err)
	}
	s := &Server{
		URL:  "http://" + l.Addr().String(),
		srv:  &http.Server{Handler: b, ReadHeaderTimeout: 10 * time.Second},
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(l)
	}()
	return s, nil
}

// Close stops the listener and waits for in-flight requests up to ctx's
// deadline.
func (s *Server) Close(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil {
		_ = s.srv.Close()
	}
	<-s.done
	if err != nil {
		return fmt.Errorf("bridge: shut down: %w", err)
	}
	return nil
}
