package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hush-secrets/hush/redact/redacttest"
)

func TestTokensCommands(t *testing.T) {
	srv := serverEnv(t)
	r := hush(t, nil, "tokens", "create", "--comment", "ci-token", "--lifetime-seconds", "3600").ok(t)
	created := decodeJSON[struct {
		TokenValue string `json:"token_value"`
		TokenInfo  struct {
			TokenID    string `json:"token_id"`
			Comment    string `json:"comment"`
			ExpiryTime int64  `json:"expiry_time"`
		} `json:"token_info"`
	}](t, r.stdout)
	if created.TokenValue == "" || created.TokenInfo.TokenID == "" || created.TokenInfo.Comment != "ci-token" || created.TokenInfo.ExpiryTime <= time.Now().UnixMilli() {
		t.Fatalf("tokens create printed %s", r.stdout)
	}

	// The new token works, and belongs to the admin.
	t.Setenv("DATABRICKS_TOKEN", created.TokenValue)
	r = hush(t, nil, "users", "me").ok(t)
	if !strings.Contains(r.stdout, "User name:     admin\n") {
		t.Fatalf("users me:\n%s", r.stdout)
	}
	t.Setenv("DATABRICKS_TOKEN", srv.AdminToken)

	r = hush(t, nil, "tokens", "list").ok(t)
	if !strings.HasPrefix(r.stdout, "ID ") || !strings.Contains(r.stdout, created.TokenInfo.TokenID) || !strings.Contains(r.stdout, "ci-token") {
		t.Fatalf("tokens list:\n%s", r.stdout)
	}
	if !redacttest.AssertNoSecret(t, []byte(r.stdout), []byte(created.TokenValue)) {
		t.Fatal("tokens list printed a token value")
	}
	r = hush(t, nil, "tokens", "list", "-o", "json").ok(t)
	infos := decodeJSON[[]map[string]any](t, r.stdout)
	var found bool
	for _, i := range infos {
		if i["token_id"] == created.TokenInfo.TokenID {
			found = true
		}
	}
	if !found {
		t.Fatalf("tokens list -o json: %s", r.stdout)
	}

	hush(t, nil, "tokens", "revoke", created.TokenInfo.TokenID).ok(t)
	t.Setenv("DATABRICKS_TOKEN", created.TokenValue)
	hush(t, nil, "users", "me").fails(t, exitError, "Error: ")
	t.Setenv("DATABRICKS_TOKEN", srv.AdminToken)

	// Token management: an admin sees and revokes another user's tokens; a
	// user cannot.
	bob := srv.CreateUser(t, "bob@example.com")
	r = hush(t, nil, "tokens", "list", "--all", "--created-by", "bob@example.com", "-o", "json").ok(t)
	all := decodeJSON[[]map[string]any](t, r.stdout)
	if len(all) != 1 || all[0]["created_by_username"] != "bob@example.com" {
		t.Fatalf("tokens list --all: %s", r.stdout)
	}
	r = hush(t, nil, "tokens", "list", "--all").ok(t)
	if !strings.Contains(r.stdout, "bob@example.com") {
		t.Fatalf("tokens list --all table:\n%s", r.stdout)
	}
	t.Setenv("DATABRICKS_TOKEN", bob.Token)
	hush(t, nil, "tokens", "list", "--all").fails(t, exitError, "Error: ")
	hush(t, nil, "users", "me").ok(t)
	t.Setenv("DATABRICKS_TOKEN", srv.AdminToken)
	hush(t, nil, "tokens", "revoke", "--any", all[0]["token_id"].(string)).ok(t)
	t.Setenv("DATABRICKS_TOKEN", bob.Token)
	hush(t, nil, "users", "me").fails(t, exitError, "Error: ")

	hush(t, nil, "tokens", "create", "--lifetime-seconds", "-1").fails(t, exitUsage, "must not be negative")
	hush(t, nil, "tokens", "revoke").fails(t, exitUsage, "missing token-id")
	hush(t, nil, "tokens", "list", "--created-by", "x").fails(t, exitUsage, "needs --all")
}

