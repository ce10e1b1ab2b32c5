// Package server is the HTTP server of hush serve: the Databricks Secrets API
// 2.0 with the exact shapes, error codes and statuses of Databricks, the
// Token API and token management, the SCIM subset the Databricks SDK drives,
// hush's audit listing, /.well-known/databricks-config, /healthz and a
// Prometheus /metrics.
//
// Every API request is authenticated by a PAT (internal/server/auth: Bearer, or
// HTTP Basic with the user name "token", as on Databricks), checked
// against the scope's ACL, and served from a store.Store; values are sealed
// by internal/server/seal before they reach the store. Logs, metrics and audit
// records carry route patterns, user names, scope and key names, never a
// value or a token.
//
// Permissions, as on Databricks (admins hold MANAGE on every scope; a
// caller's permission is the highest granted to its user name, its groups or
// "users"):
//
//	scopes/list                          any authenticated user (scope names are not secret)
//	scopes/create                        any authenticated user; the creator gets MANAGE,
//	                                     or "users" does with initial_manage_principal=users;
//	                                     FILES scopes: admins only
//	scopes/delete                        MANAGE
//	put, delete                          WRITE (BAD_REQUEST on a read-only FILES scope)
//	list, get                            READ
//	acls/put, acls/delete, acls/get,
//	acls/list                            MANAGE (Databricks documents MANAGE for get and list too)
//	token/create|list|delete             any user, for their own tokens
//	token-management/..., SCIM writes,
//	hush/audit                           admins
//	SCIM reads (Me, Users, Groups,
//	ServicePrincipals), Groups API 2.0
//	reads (groups/list…)                 any user, as on Databricks
//	Groups API 2.0 writes                admins
//
// A missing scope is RESOURCE_DOES_NOT_EXIST for every caller, before the
// permission check, since scope names are readable by all.
//
// Every secret read, write and delete, every ACL change and every scope
// creation and deletion, allowed or denied, is stored in the audit log
// before the request is answered; a change's record is stored before the
// change is applied. Audit fails closed: when a record cannot be stored,
// the request is answered 503 TEMPORARILY_UNAVAILABLE, nothing is applied
// or returned, and /healthz reports the audit sink as failing.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/hush-secrets/hush/internal/secrets"
	"github.com/hush-secrets/hush/internal/server/auth"
	"github.com/hush-secrets/hush/internal/server/seal"
	"github.com/hush-secrets/hush/internal/server/store"
	"github.com/hush-secrets/hush/runtime/dbapi"
)

// DefaultMaxBodyBytes caps request bodies: a 128 KiB value in base64 with
// its JSON envelope fits many times over.
const DefaultMaxBodyBytes = 1 << 20

// FilesBackend reads the read-only FILES scopes: dir is the scope's
// directory relative to the server's files root, one file per key.
// Implementations must refuse paths that leave the root.
type FilesBackend interface {
	// List returns the keys of the directory (ErrNotFound-wrapping or any
	// error when it does not exist).
	List(ctx context.Context, dir string) ([]secrets.SecretMeta, error)
	// Read returns one file's bytes, or an error wrapping store.ErrNotFound.
	Read(ctx context.Context, dir, key string) ([]byte, error)
}

// Config configures a Server. Store and Sealer are required.
type Config struct {
	Store  store.Store
	Sealer *seal.Sealer
	// Files serves FILES scopes; nil disables them (creating one is then
	// INVALID_PARAMETER_VALUE).
	Files FilesBackend
	// MaxScopes and MaxSecretsPerScope are the workspace limits (0: the
	// Databricks defaults; negative: no limit).
	MaxScopes          int
	MaxSecretsPerScope int
	// MaxBodyBytes caps request bodies (0: DefaultMaxBodyBytes).
	MaxBodyBytes int64
	// WorkspaceID is answered by /.well-known/databricks-config (default "0").
	WorkspaceID string
	// Logger receives one line per request (nil: discard).
	Logger *slog.Logger
	// Now is the clock (nil: time.Now); tests move it to expire tokens.
	Now func() time.Time
	// AuditQueue is the number of audit events buffered before requests
	// wait for the audit writer (0: 4096).
	AuditQueue int
	// AuditRetention is how long audit records are kept before they are
	// pruned (0: DefaultAuditRetention; negative: forever).
	AuditRetention time.Duration
}

