package auth_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hush-secrets/hush/internal/secrets"
	"github.com/hush-secrets/hush/internal/server/auth"
	"github.com/hush-secrets/hush/internal/server/store"
	"github.com/hush-secrets/hush/internal/server/store/bolt"
	"github.com/hush-secrets/hush/redact/redacttest"
)

func TestNewTokenFormat(t *testing.T) {
	seen := map[string]bool{}
	for range 50 {
		tok, err := auth.NewToken()
		if err != nil {
			t.Fatal(err)
		}
		if len(tok) != 36 || !strings.HasPrefix(tok, "dapi") || auth.ValidateTokenFormat(tok) != nil {
			t.Fatalf("bad token shape: %d chars", len(tok))
		}
		if seen[tok] {
			t.Fatal("duplicate token")
		}
		seen[tok] = true
	}
}

func TestValidateTokenFormat(t *testing.T) {
	good := []string{"dapi0123456789abcdef0123456789abcdef", "dapi0123456789abcdef0123456789abcdef-2",
		"dapi" + strings.Repeat("a", 64)}
	bad := []string{"", "dapi", "abcd0123456789abcdef0123456789abcdef", "dapi0123456789ABCDEF0123456789abcdef",
		"dapi0123", "dapi0123456789abcdef0123456789abcdef-", "dapi0123456789abcdef0123456789abcdef-x",
		"dapi" + strings.Repeat("a", 65), "dapi0123456789abcdef0123456789abcdeg"}
	for _, tok := range good {
		if err := auth.ValidateTokenFormat(tok); err != nil {
			t.Errorf("%q: %v", tok, err)
		}
	}
	for _, tok := range bad {
		err := auth.ValidateTokenFormat(tok)
		if err == nil {
			t.Errorf("%q accepted", tok)
		} else if len(tok) > 8 {
			redacttest.AssertNoSecret(t, []byte(err.Error()), []byte(tok))
		}
	}
}

func TestBearerToken(t *testing.T) {
	for h, want := range map[string]string{
		"Bearer dapiabc": "dapiabc", "bearer  dapiabc ": "dapiabc", "Basic dG9rZW46eA==": "", "": "", "dapiabc": "",
	} {
		if got := auth.BearerToken(h); got != want {
			t.Errorf("BearerToken(%q) = %q, want %q", h, got, want)
		}
	}
}

func TestEffective(t *testing.T) {
	id := auth.Identity{User: store.User{UserName: "u@x"}, Groups: []string{"data"}}
	admin := auth.Identity{User: store.User{UserName: "a"}, Groups: []string{"admins"}}
	acl := func(p string, perm secrets.Permission) secrets.ACL {
		return secrets.ACL{Principal: p, Permission: perm}
	}
	cases := []struct {
		id   auth.Identity
		acls []secrets.ACL
		want secrets.Permission
	}{
		{id, nil, secrets.NoPermission},
		{id, []secrets.ACL{acl("other", secrets.Manage)}, secrets.NoPermission},
		{id, []secrets.ACL{acl("u@x", secrets.Read)}, secrets.Read},
		{id, []secrets.ACL{acl("u@x", secrets.Read), acl("data", secrets.Write)}, secrets.Write},
		{id, []secrets.ACL{acl("data", secrets.Write), acl("users", secrets.Manage)}, secrets.Manage},
		{id, []secrets.ACL{acl("U@X", secrets.Manage)}, secrets.NoPermission}, // principals are case-sensitive
		{admin, nil, secrets.Manage},
	}
	for i, c := range cases {
		if got := auth.Effective(c.id, c.acls); got != c.want {
			t.Errorf("case %d: %v, want %v", i, got, c.want)
		}
	}
	if id.IsAdmin() || !admin.IsAdmin() {
		t.Fatal("IsAdmin")
	}
}

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "hush.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	a := auth.NewAuthenticator(st, func() time.Time { return now })
	mk := func(id, name string, active bool) {
		if err := st.CreateUser(ctx, store.User{ID: id, UserName: name, Active: active, CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	mk("1", "u@x", true)
	mk("2", "off@x", false)
	if err := st.CreateGroup(ctx, store.Group{ID: "10", DisplayName: "data", Members: []string{"1"}}); err != nil {
		t.Fatal(err)
	}
	tok := func(id, user string, exp time.Time) string {
		v, err := auth.NewToken()
		if err != nil {
			t.Fatal(err)
		}
		if err := st.CreateToken(ctx, store.Token{ID: id, UserID: user, Hash: auth.HashToken(v), CreatedAt: now, ExpiresAt: exp}); err != nil {
			t.Fatal(err)
		}
		return v
	}
	forever := tok("t1", "1", time.Time{})
	later := tok("t2", "1", now.Add(time.Second))
	expired := tok("t3", "1", now)
	inactive := tok("t4", "2", time.Time{})

	for _, v := range []string{forever, later} {
		id, err := a.Authenticate(ctx, v)
		if err != nil || id.User.UserName != "u@x" || len(id.Groups) != 1 || id.Groups[0] != "data" {
			t.Fatalf("valid token: %+v %v", id, err)
		}
	}
	for name, v := range map[string]string{"expired": expired, "inactive": inactive, "unknown": "dapi" + strings.Repeat("0", 32), "empty": ""} {
		_, err := a.Authenticate(ctx, v)
		if !errors.Is(err, auth.ErrUnauthenticated) {
			t.Errorf("%s: %v", name, err)
		} else {
			redacttest.AssertNoSecretIn(t, map[string][]byte{name: []byte(err.Error())}, []byte(v))
		}
	}
	if err := st.DeleteToken(ctx, "t1"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(ctx, forever); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("revoked: %v", err)
	}
}

// Client item "the bootstrap token's format": every refusal says what a
// valid token looks like, never talks of a "suffix" the operator did not
// mean to write, and never repeats the token.
func TestTokenFormatErrorSaysTheRule(t *testing.T) {
	for _, tok := range []string{"dapi-admin", "admin", "dapiXYZ", "dapi9876", "dapi9876543210abcdef0123456789abcdef-x"} {
		err := auth.ValidateTokenFormat(tok)
		if err == nil {
			t.Fatalf("%q accepted", tok)
		}
		msg := err.Error()
		if !strings.Contains(msg, `"dapi" followed by 32 to 64 lower-case hex digits`) {
			t.Errorf("%q: the error does not state the rule: %v", tok, err)
		}
		if strings.Contains(msg, "suffix") && !strings.Contains(tok, "-x") {
			t.Errorf("%q: the error talks of a suffix: %v", tok, err)
		}
		if strings.Contains(msg, tok) {
			t.Errorf("the error repeats the token")
		}
	}
}
