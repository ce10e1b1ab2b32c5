// Package dbutils is the dbutils.secrets surface for Go kernels: Get,
// GetBytes, List, ListScopes and Help with the shapes and errors notebook
// users know from Databricks, over a cache with TTL, a size bound, one request
// per key however many callers miss at once, brief negative caching and
// optional stale-if-error. Every value is added to the redactor before any
// caller sees it (invariant 1 of DESIGN.md), and a Session ties the secrets,
// the redactor and the redacting writers of every cell's output together.
package dbutils

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/hush-secrets/hush/internal/handout"
	"github.com/hush-secrets/hush/internal/secrets"
	"github.com/hush-secrets/hush/runtime/dbapi"
)

// Defaults of Options.
const (
	DefaultTTL         = 5 * time.Minute
	DefaultNegativeTTL = 10 * time.Second
	DefaultMaxEntries  = 10000
)

// staleRetry is how often, at most, a key whose stale value is being served
// is asked of the unavailable server again.
const staleRetry = time.Second

// SecretsAPI is the part of the Secrets API the runtime reads through;
// *dbapi.Client satisfies it.
type SecretsAPI interface {
	GetSecret(ctx context.Context, scope, key string) ([]byte, error)
	ListSecrets(ctx context.Context, scope string) ([]dbapi.SecretMetadata, error)
	ListScopes(ctx context.Context) ([]dbapi.SecretScope, error)
}

// Registrar is where fetched values are registered for redaction;
// *redact.Redactor satisfies it. Each value is added in every form a hush
// client hands it out in: the raw bytes, plus, when they differ, what a
// Python notebook prints of it (the UTF-8 of the string dbutils.secrets.get
// decodes with invalid UTF-8 replaced by U+FFFD, and the body of its bytes
// repr). Add may fail with an error wrapping redact.ErrTooShort, as it does
// for an empty value: the value is then still handed out (as Databricks
// does) and one warning is given, naming the secret, its length and the
// minimum (when the Registrar has a MinLength() int method, as
// *redact.Redactor does); any other error withholds the value.
type Registrar interface {
	Add(secret []byte) error
}

// Options tune a Secrets. The zero value gives the defaults.
type Options struct {
	// TTL is how long a fetched value is served from the cache (default 5
	// minutes; negative: values are not cached).
	TTL time.Duration
	// NegativeTTL is how long a "does not exist" answer is remembered
	// (default 10 seconds; negative: not remembered).
	NegativeTTL time.Duration
	// MaxEntries bounds the cache; the least recently used entry goes first
	// (default 10,000).
	MaxEntries int
	// MaxStale is how long past its TTL a cached value may still be served
	// when the server is unreachable or answers 5xx (default 0: never).
	// Meanwhile the server is asked again at most once a second per key.
	MaxStale time.Duration
	// Now is the clock (default: the monotonic clock behind time.Now); tests
	// inject one.
	Now func() time.Time
	// Warn receives warnings meant for the user, such as a value too short to
	// redact (default: written to stderr with a "hush: warning: " prefix,
	// which the message itself does not have). Warnings never contain a
	// value.
	Warn func(msg string)
	// Host names the server in error messages; default: the API's Host()
	// when it has one.
	Host string
}

// SecretMetadata describes one secret of a scope, as dbutils.secrets.list
// returns it.
type SecretMetadata struct {
	Key string
	// LastUpdatedTimestamp is milliseconds since the Unix epoch (0 if unknown).
	LastUpdatedTimestamp int64
}

// SecretScope is one scope, as dbutils.secrets.listScopes returns it.
type SecretScope struct {
	Name string
}

// Error is a failed dbutils.secrets call. Its message is what Databricks users
// recognise ("Secret does not exist with scope: s and key: k"); Err is the
// underlying *dbapi.APIError or transport error, for errors.Is and errors.As.
type Error struct {
	// Op is "get", "getBytes", "list" or "listScopes".
	Op         string
	Scope, Key string
	// Host is the server asked.
	Host string
	Err  error
	msg  string
}

// Error returns the user-facing message.
func (e *Error) Error() string { return e.msg }

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Help is the text of dbutils.secrets.help().
const Help = `dbutils.secrets provides utilities for leveraging secrets within notebooks. Databricks documentation for more info.
get(scope: String, key: String): String -> Gets the string representation of a secret value with scope and key
getBytes(scope: String, key: String): byte[] -> Gets the bytes representation of a secret value with scope and key
list(scope: String): Seq -> Lists secret metadata for secrets within a scope
listScopes: Seq -> Lists secret scopes
`

