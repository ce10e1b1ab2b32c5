package dbapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

// Defaults of a Client; each has an Option.
const (
	DefaultTimeout    = 60 * time.Second
	DefaultMaxRetries = 3
	DefaultRetryDelay = 500 * time.Millisecond
	// maxRetryDelay caps one wait, whatever Retry-After says.
	maxRetryDelay = 30 * time.Second
	// maxResponseBytes bounds what the client reads from a response body.
	maxResponseBytes = 16 << 20
)

// Client calls the Databricks REST APIs that hush speaks (Secrets API 2.0,
// tokens, SCIM, audit) on one host with one token. It is safe for concurrent
// use. Every call takes a context; errors answered by the server are
// *APIError, transport failures are *TransportError, both naming the host.
type Client struct {
	host       string
	token      string
	userAgent  string
	hc         *http.Client
	maxRetries int
	retryDelay time.Duration
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient makes the client send requests through hc (its Timeout and
// Transport are used as they are).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithTimeout bounds each HTTP attempt, from connecting to reading the body.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) {
		hc := *c.hc
		hc.Timeout = d
		c.hc = &hc
	}
}

// WithUserAgent sets the User-Agent header; the default is "hush/<version>".
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// WithRetries sets how many times a request answered 429 or 503 is retried
// (0 = never) and the first backoff delay, which doubles on each retry. A
// Retry-After header, when present, is honoured instead.
func WithRetries(n int, firstDelay time.Duration) Option {
	return func(c *Client) {
		c.maxRetries = max(n, 0)
		c.retryDelay = firstDelay
	}
}

// UserAgent returns the default User-Agent, "hush/<module version>" ("hush/dev"
// in a development build).
func UserAgent() string {
	v := "dev"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	return "hush/" + v
}

// NewClient returns a client for cfg.Host authenticating with cfg.Token.
// cfg.Host should come from ResolveConfig or NormalizeHost; a trailing slash
// is tolerated.
func NewClient(cfg Config, opts ...Option) *Client {
	c := &Client{
		host:       strings.TrimRight(cfg.Host, "/"),
		token:      cfg.Token,
		userAgent:  UserAgent(),
		hc:         &http.Client{Timeout: DefaultTimeout},
		maxRetries: DefaultMaxRetries,
		retryDelay: DefaultRetryDelay,
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Host returns the base URL the client talks to.
func (c *Client) Host() string { return c.host }

// TransportError is a request that got no HTTP answer: the host is
// unreachable, the connection broke, or the attempt timed out.
type TransportError struct {
	// Method and Path name the call, e.g. "GET /api/2.0/secrets/get".
	Method, Path string
	// Host is the base URL that could not be reached.
	Host string
	Err  error
}

// Error names the host so users can tell which server failed.
func (e *TransportError) Error() string {
	return fmt.Sprintf("%s %s%s: %v", e.Method, e.Host, e.Path, e.Err)
}

// Unwrap returns the underlying network error.
func (e *TransportError) Unwrap() error { return e.Err }

// IsUnavailable reports whether err means the server could not serve the
// request right now: a transport failure (not a cancelled context) or a 5xx
// answer. Callers with a cache use it to decide whether a stale value may be
// served.
func IsUnavailable(err error) bool {
	var te *TransportError
	if errors.As(err, &te) {
		return !errors.Is(err, context.Canceled)
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.StatusCode >= 500
	}
	return false
}

// Do sends one API request and decodes the JSON answer into out (which may be
// nil). in, when not nil, is sent as the JSON body; query as the URL query.
// Requests answered 429 or 503 are retried with backoff, up to the client's
// retry limit, as long as ctx allows.
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	var body []byte
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s %s: encode request: %w", method, path, err)
		}
		body = b
	}
	u := c.host + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	delay := c.retryDelay
	for attempt := 0; ; attempt++ {
		resp, err := c.attempt(ctx, method, u, body)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("%s %s%s: %w", method, c.host, path, ctx.Err())
			}
			return &TransportError{Method: method, Path: path, Host: c.host, Err: scrubURLError(err)}
		}
		data, rerr := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
		_ = resp.Body.Close()
		if rerr != nil {
			return &TransportError{Method: method, Path: path, Host: c.host, Err: fmt.Errorf("read response: %w", scrubURLError(rerr))}
		}
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			if out == nil || len(bytes.TrimSpace(data)) == 0 {
				return nil
			}
			if err := json.Unmarshal(data, out); err != nil {
				return fmt.Errorf("%s %s%s: decode response: %w", method, c.host, path, err)
			}
			return nil
		}
		apiErr := c.decodeError(resp, data)
		retryable := resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable
		if !retryable || attempt >= c.maxRetries {
			return apiErr
		}
		wait := delay
		if ra, ok := retryAfter(resp.Header.Get("Retry-After")); ok {
			wait = ra
		}
		wait = min(wait, maxRetryDelay)
		delay *= 2
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s %s%s: %w (after %v)", method, c.host, path, ctx.Err(), apiErr)
		case <-t.C:
		}
	}
}