func TestUsersAndGroupsCommands(t *testing.T) {
	srv := serverEnv(t)
	r := hush(t, nil, "users", "create", "alice@example.com", "--display-name", "Alice Liddell").ok(t)
	if !strings.HasPrefix(r.stdout, "Created user alice@example.com (id ") {
		t.Fatalf("users create: %q", r.stdout)
	}
	hush(t, nil, "users", "create", "alice@example.com").fails(t, exitError, "Error: ")
	r = hush(t, nil, "users", "list").ok(t)
	if !strings.Contains(r.stdout, "alice@example.com") || !strings.Contains(r.stdout, "Alice Liddell") || !strings.Contains(r.stdout, "admin") {
		t.Fatalf("users list:\n%s", r.stdout)
	}
	r = hush(t, nil, "users", "list", "-o", "json").ok(t)
	users := decodeJSON[[]map[string]any](t, r.stdout)
	if len(users) != 2 {
		t.Fatalf("users list -o json: %s", r.stdout)
	}

	hush(t, nil, "groups", "create", "data").ok(t)
	hush(t, nil, "groups", "add-member", "data", "alice@example.com").ok(t)
	r = hush(t, nil, "groups", "list").ok(t)
	if !strings.Contains(r.stdout, "data") || !strings.Contains(r.stdout, "alice@example.com") {
		t.Fatalf("groups list:\n%s", r.stdout)
	}
	r = hush(t, nil, "users", "get", "alice@example.com").ok(t)
	if !strings.Contains(r.stdout, "Display name:  Alice Liddell") || !strings.Contains(r.stdout, "data") {
		t.Fatalf("users get:\n%s", r.stdout)
	}

	// Membership is what scope ACLs act on: alice reads through the group.
	hush(t, nil, "secrets", "create-scope", "team").ok(t)
	hush(t, nil, "secrets", "put-secret", "team", "k", "--string-value", "team-secret-value").ok(t)
	hush(t, nil, "secrets", "put-acl", "team", "data", "READ").ok(t)
	alice := srv.Token(t, "alice@example.com", 0)
	t.Setenv("DATABRICKS_TOKEN", alice)
	if v := secretValue(t, "team", "k"); v != "team-secret-value" {
		t.Fatalf("alice read %q", v)
	}
	hush(t, nil, "groups", "create", "nope").fails(t, exitError, "Error: ") // not an admin
	t.Setenv("DATABRICKS_TOKEN", srv.AdminToken)

	hush(t, nil, "groups", "remove-member", "data", "alice@example.com").ok(t)
	t.Setenv("DATABRICKS_TOKEN", alice)
	hush(t, nil, "secrets", "get-secret", "team", "k").fails(t, exitError, "Error: ")
	t.Setenv("DATABRICKS_TOKEN", srv.AdminToken)

	hush(t, nil, "groups", "add-member", "data", "nobody@example.com").fails(t, exitError, "no user or group named nobody@example.com")
	hush(t, nil, "groups", "add-member", "missing-group", "alice@example.com").fails(t, exitError, "Group missing-group does not exist")
	hush(t, nil, "groups", "add-member", "data").fails(t, exitUsage, "accepts 2 arg")
	hush(t, nil, "groups", "delete", "data").ok(t)
	r = hush(t, nil, "groups", "list", "-o", "json").ok(t)
	if strings.Contains(r.stdout, `"data"`) {
		t.Fatalf("group not deleted: %s", r.stdout)
	}

	hush(t, nil, "users", "delete", "alice@example.com").ok(t)
	hush(t, nil, "users", "get", "alice@example.com").fails(t, exitError, "User alice@example.com does not exist")
	r = hush(t, nil, "users", "me", "-o", "json").ok(t)
	if me := decodeJSON[map[string]any](t, r.stdout); me["userName"] != "admin" {
		t.Fatalf("users me -o json: %s", r.stdout)
	}
}

func TestAuditCommand(t *testing.T) {
	srv := serverEnv(t)
	hush(t, nil, "secrets", "create-scope", "audited").ok(t)
	hush(t, nil, "secrets", "put-secret", "audited", "k", "--string-value", "audited-secret-value").ok(t)
	secretValue(t, "audited", "k")
	bob := srv.CreateUser(t, "bob@example.com")
	t.Setenv("DATABRICKS_TOKEN", bob.Token)
	hush(t, nil, "secrets", "get-secret", "audited", "k").fails(t, exitError, "Error: ")
	hush(t, nil, "audit").fails(t, exitError, "Error: ") // admins only
	t.Setenv("DATABRICKS_TOKEN", srv.AdminToken)
	if err := srv.Server.FlushAudit(context.Background()); err != nil {
		t.Fatal(err)
	}

	r := hush(t, nil, "audit", "--scope", "audited").ok(t)
	if !strings.HasPrefix(r.stdout, "Time ") || !strings.Contains(r.stdout, "secrets.put") || !strings.Contains(r.stdout, "denied") {
		t.Fatalf("audit table:\n%s", r.stdout)
	}
	if !redacttest.AssertNoSecret(t, []byte(r.stdout), []byte("audited-secret-value")) {
		t.Fatal("audit printed a value")
	}
	r = hush(t, nil, "audit", "--scope", "audited", "--actor", "bob@example.com", "--since", "1h", "-o", "json").ok(t)
	events := decodeJSON[[]map[string]any](t, r.stdout)
	if len(events) == 0 {
		t.Fatalf("no events for bob: %s", r.stdout)
	}
	for _, e := range events {
		if e["actor"] != "bob@example.com" || e["allowed"] != false {
			t.Fatalf("audit --actor returned %v", e)
		}
	}
	r = hush(t, nil, "audit", "--limit", "1", "-o", "json").ok(t)
	if n := len(decodeJSON[[]map[string]any](t, r.stdout)); n != 1 {
		t.Fatalf("--limit 1 gave %d events", n)
	}
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	r = hush(t, nil, "audit", "--since", future, "-o", "json").ok(t)
	if strings.TrimSpace(r.stdout) != "[]" {
		t.Fatalf("--since the future: %s", r.stdout)
	}
	hush(t, nil, "audit", "--since", "yesterday-ish").fails(t, exitUsage, "invalid --since")
	hush(t, nil, "audit", "--limit", "-3").fails(t, exitUsage, "--limit must be between")
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"2026-01-02T15:04:05Z":      time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC),
		"2026-01-02T15:04:05+02:00": time.Date(2026, 1, 2, 13, 4, 5, 0, time.UTC),
		"2026-01-02":                time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC),
		"24h":                       now.Add(-24 * time.Hour),
		"90m":                       now.Add(-90 * time.Minute),
		"7d":                        now.Add(-7 * 24 * time.Hour),
	} {
		got, err := parseSince(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseSince(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-5h", "x", "2026-13-01", "3w"} {
		if _, err := parseSince(in, now); err == nil {
			t.Errorf("parseSince(%q) accepted", in)
		}
	}
}