type ckey struct{ scope, key string }

// flightKey is k as a singleflight key. The scope's length comes first, so
// no two (scope, key) pairs share a key whatever bytes they hold.
func (k ckey) flightKey() string {
	return strconv.Itoa(len(k.scope)) + ":" + k.scope + "/" + k.key
}

// entry is one cached answer: a value, or (err != nil) a "does not exist".
type entry struct {
	k   ckey
	val []byte
	str string
	err error
	// expires is when the entry goes stale, in nanoseconds on the
	// Secrets' clock (see now).
	expires int64
	// staleUntil is how long the value may be served while the server is
	// unavailable: its first expiry plus MaxStale.
	staleUntil int64
}

// flight counts the fetches of one key that have started and not yet
// finished. Invalidate and Refresh bump gen, so that a fetch that started
// before them answers its callers but does not overwrite the cache.
type flight struct {
	gen     uint64
	running int
}

// Secrets is the dbutils.secrets object of one kernel. It is safe for
// concurrent use.
type Secrets struct {
	api  SecretsAPI
	red  Registrar
	opts Options
	host string
	// base is the origin of the cache's clock: entries expire at
	// nanoseconds since base, read with the monotonic clock (no wall-clock
	// read on the hot path) unless Options.Now is injected.
	base time.Time
	// group makes the concurrent misses of one key one request.
	group singleflight.Group

	mu      sync.Mutex
	m       map[ckey]*list.Element // of *entry
	lru     *list.List             // of *entry, most recently used first
	flights map[ckey]*flight
}

// New returns the dbutils.secrets object reading through api and registering
// every value with red. A nil red makes every Get fail (fail closed).
func New(api SecretsAPI, red Registrar, opts Options) *Secrets {
	if opts.TTL == 0 {
		opts.TTL = DefaultTTL
	}
	if opts.NegativeTTL == 0 {
		opts.NegativeTTL = DefaultNegativeTTL
	}
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = DefaultMaxEntries
	}
	if opts.Warn == nil {
		opts.Warn = defaultWarn
	}
	host := opts.Host
	if h, ok := api.(interface{ Host() string }); ok && host == "" {
		host = h.Host()
	}
	base := time.Now()
	if opts.Now != nil {
		base = opts.Now()
	}
	return &Secrets{
		base:    base,
		api:     api,
		red:     red,
		opts:    opts,
		host:    host,
		m:       make(map[ckey]*list.Element),
		lru:     list.New(),
		flights: make(map[ckey]*flight),
	}
}

// now reads the cache's clock: nanoseconds since s.base.
func (s *Secrets) now() int64 {
	if s.opts.Now != nil {
		return int64(s.opts.Now().Sub(s.base))
	}
	return int64(time.Since(s.base))
}

// Help returns the text of dbutils.secrets.help().
func (s *Secrets) Help() string { return Help }

// Get returns the value of scope/key as a string. The value is registered
// with the redactor before Get returns, whether it came from the cache or the
// server.
func (s *Secrets) Get(ctx context.Context, scope, key string) (string, error) {
	k := ckey{secrets.ScopeKey(scope), key}
	s.mu.Lock()
	if e := s.fresh(k); e != nil {
		str, err := e.str, e.err
		s.mu.Unlock()
		return str, err
	}
	s.mu.Unlock()
	r, err := s.wait(ctx, k, scope, key, false)
	if err != nil {
		return "", err
	}
	return r.str, r.err
}

// GetBytes returns the value of scope/key as bytes (a copy the caller owns),
// registered with the redactor before GetBytes returns.
func (s *Secrets) GetBytes(ctx context.Context, scope, key string) ([]byte, error) {
	r, err := s.wait(ctx, ckey{secrets.ScopeKey(scope), key}, scope, key, false)
	if err != nil {
		return nil, err
	}
	if r.err != nil {
		return nil, withOp(r.err, "getBytes")
	}
	return append([]byte(nil), r.val...), nil
}

// Invalidate drops scope/key from the cache, so the next Get fetches it. A
// fetch already in flight still answers its callers but is not cached. Values
// stay in the redactor.
func (s *Secrets) Invalidate(scope, key string) {
	k := ckey{secrets.ScopeKey(scope), key}
	s.mu.Lock()
	if el := s.m[k]; el != nil {
		s.remove(el)
	}
	s.supersede(k)
	s.mu.Unlock()
}

