package server_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hush-secrets/hush/internal/server/servertest"
	"github.com/hush-secrets/hush/internal/server/store"
	"github.com/hush-secrets/hush/internal/server/store/bolt"
)

// failingAuditStore wraps a store whose audit appends fail while failing is set.
type failingAuditStore struct {
	store.Store
	failing atomic.Bool
}

var errAuditDown = errors.New("audit storage is down (test)")

func (f *failingAuditStore) AppendEvent(ctx context.Context, e store.Event) error {
	if f.failing.Load() {
		return errAuditDown
	}
	return f.Store.AppendEvent(ctx, e)
}

func (f *failingAuditStore) AppendEvents(ctx context.Context, evs []store.Event) error {
	if f.failing.Load() {
		return errAuditDown
	}
	return f.Store.AppendEvents(ctx, evs)
}

// Issue 13, item 3: while audit records cannot be stored, every audited
// request fails with 503 TEMPORARILY_UNAVAILABLE: a read returns no value,
// a write is not applied, and /healthz says the audit sink is failing.
// Once storage recovers, everything works again.
func TestAuditFailsClosed(t *testing.T) {
	inner, err := bolt.Open(filepath.Join(t.TempDir(), bolt.FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inner.Close() })
	fs := &failingAuditStore{Store: inner}
	s := servertest.StartWith(t, servertest.Options{Store: fs})
	tok := s.AdminToken
	must(t, call(t, s.URL, "POST", pCreate, tok, map[string]any{"scope": "a"}))
	must(t, call(t, s.URL, "POST", pPut, tok, map[string]any{"scope": "a", "key": "k", "string_value": "before"}))
	must(t, call(t, s.URL, "GET", "/healthz", "", nil))

	fs.failing.Store(true)
	r := call(t, s.URL, "GET", pGet, tok, nil, "scope", "a", "key", "k")
	expect(t, r, 503, "TEMPORARILY_UNAVAILABLE", "")
	if _, ok := r.body["value"]; ok {
		t.Fatal("a value was returned without an audit record")
	}
	expect(t, call(t, s.URL, "POST", pPut, tok, map[string]any{"scope": "a", "key": "k", "string_value": "during"}), 503, "TEMPORARILY_UNAVAILABLE", "")
	expect(t, call(t, s.URL, "POST", pPut, tok, map[string]any{"scope": "a", "key": "new", "string_value": "during"}), 503, "TEMPORARILY_UNAVAILABLE", "")
	expect(t, call(t, s.URL, "POST", pDel, tok, map[string]any{"scope": "a", "key": "k"}), 503, "TEMPORARILY_UNAVAILABLE", "")
	expect(t, call(t, s.URL, "POST", pCreate, tok, map[string]any{"scope": "b"}), 503, "TEMPORARILY_UNAVAILABLE", "")
	expect(t, call(t, s.URL, "POST", pACLPut, tok, map[string]any{"scope": "a", "principal": "users", "permission": "READ"}), 503, "TEMPORARILY_UNAVAILABLE", "")
	expect(t, call(t, s.URL, "POST", pDelete, tok, map[string]any{"scope": "a"}), 503, "TEMPORARILY_UNAVAILABLE", "")
	h := call(t, s.URL, "GET", "/healthz", "", nil)
	expect(t, h, 503, "TEMPORARILY_UNAVAILABLE", "")
	if msg, _ := h.body["message"].(string); msg == "" || !containsFold(msg, "audit") {
		t.Fatalf("/healthz does not name the audit sink: %s", h.raw)
	}

	// Nothing was applied: the store holds exactly what it held before.
	ctx := context.Background()
	if _, err := inner.GetScope(ctx, "b"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("scope b was created: %v", err)
	}
	if _, err := inner.GetSecret(ctx, "a", "new"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("secret a/new was stored: %v", err)
	}
	if _, err := inner.GetACL(ctx, "a", "users"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ACL was stored: %v", err)
	}

	fs.failing.Store(false)
	must(t, call(t, s.URL, "GET", "/healthz", "", nil))
	r = must(t, call(t, s.URL, "GET", pGet, tok, nil, "scope", "a", "key", "k"))
	if got := decodeValue(t, r); got != "before" {
		t.Fatalf("value after the outage: %q, want the one from before", got)
	}
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}
