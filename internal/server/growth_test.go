package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hush-secrets/hush/internal/secrets"
	"github.com/hush-secrets/hush/internal/server"
	"github.com/hush-secrets/hush/internal/server/servertest"
	"github.com/hush-secrets/hush/internal/server/store"
)

const (
	pTokenCreate = "/api/2.0/token/create"
	pOBO         = "/api/2.0/token-management/on-behalf-of/tokens"
)

// Issue 13, item 4: names are checked before anything is stored or
// audited, so requests with huge names (denied or not) cannot grow the
// audit log beyond a bounded record each.
func TestHugeNamesAreRefusedBeforeTheAudit(t *testing.T) {
	s := servertest.Start(t)
	u := s.CreateUser(t, "u@example.com")
	must(t, call(t, s.URL, "POST", pCreate, s.AdminToken, map[string]any{"scope": "a"}))
	huge := strings.Repeat("k", 64<<10)
	for _, c := range []struct {
		method, path string
		body         any
		query        []string
	}{
		{"GET", pGet, nil, []string{"scope", "a", "key", huge}},
		{"GET", pGet, nil, []string{"scope", huge, "key", "k"}},
		{"POST", pPut, map[string]any{"scope": huge, "key": "k", "string_value": "v"}, nil},
		{"POST", pDel, map[string]any{"scope": "a", "key": huge}, nil},
		{"POST", pCreate, map[string]any{"scope": huge}, nil},
		{"POST", pDelete, map[string]any{"scope": huge}, nil},
		{"POST", pACLPut, map[string]any{"scope": "a", "principal": huge, "permission": "READ"}, nil},
		{"POST", pACLDel, map[string]any{"scope": "a", "principal": huge}, nil},
	} {
		for _, tok := range []string{u.Token, s.AdminToken} {
			r := call(t, s.URL, c.method, c.path, tok, c.body, c.query...)
			expect(t, r, 400, "INVALID_PARAMETER_VALUE", "")
			if len(r.raw) > 2<<10 {
				t.Errorf("%s: a %d-byte answer echoes the name", c.path, len(r.raw))
			}
		}
	}
	if err := s.Server.FlushAudit(context.Background()); err != nil {
		t.Fatal(err)
	}
	evs, err := s.Store.ListEvents(context.Background(), store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if len(e.Scope) > secrets.MaxNameLength || len(e.Key) > 256 {
			t.Fatalf("an audit record holds a %d-byte scope and a %d-byte key", len(e.Scope), len(e.Key))
		}
	}
}

// Issue 13, item 4: token comments are bounded, and a user holds at most
// 600 tokens (the Databricks limit), through both token routes.
func TestTokenCommentAndCountBounded(t *testing.T) {
	s := servertest.Start(t)
	u := s.CreateUser(t, "u@example.com")
	long := strings.Repeat("c", server.MaxTokenCommentBytes+1)
	expect(t, call(t, s.URL, "POST", pTokenCreate, u.Token, map[string]any{"comment": long}), 400, "INVALID_PARAMETER_VALUE", "")
	expect(t, call(t, s.URL, "POST", pOBO, s.AdminToken, map[string]any{"application_id": "u@example.com", "comment": long}), 400, "INVALID_PARAMETER_VALUE", "")
	must(t, call(t, s.URL, "POST", pTokenCreate, u.Token, map[string]any{"comment": strings.Repeat("c", server.MaxTokenCommentBytes)}))

	ctx := context.Background()
	toks, err := s.Store.ListTokens(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	for range server.MaxTokensPerUser - len(toks) {
		if _, _, err := server.IssueToken(ctx, s.Store, u.User, u.ID, 0, "", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	expect(t, call(t, s.URL, "POST", pTokenCreate, u.Token, map[string]any{}), 400, "RESOURCE_LIMIT_EXCEEDED", "")
	expect(t, call(t, s.URL, "POST", pOBO, s.AdminToken, map[string]any{"application_id": "u@example.com"}), 400, "RESOURCE_LIMIT_EXCEEDED", "")
	if toks, _ := s.Store.ListTokens(ctx, u.ID); len(toks) != server.MaxTokensPerUser {
		t.Fatalf("%d tokens stored, want %d", len(toks), server.MaxTokensPerUser)
	}
	// Other users are not affected.
	must(t, call(t, s.URL, "POST", pTokenCreate, s.AdminToken, map[string]any{}))
}