// Refresh fetches scope/key from the server now, bypassing the cache, and
// caches the answer. The new value is registered with the redactor before
// Refresh returns; an old value stays registered.
func (s *Secrets) Refresh(ctx context.Context, scope, key string) error {
	r, err := s.wait(ctx, ckey{secrets.ScopeKey(scope), key}, scope, key, true)
	if err != nil {
		return err
	}
	return r.err
}

// Len returns the number of cached entries (values and negative answers).
func (s *Secrets) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// result is the outcome of a lookup: a value, or err (not found, denied...).
type result struct {
	val []byte
	str string
	err error
}

// fresh returns k's cache entry, marked most recently used, if it has not
// expired; else nil. s.mu must be held.
func (s *Secrets) fresh(k ckey) *entry {
	el := s.m[k]
	if el == nil {
		return nil
	}
	e := el.Value.(*entry)
	if s.now() >= e.expires {
		return nil
	}
	s.lru.MoveToFront(el)
	return e
}

// supersede makes the fetches of k in flight stale: they still answer
// their callers but no longer write the cache, and the next lookup starts
// a fetch of its own. s.mu must be held.
func (s *Secrets) supersede(k ckey) {
	if f := s.flights[k]; f != nil {
		f.gen++
	}
	s.group.Forget(k.flightKey())
}

// wait answers from a fresh cache entry, else joins the fetch in flight for
// k or starts one, and waits for it or for ctx. With force, the fetches in
// flight are superseded first and a new one always starts. The cache check
// and the join happen under s.mu, which fetch takes to write the cache, so
// a miss never starts a second request while one is in flight or just
// cached, and a forced fetch is never joined to an older one. The fetch
// does not depend on ctx staying alive: one impatient caller does not fail
// the others. The returned error is ctx's; r.err is the lookup's.
func (s *Secrets) wait(ctx context.Context, k ckey, scope, key string, force bool) (result, error) {
	fctx := context.WithoutCancel(ctx)
	s.mu.Lock()
	if force {
		s.supersede(k)
	} else if e := s.fresh(k); e != nil {
		r := result{val: e.val, str: e.str, err: e.err}
		s.mu.Unlock()
		return r, nil
	}
	ch := s.group.DoChan(k.flightKey(), func() (any, error) {
		return s.fetch(fctx, k, scope, key), nil
	})
	s.mu.Unlock()
	select {
	case res := <-ch:
		return res.Val.(result), nil
	case <-ctx.Done():
		return result{}, fmt.Errorf("get secret %s/%s: %w", scope, key, ctx.Err())
	}
}

// fetch asks the server, registers the value and caches the outcome, in
// that order, and returns it for every caller waiting on the flight.
func (s *Secrets) fetch(ctx context.Context, k ckey, scope, key string) result {
	s.mu.Lock()
	f := s.flights[k]
	if f == nil {
		f = &flight{}
		s.flights[k] = f
	}
	f.running++
	gen := f.gen
	s.mu.Unlock()

	val, err := s.api.GetSecret(ctx, scope, key)
	var regErr error
	if err == nil {
		// Register first, outside the lock (Add may rebuild an automaton):
		// nobody can see the value before this returns.
		regErr = s.register(scope, key, val)
	}
	now := s.now()

	s.mu.Lock()
	defer s.mu.Unlock()
	current := f.gen == gen
	if f.running--; f.running == 0 {
		delete(s.flights, k)
	}
	switch {
	case regErr != nil:
		return result{err: regErr}
	case err == nil:
		r := result{val: val, str: string(val)}
		if current && s.opts.TTL > 0 {
			exp := now + int64(s.opts.TTL)
			s.store(&entry{k: k, val: r.val, str: r.str, expires: exp, staleUntil: exp + int64(s.opts.MaxStale)})
		}
		return r
	default:
		return s.failed(k, scope, key, err, now, current)
	}
}