func (c *Client) attempt(ctx context.Context, method, u string, body []byte) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return c.hc.Do(req)
}

// decodeError turns a non-2xx answer into an *APIError. A body that is not
// the Databricks error JSON (a proxy's HTML page) is summarised, never echoed
// whole, and the token is scrubbed from whatever is kept.
func (c *Client) decodeError(resp *http.Response, data []byte) *APIError {
	e := &APIError{StatusCode: resp.StatusCode, Host: c.host}
	var er ErrorResponse
	if json.Unmarshal(data, &er) == nil && (er.ErrorCode != "" || er.Message != "") {
		e.ErrorCode, e.Message = er.ErrorCode, er.Message
	} else {
		// Some servers answer {"error": "..."}; SCIM answers {"detail": "..."}.
		var alt struct {
			Error  string `json:"error"`
			Detail string `json:"detail"`
		}
		if json.Unmarshal(data, &alt) == nil && (alt.Error != "" || alt.Detail != "") {
			e.Message = alt.Error
			if e.Message == "" {
				e.Message = alt.Detail
			}
		} else {
			snippet := strings.TrimSpace(string(data))
			if len(snippet) > 200 {
				snippet = snippet[:200] + "…"
			}
			e.Message = fmt.Sprintf("%s: HTTP %d %s", c.host, resp.StatusCode, http.StatusText(resp.StatusCode))
			if snippet != "" && !strings.HasPrefix(snippet, "<") {
				e.Message += ": " + snippet
			}
		}
	}
	if e.ErrorCode == "" {
		e.ErrorCode = codeForStatus(resp.StatusCode)
	}
	if c.token != "" {
		e.Message = strings.ReplaceAll(e.Message, c.token, "***")
	}
	return e
}

// codeForStatus is the error code the Databricks SDK assumes for a status
// when the body has none.
func codeForStatus(status int) string {
	switch {
	case status == http.StatusBadRequest:
		return CodeBadRequest
	case status == http.StatusUnauthorized:
		return CodeUnauthenticated
	case status == http.StatusForbidden:
		return CodePermissionDenied
	case status == http.StatusNotFound:
		return CodeEndpointNotFound
	case status == http.StatusTooManyRequests:
		return "TOO_MANY_REQUESTS"
	case status == http.StatusServiceUnavailable:
		return "TEMPORARILY_UNAVAILABLE"
	case status >= 500:
		return CodeInternalError
	}
	return "HTTP_" + strconv.Itoa(status)
}

// retryAfter parses a Retry-After header given in seconds.
func retryAfter(v string) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	s, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || s < 0 {
		return 0, false
	}
	return time.Duration(s) * time.Second, true
}

// scrubURLError drops the *url.Error wrapper, whose message repeats the whole
// URL; TransportError already names the host and path.
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return fmt.Errorf("timeout: %w", ue.Err)
		}
		return ue.Err
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return ne
	}
	return err
}

// ListScopes lists every secret scope the caller can see.
func (c *Client) ListScopes(ctx context.Context) ([]SecretScope, error) {
	var out ListScopesResponse
	if err := c.Do(ctx, http.MethodGet, PathScopesList, nil, nil, &out); err != nil {
		return nil, err
	}
	return out.Scopes, nil
}

