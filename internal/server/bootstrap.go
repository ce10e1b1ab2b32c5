package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hush-secrets/hush/internal/server/auth"
	"github.com/hush-secrets/hush/internal/server/store"
)

// BootstrapUserName is the admin user created on the first start.
const BootstrapUserName = "admin"

// bootstrapMeta marks, with the value bootstrapDone, a store whose
// bootstrap has completed.
const (
	bootstrapMeta = "server/bootstrap"
	bootstrapDone = "done"
)

// BootstrapResult says what Bootstrap did.
type BootstrapResult struct {
	// Created is true when this call issued the bootstrap token.
	Created bool
	// Token is the bootstrap token's value (only when Created). Show it once.
	Token string
}

// Bootstrap prepares an empty store: the "admins" group, the user "admin"
// in it, and a token for that user that never expires. token is the value
// to use, given by the caller (hush serve passes HUSH_BOOTSTRAP_TOKEN; it
// must pass auth.ValidateTokenFormat), or "" to generate one. A store whose bootstrap completed, or that has users
// but no "admin", is left alone.
//
// Replicas starting at once on a shared store create at most one admin and
// one token: the store's unique user names let exactly one of them create
// the admin, and the token's ID, derived from the admin's, exactly one
// store the token. A bootstrap
// interrupted after the admin was created (a crash) is finished by the next
// start, which issues the token then; so an admin never stays without one.
func Bootstrap(ctx context.Context, st store.Store, token string, now time.Time) (BootstrapResult, error) {
	if token != "" {
		if err := auth.ValidateTokenFormat(token); err != nil {
			return BootstrapResult{}, fmt.Errorf("bootstrap token: %w", err)
		}
	}
	if v, err := st.GetMeta(ctx, bootstrapMeta); err == nil && string(v) == bootstrapDone {
		return BootstrapResult{}, nil
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return BootstrapResult{}, fmt.Errorf("bootstrap: %w", err)
	}
	users, err := st.ListUsers(ctx)
	if err != nil {
		return BootstrapResult{}, fmt.Errorf("bootstrap: list users: %w", err)
	}
	admins, err := ensureGroup(ctx, st, auth.GroupAdmins, now)
	if err != nil {
		return BootstrapResult{}, err
	}
	var u store.User
	if len(users) == 0 {
		uid, err := newNumericID()
		if err != nil {
			return BootstrapResult{}, err
		}
		u = store.User{ID: uid, UserName: BootstrapUserName, DisplayName: "Administrator", Active: true, CreatedAt: now}
		if err := st.CreateUser(ctx, u); errors.Is(err, store.ErrExists) {
			return BootstrapResult{}, nil // another replica is bootstrapping
		} else if err != nil {
			return BootstrapResult{}, fmt.Errorf("bootstrap: create user %s: %w", BootstrapUserName, err)
		}
	} else {
		// Users exist: only an interrupted bootstrap (an admin without a
		// token, the completion mark missing) is left to finish.
		u, err = st.GetUserByName(ctx, BootstrapUserName)
		if errors.Is(err, store.ErrNotFound) {
			return BootstrapResult{}, markBootstrapped(ctx, st)
		}
		if err != nil {
			return BootstrapResult{}, fmt.Errorf("bootstrap: %w", err)
		}
		toks, err := st.ListTokens(ctx, u.ID)
		if err != nil {
			return BootstrapResult{}, fmt.Errorf("bootstrap: %w", err)
		}
		if len(toks) > 0 {
			return BootstrapResult{}, markBootstrapped(ctx, st)
		}
	}
	if !slices.Contains(admins.Members, u.ID) {
		// Atomically: another replica may be changing the group too.
		_, err := st.EditGroup(ctx, admins.ID, func(g *store.Group) error { g.AddMembers(u.ID); return nil })
		if err != nil {
			return BootstrapResult{}, fmt.Errorf("bootstrap: add %s to %s: %w", BootstrapUserName, auth.GroupAdmins, err)
		}
	}
	if token == "" {
		if token, err = auth.NewToken(); err != nil {
			return BootstrapResult{}, err
		}
	}
	// The token's ID is fixed by the admin's, so of two replicas that both
	// got this far (one creating the admin, the other finding it without a
	// token before the first stored one) exactly one stores it.
	if _, err := storeTokenID(ctx, st, bootstrapTokenID(u.ID), u, u.ID, token, 0, "bootstrap token", now); errors.Is(err, store.ErrExists) {
		return BootstrapResult{}, nil // another replica issued it
	} else if err != nil {
		return BootstrapResult{}, fmt.Errorf("bootstrap: %w", err)
	}
	if err := markBootstrapped(ctx, st); err != nil {
		return BootstrapResult{}, err
	}
	return BootstrapResult{Created: true, Token: token}, nil
}

// bootstrapTokenID is the ID of the bootstrap token of the admin with ID
// uid: derived from it, in the shape of the random IDs of other tokens.
func bootstrapTokenID(uid string) string {
	sum := sha256.Sum256([]byte("hush bootstrap token\x00" + uid))
	return hex.EncodeToString(sum[:])
}

func markBootstrapped(ctx context.Context, st store.Store) error {
	if err := st.PutMeta(ctx, bootstrapMeta, []byte(bootstrapDone)); err != nil {
		return fmt.Errorf("bootstrap: mark done: %w", err)
	}
	return nil
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