// failed turns the server's error for k into the callers' answer: a
// "does not exist" (cached briefly), a stale value while the server is
// unavailable, or the error. current says whether the fetch may write the
// cache. s.mu must be held.
func (s *Secrets) failed(k ckey, scope, key string, err error, now int64, current bool) result {
	if errors.Is(err, dbapi.ErrResourceDoesNotExist) {
		e := &Error{Op: "get", Scope: scope, Key: key, Host: s.host, Err: err,
			msg: fmt.Sprintf("Secret does not exist with scope: %s and key: %s", scope, key)}
		if current && s.opts.NegativeTTL > 0 {
			s.store(&entry{k: k, err: e, expires: now + int64(s.opts.NegativeTTL)})
		}
		return result{err: e}
	}
	var old *entry
	if el := s.m[k]; el != nil {
		old = el.Value.(*entry)
	}
	if dbapi.IsUnavailable(err) {
		// Stale-if-error: a value fetched (and registered) earlier may be
		// served up to MaxStale past its expiry while the server is down.
		// Until the server answers again, the stale value is served from
		// the cache for staleRetry at a time rather than every caller
		// waiting for a failing request.
		if old != nil && old.err == nil && s.opts.MaxStale > 0 && now < old.staleUntil {
			if current {
				old.expires = min(now+int64(staleRetry), old.staleUntil)
			}
			return result{val: old.val, str: old.str}
		}
		return result{err: &Error{Op: "get", Scope: scope, Key: key, Host: s.host, Err: err,
			msg: fmt.Sprintf("get secret %s/%s: server %s unavailable: %v", scope, key, s.host, err)}}
	}
	// A definitive answer (denied, bad request...): forget what we had, so it
	// is not served stale later.
	if old != nil && current {
		s.remove(s.m[k])
	}
	return result{err: &Error{Op: "get", Scope: scope, Key: key, Host: s.host, Err: err, msg: apiMessage(err)}}
}

// register adds val to the redactor by hush's one rule (handout.Register):
// every form a client hands it out in; too short a value, empty included,
// is still handed out with a warning; any other failure withholds it.
func (s *Secrets) register(scope, key string, val []byte) error {
	if s.red == nil {
		return &Error{Op: "get", Scope: scope, Key: key, Host: s.host,
			msg: fmt.Sprintf("get secret %s/%s: no redactor configured, value withheld", scope, key)}
	}
	if err := handout.Register(s.red, scope, key, val, s.opts.Warn); err != nil {
		return &Error{Op: "get", Scope: scope, Key: key, Host: s.host, Err: err,
			msg: fmt.Sprintf("get secret %s/%s: value withheld: %v", scope, key, err)}
	}
	return nil
}

// defaultWarn writes a warning to the process's stderr.
func defaultWarn(msg string) { fmt.Fprintln(os.Stderr, "hush: warning: "+msg) }

// apiMessage renders an API error as Databricks' dbutils does: "CODE: message".
func apiMessage(err error) string {
	var ae *dbapi.APIError
	if errors.As(err, &ae) && ae.ErrorCode != "" {
		return ae.ErrorCode + ": " + ae.Error()
	}
	return err.Error()
}

// withOp returns err with Op set to op when it is an *Error.
func withOp(err error, op string) error {
	var e *Error
	if errors.As(err, &e) && e.Op != op {
		cp := *e
		cp.Op = op
		return &cp
	}
	return err
}

// store puts e first in the LRU list, replacing any entry of its key, and
// evicts least recently used entries beyond MaxEntries. s.mu must be held.
func (s *Secrets) store(e *entry) {
	if old := s.m[e.k]; old != nil {
		s.remove(old)
	}
	s.m[e.k] = s.lru.PushFront(e)
	for s.lru.Len() > s.opts.MaxEntries {
		s.remove(s.lru.Back())
	}
}

// remove drops el from the cache. s.mu must be held.
func (s *Secrets) remove(el *list.Element) {
	s.lru.Remove(el)
	delete(s.m, el.Value.(*entry).k)
}

// List returns the metadata of the secrets of scope (never values). It is
// not cached.
func (s *Secrets) List(ctx context.Context, scope string) ([]SecretMetadata, error) {
	list, err := s.api.ListSecrets(ctx, scope)
	if err != nil {
		return nil, s.listError("list", scope, err)
	}
	out := make([]SecretMetadata, len(list))
	for i, m := range list {
		out[i] = SecretMetadata{Key: m.Key, LastUpdatedTimestamp: m.LastUpdatedTimestamp}
	}
	return out, nil
}

// ListScopes returns the scopes the caller can see. It is not cached.
func (s *Secrets) ListScopes(ctx context.Context) ([]SecretScope, error) {
	list, err := s.api.ListScopes(ctx)
	if err != nil {
		return nil, s.listError("listScopes", "", err)
	}
	out := make([]SecretScope, len(list))
	for i, sc := range list {
		out[i] = SecretScope{Name: sc.Name}
	}
	return out, nil
}

func (s *Secrets) listError(op, scope string, err error) error {
	msg := apiMessage(err)
	if dbapi.IsUnavailable(err) {
		msg = fmt.Sprintf("%s: server %s unavailable: %v", op, s.host, err)
	}
	return &Error{Op: op, Scope: scope, Host: s.host, Err: err, msg: msg}
}