// CreateScope creates a secret scope as described by req.
func (c *Client) CreateScope(ctx context.Context, req CreateScopeRequest) error {
	return c.Do(ctx, http.MethodPost, PathScopesCreate, nil, req, nil)
}

// DeleteScope deletes a scope with its secrets and ACLs.
func (c *Client) DeleteScope(ctx context.Context, scope string) error {
	return c.Do(ctx, http.MethodPost, PathScopesDelete, nil, DeleteScopeRequest{Scope: scope}, nil)
}

// PutSecret stores a value given as a string (sent as string_value).
func (c *Client) PutSecret(ctx context.Context, scope, key, value string) error {
	return c.Do(ctx, http.MethodPost, PathSecretsPut, nil, PutSecretRequest{Scope: scope, Key: key, StringValue: &value}, nil)
}

// PutSecretBytes stores a value given as bytes (sent as base64 bytes_value).
func (c *Client) PutSecretBytes(ctx context.Context, scope, key string, value []byte) error {
	b64 := base64.StdEncoding.EncodeToString(value)
	return c.Do(ctx, http.MethodPost, PathSecretsPut, nil, PutSecretRequest{Scope: scope, Key: key, BytesValue: &b64}, nil)
}

// GetSecret returns the value of a secret, decoded from the wire's base64.
func (c *Client) GetSecret(ctx context.Context, scope, key string) ([]byte, error) {
	var out GetSecretResponse
	q := url.Values{"scope": {scope}, "key": {key}}
	if err := c.Do(ctx, http.MethodGet, PathSecretsGet, q, nil, &out); err != nil {
		return nil, err
	}
	v, err := base64.StdEncoding.DecodeString(out.Value)
	if err != nil {
		// Never include the value in the message.
		return nil, fmt.Errorf("GET %s%s: secret %s/%s: value is not valid base64", c.host, PathSecretsGet, scope, key)
	}
	return v, nil
}

// ListSecrets lists the keys of a scope with their last-update times.
func (c *Client) ListSecrets(ctx context.Context, scope string) ([]SecretMetadata, error) {
	var out ListSecretsResponse
	if err := c.Do(ctx, http.MethodGet, PathSecretsList, url.Values{"scope": {scope}}, nil, &out); err != nil {
		return nil, err
	}
	return out.Secrets, nil
}

// DeleteSecret deletes one secret.
func (c *Client) DeleteSecret(ctx context.Context, scope, key string) error {
	return c.Do(ctx, http.MethodPost, PathSecretsDel, nil, DeleteSecretRequest{Scope: scope, Key: key}, nil)
}

// PutACL grants permission ("READ", "WRITE" or "MANAGE") on scope to principal,
// replacing any earlier grant to the same principal.
func (c *Client) PutACL(ctx context.Context, scope, principal, permission string) error {
	return c.Do(ctx, http.MethodPost, PathACLsPut, nil, PutACLRequest{Scope: scope, Principal: principal, Permission: permission}, nil)
}

// GetACL returns the grant of principal on scope.
func (c *Client) GetACL(ctx context.Context, scope, principal string) (ACLItem, error) {
	var out ACLItem
	err := c.Do(ctx, http.MethodGet, PathACLsGet, url.Values{"scope": {scope}, "principal": {principal}}, nil, &out)
	return out, err
}

// ListACLs lists the grants on scope.
func (c *Client) ListACLs(ctx context.Context, scope string) ([]ACLItem, error) {
	var out ListACLsResponse
	if err := c.Do(ctx, http.MethodGet, PathACLsList, url.Values{"scope": {scope}}, nil, &out); err != nil {
		return nil, err
	}
	return out.Items, nil
}

// DeleteACL removes the grant of principal on scope.
func (c *Client) DeleteACL(ctx context.Context, scope, principal string) error {
	return c.Do(ctx, http.MethodPost, PathACLsDelete, nil, DeleteACLRequest{Scope: scope, Principal: principal}, nil)
}
