package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/hush-secrets/hush/runtime/auth"
	"github.com/hush-secrets/hush/runtime/store"
)

// BootstrapUserName is the admin user created on the first start.
const BootstrapUserName = "admin"

// bootstrapMeta is the Meta name replicas race on with InitMeta: the one
// whose nonce is stored creates the admin, the others do nothing.
const bootstrapMeta = "server/bootstrap"

// BootstrapResult says what Bootstrap did.
type BootstrapResult struct {
	// Created is true when this call created the admin user and its token.
	Created bool
	// Token is the bootstrap token's value (only when Created). Show it once.
	Token string
}

// Bootstrap prepares an empty store: the "admins" group, the user "admin"
// in it, and a token for that user that never expires. token is the value
// to use (HUSH_BOOTSTRAP_TOKEN; it must pass auth.ValidateTokenFormat), or
// "" to generate one. A store that already has users is left alone. Replicas
// starting at once on a shared store agree through InitMeta, so at most one
// bootstrap admin is created.
func Bootstrap(ctx context.Context, st store.Store, token string, now time.Time) (BootstrapResult, error) {
	if token != "" {
		if err := auth.ValidateTokenFormat(token); err != nil {
			return BootstrapResult{}, fmt.Errorf("bootstrap token: %w", err)
		}
	}
	users, err := st.ListUsers(ctx)
	if err != nil {
		return BootstrapResult{}, fmt.Errorf("bootstrap: list users: %w", err)
	}
	if len(users) > 0 {
		return BootstrapResult{}, nil
	}
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return BootstrapResult{}, fmt.Errorf("bootstrap: %w", err)
	}
	mine := []byte(hex.EncodeToString(nonce))
	got, err := st.InitMeta(ctx, bootstrapMeta, mine)
	if err != nil {
		return BootstrapResult{}, fmt.Errorf("bootstrap: claim: %w", err)
	}
	if string(got) != string(mine) {
		return BootstrapResult{}, nil // another replica bootstraps (or did)
	}
	admins, err := ensureGroup(ctx, st, auth.GroupAdmins, now)
	if err != nil {
		return BootstrapResult{}, err
	}
	uid, err := newNumericID()
	if err != nil {
		return BootstrapResult{}, err
	}
	u := store.User{ID: uid, UserName: BootstrapUserName, DisplayName: "Administrator", Active: true, CreatedAt: now}
	if err := st.CreateUser(ctx, u); err != nil {
		return BootstrapResult{}, fmt.Errorf("bootstrap: create user %s: %w", BootstrapUserName, err)
	}
	admins.Members = append(admins.Members, u.ID)
	if err := st.UpdateGroup(ctx, admins); err != nil {
		return BootstrapResult{}, fmt.Errorf("bootstrap: add %s to %s: %w", BootstrapUserName, auth.GroupAdmins, err)
	}
	if token == "" {
		if token, err = auth.NewToken(); err != nil {
			return BootstrapResult{}, err
		}
	}
	if _, err := storeToken(ctx, st, u, u.ID, token, 0, "bootstrap token", now); err != nil {
		return BootstrapResult{}, fmt.Errorf("bootstrap: %w", err)
	}
	return BootstrapResult{Created: true, Token: token}, nil
}

// ensureGroup returns the group named name, creating it if needed.
func ensureGroup(ctx context.Context, st store.Store, name string, now time.Time) (store.Group, error) {
	g, err := st.GetGroupByName(ctx, name)
	if err == nil {
		return g, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return g, fmt.Errorf("look up group %s: %w", name, err)
	}
	id, err := newNumericID()
	if err != nil {
		return g, err
	}
	g = store.Group{ID: id, DisplayName: name, CreatedAt: now}
	if err := st.CreateGroup(ctx, g); errors.Is(err, store.ErrExists) {
		return st.GetGroupByName(ctx, name)
	} else if err != nil {
		return g, fmt.Errorf("create group %s: %w", name, err)
	}
	return g, nil
}
