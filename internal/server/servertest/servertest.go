// Package servertest starts a real hush server for tests: a bolt store in
// t.TempDir(), a fresh master key, the bootstrap admin with its token, and
// an HTTP server on 127.0.0.1:0 that stops in t.Cleanup. Helpers create
// users, groups and tokens directly in the store, so a test's setup costs no
// HTTP round trips.
package servertest

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/hush-secrets/hush/internal/server"
	"github.com/hush-secrets/hush/internal/server/auth"
	"github.com/hush-secrets/hush/internal/server/seal"
	"github.com/hush-secrets/hush/internal/server/store"
	"github.com/hush-secrets/hush/internal/server/store/bolt"
)

// Options configures StartWith. The zero value is what Start uses.
type Options struct {
	// Store to serve; nil opens a bolt store in t.TempDir(). The caller
	// keeps ownership of a given store (it is not closed).
	Store store.Store
	// MaxScopes and MaxSecretsPerScope as in server.Config.
	MaxScopes          int
	MaxSecretsPerScope int
	// Files serves FILES scopes (nil: disabled).
	Files server.FilesBackend
	// Now is the server's clock (nil: time.Now).
	Now func() time.Time
	// Logger receives the server's request log (nil: discarded).
	Logger *slog.Logger
}

// Server is a running test server.
type Server struct {
	// URL is the base URL, "http://127.0.0.1:PORT".
	URL string
	// AdminToken is the bootstrap admin's token (user "admin", group "admins").
	AdminToken string
	// Admin is the bootstrap admin user.
	Admin store.User
	// Store is the server's store.
	Store store.Store
	// Server is the API server (for FlushAudit and the like).
	Server *server.Server
}

// Start starts a server with default options.
func Start(t testing.TB) *Server { return StartWith(t, Options{}) }

// StartWith starts a server with opt; it fails the test on any error.
func StartWith(t testing.TB, opt Options) *Server {
	t.Helper()
	ctx := context.Background()
	st := opt.Store
	if st == nil {
		b, err := bolt.Open(filepath.Join(t.TempDir(), bolt.FileName))
		if err != nil {
			t.Fatalf("servertest: open bolt store: %v", err)
		}
		st = b
		t.Cleanup(func() { _ = b.Close() })
	}
	mk, err := seal.GenerateMasterKey()
	if err != nil {
		t.Fatalf("servertest: %v", err)
	}
	sealer, err := seal.Open(ctx, st, mk)
	if err != nil {
		t.Fatalf("servertest: open sealer: %v", err)
	}
	now := time.Now
	if opt.Now != nil {
		now = opt.Now
	}
	boot, err := server.Bootstrap(ctx, st, "", now())
	if err != nil {
		t.Fatalf("servertest: bootstrap: %v", err)
	}
	if !boot.Created {
		t.Fatalf("servertest: the store already has users; give StartWith an empty store")
	}
	srv, err := server.New(server.Config{
		Store: st, Sealer: sealer, Files: opt.Files, Now: opt.Now, Logger: opt.Logger,
		MaxScopes: opt.MaxScopes, MaxSecretsPerScope: opt.MaxSecretsPerScope,
	})
	if err != nil {
		t.Fatalf("servertest: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("servertest: listen: %v", err)
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("servertest: serve: %v", err)
		}
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
		<-done
		_ = srv.Close(ctx)
	})
	admin, err := st.GetUserByName(ctx, server.BootstrapUserName)
	if err != nil {
		t.Fatalf("servertest: %v", err)
	}
	return &Server{URL: "http://" + ln.Addr().String(), AdminToken: boot.Token, Admin: admin, Store: st, Server: srv}
}

// User is a user made by CreateUser, with a token that never expires.
type User struct {
	store.User
	Token string
}

// CreateUser creates an active user named userName, adds it to the named
// groups (created if missing; "admins" makes it an admin) and issues it a
// token that never expires.
func (s *Server) CreateUser(t testing.TB, userName string, groups ...string) User {
	t.Helper()
	ctx := context.Background()
	u := store.User{ID: newID(t, s), UserName: userName, Active: true, CreatedAt: time.Now()}
	if err := s.Store.CreateUser(ctx, u); err != nil {
		t.Fatalf("servertest: create user %s: %v", userName, err)
	}
	for _, g := range groups {
		s.addToGroup(t, g, u.ID)
	}
	return User{User: u, Token: s.Token(t, userName, 0)}
}

// CreateGroup creates a group (if missing) with the named users as members.
func (s *Server) CreateGroup(t testing.TB, name string, userNames ...string) store.Group {
	t.Helper()
	ctx := context.Background()
	g, err := s.Store.GetGroupByName(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		g = store.Group{ID: newID(t, s), DisplayName: name, CreatedAt: time.Now()}
		if err := s.Store.CreateGroup(ctx, g); err != nil {
			t.Fatalf("servertest: create group %s: %v", name, err)
		}
	} else if err != nil {
		t.Fatalf("servertest: %v", err)
	}
	for _, n := range userNames {
		u, err := s.Store.GetUserByName(ctx, n)
		if err != nil {
			t.Fatalf("servertest: user %s: %v", n, err)
		}
		s.addToGroup(t, name, u.ID)
	}
	g, err = s.Store.GetGroupByName(ctx, name)
	if err != nil {
		t.Fatalf("servertest: %v", err)
	}
	return g
}

func (s *Server) addToGroup(t testing.TB, name, userID string) {
	t.Helper()
	g := s.CreateGroup(t, name)
	_, err := s.Store.EditGroup(context.Background(), g.ID, func(g *store.Group) error { g.AddMembers(userID); return nil })
	if err != nil {
		t.Fatalf("servertest: add member to %s: %v", name, err)
	}
}

// Token issues another token for the user named userName; lifetime 0 never expires.
func (s *Server) Token(t testing.TB, userName string, lifetime time.Duration) string {
	t.Helper()
	ctx := context.Background()
	u, err := s.Store.GetUserByName(ctx, userName)
	if err != nil {
		t.Fatalf("servertest: user %s: %v", userName, err)
	}
	tok, _, err := server.IssueToken(ctx, s.Store, u, u.ID, lifetime, "servertest", time.Now())
	if err != nil {
		t.Fatalf("servertest: %v", err)
	}
	return tok
}

// Revoke deletes every token whose value is tok.
func (s *Server) Revoke(t testing.TB, tok string) {
	t.Helper()
	ctx := context.Background()
	st, err := s.Store.TokenByHash(ctx, auth.HashToken(tok))
	if err != nil {
		t.Fatalf("servertest: revoke: %v", err)
	}
	if err := s.Store.DeleteToken(ctx, st.ID); err != nil {
		t.Fatalf("servertest: revoke: %v", err)
	}
}

func newID(t testing.TB, _ *Server) string {
	t.Helper()
	id, err := server.NewID()
	if err != nil {
		t.Fatalf("servertest: %v", err)
	}
	return id
}