// Server serves the API. Create it with New, serve Handler, and Close it to
// flush the audit log.
type Server struct {
	cfg     Config
	st      store.Store
	seal    *seal.Sealer
	authn   *auth.Authenticator
	log     *slog.Logger
	now     func() time.Time
	metrics *metrics
	audit   *auditWriter
	handler http.Handler
	// stopPrune ends the audit retention loop; pruned is closed when it has.
	stopPrune context.CancelFunc
	pruned    chan struct{}
}

// New validates cfg and returns a Server. The caller must Close it.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("server: Config.Store is required")
	}
	if cfg.Sealer == nil {
		return nil, errors.New("server: Config.Sealer is required")
	}
	if cfg.MaxScopes == 0 {
		cfg.MaxScopes = secrets.DefaultMaxScopes
	}
	if cfg.MaxSecretsPerScope == 0 {
		cfg.MaxSecretsPerScope = secrets.DefaultMaxSecretsPerScope
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.WorkspaceID == "" {
		cfg.WorkspaceID = "0"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.AuditQueue <= 0 {
		cfg.AuditQueue = 4096
	}
	if cfg.AuditRetention == 0 {
		cfg.AuditRetention = DefaultAuditRetention
	}
	s := &Server{
		cfg:     cfg,
		st:      cfg.Store,
		seal:    cfg.Sealer,
		authn:   auth.NewAuthenticator(cfg.Store, cfg.Now),
		log:     cfg.Logger,
		now:     cfg.Now,
		metrics: newMetrics(),
	}
	s.audit = newAuditWriter(cfg.Store, cfg.Logger, cfg.AuditQueue)
	s.handler = s.routes()
	var pctx context.Context
	pctx, s.stopPrune = context.WithCancel(context.Background())
	s.pruned = make(chan struct{})
	go s.pruneLoop(pctx, s.pruned)
	return s, nil
}

// Handler returns the HTTP handler of every route.
func (s *Server) Handler() http.Handler { return s.handler }

// Close stops audit retention, flushes buffered audit events to the store
// and stops the audit writer. It does not close the store. Requests served
// after Close are refused (their audit records cannot be stored).
func (s *Server) Close(ctx context.Context) error {
	s.stopPrune()
	select {
	case <-s.pruned:
	case <-ctx.Done():
		return fmt.Errorf("stop audit retention: %w", ctx.Err())
	}
	return s.audit.close(ctx)
}

// FlushAudit waits until every audit event recorded so far is in the store.
func (s *Server) FlushAudit(ctx context.Context) error { return s.audit.flush(ctx) }

// apiError is an answer with an error code: the handlers return it and the
// router writes it as dbapi.ErrorResponse.
type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

func errf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, msg: fmt.Sprintf(format, args...)}
}

func invalidParam(format string, args ...any) *apiError {
	return errf(http.StatusBadRequest, dbapi.CodeInvalidParameterValue, format, args...)
}

func notFound(format string, args ...any) *apiError {
	return errf(http.StatusNotFound, dbapi.CodeResourceDoesNotExist, format, args...)
}

func denied(format string, args ...any) *apiError {
	return errf(http.StatusForbidden, dbapi.CodePermissionDenied, format, args...)
}

// handlerFunc is an API handler: it returns the value to encode as JSON
// with status 200, or an error (an *apiError, or anything else: 500).
type handlerFunc func(r *request) (any, error)

// request is what a handler sees: the HTTP request and the caller.
type request struct {
	*http.Request
	id     auth.Identity
	remote string
	// auditedAhead: the handler stored the audit record of the change it
	// is about to apply (auditAhead); auditErr: an audit record of this
	// request could not be stored, so its result must not be answered.
	auditedAhead bool
	auditErr     error
}

// route is one path with its handlers by method.
type route struct {
	pattern string
	public  bool // no authentication
	methods map[string]handlerFunc
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	add := func(rt route) {
		mux.Handle(rt.pattern, s.wrap(rt))
	}
	post := func(p string, h handlerFunc) {
		add(route{pattern: p, methods: map[string]handlerFunc{http.MethodPost: h}})
	}
	get := func(p string, h handlerFunc) {
		add(route{pattern: p, methods: map[string]handlerFunc{http.MethodGet: h}})
	}

	post(dbapi.PathScopesCreate, s.createScope)
	post(dbapi.PathScopesDelete, s.deleteScope)
	get(dbapi.PathScopesList, s.listScopes)
	post(dbapi.PathSecretsPut, s.putSecret)
	post(dbapi.PathSecretsDel, s.deleteSecret)
	get(dbapi.PathSecretsList, s.listSecrets)
	get(dbapi.PathSecretsGet, s.getSecret)
	post(dbapi.PathACLsPut, s.putACL)
	post(dbapi.PathACLsDelete, s.deleteACL)
	get(dbapi.PathACLsGet, s.getACL)
	get(dbapi.PathACLsList, s.listACLs)

	post(dbapi.PathTokenCreate, s.createToken)
	get(dbapi.PathTokenList, s.listTokens)
	post(dbapi.PathTokenDelete, s.deleteToken)
	post(dbapi.PathTokenOBO, s.createOBOToken)
	get(dbapi.PathTokenManagement, s.listAllTokens)
	add(route{pattern: dbapi.PathTokenManagement + "/{id}", methods: map[string]handlerFunc{
		http.MethodGet: s.getAnyToken, http.MethodDelete: s.deleteAnyToken}})

	add(route{pattern: dbapi.PathSCIMUsers, methods: map[string]handlerFunc{
		http.MethodGet: s.listUsers, http.MethodPost: s.createUser}})
	add(route{pattern: dbapi.PathSCIMUsers + "/{id}", methods: map[string]handlerFunc{
		http.MethodGet: s.getUser, http.MethodDelete: s.deleteUser, http.MethodPatch: s.patchUser, http.MethodPut: s.putUser}})
	add(route{pattern: dbapi.PathSCIMGroups, methods: map[string]handlerFunc{
		http.MethodGet: s.listGroups, http.MethodPost: s.createGroup}})
	add(route{pattern: dbapi.PathSCIMGroups + "/{id}", methods: map[string]handlerFunc{
		http.MethodGet: s.getGroup, http.MethodDelete: s.deleteGroup, http.MethodPatch: s.patchGroup, http.MethodPut: s.putGroup}})
	get(dbapi.PathSCIMMe, s.me)
	s.groups20Routes(post, get)
	s.spRoutes(add)

	get(dbapi.PathAudit, s.listAudit)

	add(route{pattern: dbapi.PathWellKnownConfig, public: true, methods: map[string]handlerFunc{http.MethodGet: s.wellKnown}})
	add(route{pattern: "/healthz", public: true, methods: map[string]handlerFunc{http.MethodGet: s.healthz}})
	mux.Handle("/metrics", s.instrument("/metrics", http.HandlerFunc(s.metrics.serve)))
	add(route{pattern: "/", public: true, methods: nil}) // everything else: ENDPOINT_NOT_FOUND
	return mux
}

// statusWriter remembers the status for logs and metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// instrument records metrics and the log line of a plain handler.
func (s *Server) instrument(pattern string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		s.finish(r, pattern, sw.status, "", start)
	})
}

func (s *Server) finish(r *http.Request, pattern string, status int, user string, start time.Time) {
	d := time.Since(start)
	if status == 0 {
		status = http.StatusOK
	}
	method := methodLabel(r.Method)
	s.metrics.observe(pattern, method, status, d)
	// The raw URL is never logged: query strings may carry names only, but
	// the route pattern is enough and keeps the log safe by construction.
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
		slog.String("method", method),
		slog.String("route", pattern),
		slog.Int("status", status),
		slog.Float64("duration_ms", float64(d.Microseconds())/1000),
		slog.String("user", clip(user)),
		slog.String("remote", remoteAddr(r)),
	)
}

func remoteAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// wrap turns a route into an http.Handler: method dispatch, body limit,
// authentication, JSON answers, metrics and the log line.
func (s *Server) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		req := &request{Request: r, remote: remoteAddr(r)}
		status := s.serve(w, req, rt)
		pattern := rt.pattern
		if rt.methods == nil {
			pattern = "unmatched" // never the raw URL: it is unbounded
		}
		s.finish(r, pattern, status, req.id.User.UserName, start)
	})
}

func (s *Server) serve(w http.ResponseWriter, req *request, rt route) int {
	if rt.methods == nil {
		return writeError(w, errf(http.StatusNotFound, dbapi.CodeEndpointNotFound, "No API found for '%s %s'", clip(req.Method), clip(req.URL.Path)))
	}
	h, ok := rt.methods[req.Method]
	if !ok {
		allowed := make([]string, 0, len(rt.methods))
		for m := range rt.methods {
			allowed = append(allowed, m)
		}
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		return writeError(w, errf(http.StatusMethodNotAllowed, dbapi.CodeBadRequest, "Method %s is not allowed on %s", clip(req.Method), rt.pattern))
	}
	req.Body = http.MaxBytesReader(w, req.Body, s.cfg.MaxBodyBytes)
	if ae := checkQuery(req.URL.RawQuery); ae != nil {
		return writeError(w, ae)
	}
	if !rt.public {
		id, err := s.authn.Authenticate(req.Context(), auth.HeaderToken(req.Header.Get("Authorization")))
		if errors.Is(err, auth.ErrUnauthenticated) {
			return writeError(w, errf(http.StatusUnauthorized, dbapi.CodeUnauthenticated, "Invalid access token."))
		}
		if err != nil {
			return s.writeInternal(w, req, err)
		}
		req.id = id
	}
	out, err := h(req)
	if req.auditErr != nil {
		return s.writeAuditFailure(w, req)
	}
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) {
			return writeError(w, ae)
		}
		return s.writeInternal(w, req, err)
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) writeInternal(w http.ResponseWriter, req *request, err error) int {
	// The error comes from the store or the sealer, which never put values
	// or tokens into their errors; the client gets a generic message.
	s.log.LogAttrs(req.Context(), slog.LevelError, "internal error", slog.String("error", clipTo(err.Error(), maxLoggedError)))
	if storageFull(err) {
		return writeError(w, unavailable("The server's storage is full; nothing was changed. Try again later."))
	}
	return writeError(w, errf(http.StatusInternalServerError, dbapi.CodeInternalError, "Internal error; see the server log."))
}

// writeAuditFailure answers a request whose audit record could not be
// stored: 503, and nothing of its result (audit fails closed, as in Vault).
func (s *Server) writeAuditFailure(w http.ResponseWriter, req *request) int {
	s.log.LogAttrs(req.Context(), slog.LevelError, "request refused: its audit record could not be stored", slog.String("error", clipTo(req.auditErr.Error(), maxLoggedError)))
	return writeError(w, unavailable("The audit log cannot be written, so the request was not served; try again later."))
}

func writeError(w http.ResponseWriter, e *apiError) int {
	return writeJSON(w, e.status, dbapi.ErrorResponse{ErrorCode: e.code, Message: e.msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) int {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error_code":"INTERNAL_ERROR","message":"Internal error; see the server log."}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
	return status
}

// decode reads the JSON body into v. Any Content-Type is accepted (curl's
// default form type included, as Databricks does); an empty body is {}.
// Unknown fields are ignored.
func decode(r *request, v any) error {
	_, err := decodeBody(r, v)
	return err
}

// decodeBody is decode, returning the body's bytes too.
func decodeBody(r *request, v any) ([]byte, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errf(http.StatusBadRequest, dbapi.CodeResourceLimitExceeded, "Request body is larger than the limit of %d bytes.", mbe.Limit)
		}
		return nil, errf(http.StatusBadRequest, dbapi.CodeMalformedRequest, "Could not read the request body.")
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return b, nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return nil, errf(http.StatusBadRequest, dbapi.CodeMalformedRequest, "Invalid JSON given in the body of the request - %s", jsonProblem(err))
	}
	return b, nil
}

// jsonProblem describes a JSON error without quoting the input (which may
// hold a value).
func jsonProblem(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("syntax error at offset %d", se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("field %q must be a JSON %s", te.Field, jsonKind(te.Type.Kind().String()))
	}
	return "expected a JSON object"
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "string"
	case "int", "int64", "int32", "float64":
		return "number"
	case "bool":
		return "boolean"
	case "slice":
		return "array"
	}
	return "object"
}

// actAuditProbe is the audit record /healthz stores, only while the audit
// log is failing, to find out whether it has recovered.
const actAuditProbe = "audit.probe"

func (s *Server) healthz(r *request) (any, error) {
	if _, err := s.st.GetMeta(r.Context(), seal.DataKeyName); err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, unavailable("store unavailable")
	}
	if s.audit.failing() {
		probe := store.Event{Time: s.now(), Action: actAuditProbe, Remote: r.remote, Allowed: true}
		if err := s.audit.record(r.Context(), probe); err != nil {
			return nil, unavailable("audit sink failing: audit records cannot be stored, so audited requests are refused")
		}
	}
	return map[string]string{"status": "ok"}, nil
}

// wellKnown answers /.well-known/databricks-config with what exists, from
// configuration only: the workspace ID. It never builds an address from the
// request's Host header (which the caller chooses), and advertises no OIDC
// endpoint, since hush has none.
func (s *Server) wellKnown(*request) (any, error) {
	return dbapi.WellKnownConfig{WorkspaceID: s.cfg.WorkspaceID}, nil
}
