// Package store defines where hush serve keeps its state: scopes, sealed
// secret values, ACLs, users, groups, token hashes, the audit log and the
// wrapped data key. Two implementations, store/bolt (one embedded file, the
// default) and store/postgres (shared by many replicas), pass the one
// conformance suite in store/storetest.
//
// A Store never sees a plaintext value or a plaintext token: values arrive
// sealed (internal/server/seal) and tokens as hashes. Every method is safe for
// concurrent use, and every write is durable when it returns nil.
package store

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/hush-secrets/hush/internal/secrets"
)

// Errors every implementation returns (possibly wrapped), so callers can
// map them to API answers with errors.Is.
var (
	// ErrNotFound: the scope, secret, ACL, user, group or token does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists: a scope, user or group of that name already exists.
	ErrExists = errors.New("already exists")
	// ErrLimit: the write would exceed the limit passed to it.
	ErrLimit = errors.New("limit exceeded")
	// ErrLastAdmin: the write would leave the group AdminGroup, which had
	// an active member, without one, and so nobody could administer the
	// server again. Every identity write checks it in its transaction.
	ErrLastAdmin = errors.New("the admins group would be left without an active member")
	// ErrNoPrincipal: GrantACL names no user, service principal or group.
	ErrNoPrincipal = errors.New("no such principal")
)

// AllUsersGroup is the built-in group every user is implicitly in; it is
// never stored, but ACLs may name it.
const AllUsersGroup = "users"

// AdminGroup is the name of the built-in group whose members administer the
// server. The stores keep it from losing its last active member (ErrLastAdmin).
const AdminGroup = "admins"

// Store is everything hush serve persists.
type Store interface {
	Scopes
	Identities
	Tokens
	Audit
	Meta
	// Close releases the store's resources. It does not block on in-flight
	// calls beyond what the underlying database requires.
	Close() error
}

// Secret is a sealed secret value as stored.
type Secret struct {
	Scope string // canonical scope name (secrets.ScopeKey)
	Key   string
	// Sealed is the value encrypted by internal/server/seal with the scope and key as
	// associated data; the store treats it as opaque bytes.
	Sealed    []byte
	UpdatedAt time.Time
}

// Scopes keeps scopes, their secrets and their ACLs. Scope arguments are
// names in any case: implementations compare them by secrets.ScopeKey and
// return the name as created.
type Scopes interface {
	// CreateScope creates sc with the initial ACLs, atomically. It fails with
	// ErrExists if a scope of that name (in any case) exists, and ErrLimit if
	// maxScopes scopes exist already (maxScopes <= 0: no limit). Two replicas
	// racing must not both succeed nor exceed the limit.
	CreateScope(ctx context.Context, sc secrets.Scope, acls []secrets.ACL, maxScopes int) error
	// GetScope returns the scope or ErrNotFound.
	GetScope(ctx context.Context, name string) (secrets.Scope, error)
	// ListScopes returns every scope, ordered by canonical name.
	ListScopes(ctx context.Context) ([]secrets.Scope, error)
	// DeleteScope removes the scope with all of its secrets and ACLs, atomically, or returns ErrNotFound.
	DeleteScope(ctx context.Context, name string) error

	// PutSecret creates or overwrites s. ErrNotFound if the scope does not
	// exist; ErrLimit if it would create a secret in a scope that already has
	// maxSecrets (maxSecrets <= 0: no limit). Overwriting never hits the limit.
	PutSecret(ctx context.Context, s Secret, maxSecrets int) error
	// GetSecret returns the sealed secret, or ErrNotFound for a missing scope or key.
	GetSecret(ctx context.Context, scope, key string) (Secret, error)
	// ListSecrets returns the scope's secrets without values, ordered by key,
	// or ErrNotFound for a missing scope.
	ListSecrets(ctx context.Context, scope string) ([]secrets.SecretMeta, error)
	// DeleteSecret removes one secret, or returns ErrNotFound.
	DeleteSecret(ctx context.Context, scope, key string) error

	// PutACL creates or overwrites the principal's ACL on the scope (ErrNotFound: no scope).
	PutACL(ctx context.Context, scope string, acl secrets.ACL) error
	// GrantACL is PutACL for a principal that must exist: unless
	// acl.Principal is AllUsersGroup or AdminGroup, it fails with
	// ErrNoPrincipal when no user or group has that name, checked in the
	// write's transaction, so an ACL is never granted to a principal being
	// deleted at the same time (and then inherited by a namesake).
	GrantACL(ctx context.Context, scope string, acl secrets.ACL) error
	// GetACL returns the principal's ACL, or ErrNotFound for a missing scope or ACL.
	GetACL(ctx context.Context, scope, principal string) (secrets.ACL, error)
	// ListACLs returns the scope's ACLs ordered by principal (ErrNotFound: no scope).
	ListACLs(ctx context.Context, scope string) ([]secrets.ACL, error)
	// DeleteACL removes the principal's ACL, or returns ErrNotFound.
	DeleteACL(ctx context.Context, scope, principal string) error
}

// User is a person or service that holds tokens. Admins are the members of
// the built-in group "admins"; everyone is implicitly in "users".
type User struct {
	ID          string // assigned by the caller (server), unique
	UserName    string // e-mail-like, unique, case-sensitive as given
	DisplayName string
	Active      bool
	CreatedAt   time.Time
	// ServicePrincipal marks a service principal (SCIM ServicePrincipals):
	// its UserName is its application ID, a UUID, which is also the name
	// its ACLs and on-behalf-of tokens use, as on Databricks.
	ServicePrincipal bool
}

// Group is a named set of users. Members holds user IDs.
type Group struct {
	ID          string
	DisplayName string // unique
	Members     []string
	CreatedAt   time.Time
}

// Identities keeps users and groups.
//
// User and group names share one namespace, since both are ACL principals:
// creating or renaming a user to a group's name, or a group to a user's,
// fails with ErrExists. Every write that would take the group AdminGroup
// from at least one active member to none fails with ErrLastAdmin.
// Writes that change a user or group from its current state go through
// EditUser and EditGroup, which read, change and write in one transaction,
// so concurrent changes never undo each other.
type Identities interface {
	// CreateUser stores u; ErrExists if u.ID or u.UserName is taken (by a
	// user or a group).
	CreateUser(ctx context.Context, u User) error
	GetUser(ctx context.Context, id string) (User, error)
	GetUserByName(ctx context.Context, userName string) (User, error)
	// ListUsers returns every user ordered by user name.
	ListUsers(ctx context.Context) ([]User, error)
	// UpdateUser overwrites the user with u.ID (ErrNotFound, or ErrExists if
	// the new user name is taken by another user or a group).
	UpdateUser(ctx context.Context, u User) error
	// EditUser applies edit to the user with id as stored, and stores the
	// result, in one transaction; it returns the user as stored. edit must
	// only change its argument (it runs inside the store's transaction and
	// may run more than once); its error aborts the write and is returned
	// wrapped. Errors as UpdateUser's.
	EditUser(ctx context.Context, id string, edit func(u *User) error) (User, error)
	// DeleteUser removes the user, its tokens, its group memberships and
	// the ACLs naming its user name, atomically, and returns how many ACLs
	// it removed.
	DeleteUser(ctx context.Context, id string) (aclsDeleted int, err error)

	// CreateGroup stores g; ErrExists if g.ID or g.DisplayName is taken (by
	// a group or a user).
	CreateGroup(ctx context.Context, g Group) error
	GetGroup(ctx context.Context, id string) (Group, error)
	GetGroupByName(ctx context.Context, displayName string) (Group, error)
	// ListGroups returns every group ordered by display name.
	ListGroups(ctx context.Context) ([]Group, error)
	// UpdateGroup overwrites the group with g.ID (name and members).
	UpdateGroup(ctx context.Context, g Group) error
	// EditGroup applies edit to the group with id as stored, and stores the
	// result, in one transaction; it returns the group as stored. As with
	// EditUser, edit must only change its argument. Errors as UpdateGroup's.
	EditGroup(ctx context.Context, id string, edit func(g *Group) error) (Group, error)
	// DeleteGroup removes the group and the ACLs naming it, atomically, and
	// returns how many ACLs it removed.
	DeleteGroup(ctx context.Context, id string) (aclsDeleted int, err error)
	// GroupsOf returns the groups that list userID as a member.
	GroupsOf(ctx context.Context, userID string) ([]Group, error)
}

// Token is a personal access token as stored: only the hash of its value.
type Token struct {
	ID        string
	UserID    string // owner
	Hash      []byte // SHA-256 of the token value
	Comment   string
	CreatedAt time.Time
	// ExpiresAt is the zero time for a token that never expires.
	ExpiresAt time.Time
	// CreatedBy is the user ID of whoever created it (the owner, or an admin on its behalf).
	CreatedBy string
}

// Tokens keeps token hashes.
type Tokens interface {
	// CreateToken stores t; ErrExists if its ID or hash is taken.
	CreateToken(ctx context.Context, t Token) error
	// CreateTokenLimit is CreateToken, refusing with ErrLimit when t's user
	// holds maxPerUser unexpired tokens already (unexpired at t.CreatedAt;
	// maxPerUser <= 0: no limit). Two replicas racing must not exceed it.
	CreateTokenLimit(ctx context.Context, t Token, maxPerUser int) error
	// TokenByHash returns the token whose hash is hash, or ErrNotFound.
	// Implementations look it up by index; callers compare in constant time.
	TokenByHash(ctx context.Context, hash []byte) (Token, error)
	GetToken(ctx context.Context, id string) (Token, error)
	// ListTokens returns the tokens of userID, or of everyone when userID is "", ordered by creation.
	ListTokens(ctx context.Context, userID string) ([]Token, error)
	// DeleteToken revokes a token: ErrNotFound if it does not exist.
	DeleteToken(ctx context.Context, id string) error
}

// Event is one audit record: who did what to which scope and key, from
// where, and whether it was allowed. It never holds a value or a token.
type Event struct {
	Time      time.Time
	Actor     string // user name, or "" when unauthenticated
	Action    string // e.g. "secrets.get", "secrets.put", "acls.put"
	Scope     string
	Key       string // secret key, or ACL principal for ACL actions
	Remote    string // client address
	Allowed   bool
	ErrorCode string // the API error code when not allowed or failed
	// Detail says more about what an allowed action did, such as how many
	// ACLs deleting a user removed ("" for most actions).
	Detail string
}

// AuditFilter selects events; zero fields select everything.
type AuditFilter struct {
	Scope string
	Actor string
	Since time.Time
	// Limit caps the number of events returned, newest last (0: no cap).
	Limit int
	// Oldest makes Limit select the oldest Limit events rather than the
	// newest, so that a reader can page forward through the log.
	Oldest bool
}

// Audit is the append-only audit log.
type Audit interface {
	AppendEvent(ctx context.Context, e Event) error
	// AppendEvents appends events in slice order in one durable write: all
	// of them are stored or none. The server stores the events of
	// concurrent requests through it (group commit), so a burst of requests
	// costs one commit.
	AppendEvents(ctx context.Context, events []Event) error
	// ListEvents returns matching events in time order; with Limit, the
	// newest Limit of them (the oldest with Oldest).
	ListEvents(ctx context.Context, f AuditFilter) ([]Event, error)
	// PruneEvents deletes the events older than before (audit retention)
	// and returns how many it deleted.
	PruneEvents(ctx context.Context, before time.Time) (int, error)
}

// Meta keeps small named blobs of server state, such as the wrapped data key.
type Meta interface {
	// InitMeta stores value under name unless a value is there already, and
	// returns the value now stored. Two replicas racing agree on one value.
	InitMeta(ctx context.Context, name string, value []byte) ([]byte, error)
	// GetMeta returns the value or ErrNotFound.
	GetMeta(ctx context.Context, name string) ([]byte, error)
	// PutMeta overwrites the value (used to re-wrap the data key).
	PutMeta(ctx context.Context, name string, value []byte) error
}

// AddMembers adds the user IDs that are not members yet, in order; for use
// in an EditGroup edit.
func (g *Group) AddMembers(ids ...string) {
	for _, id := range ids {
		if !slices.Contains(g.Members, id) {
			g.Members = append(g.Members, id)
		}
	}
}

// RemoveMembers removes the user IDs from the members; for use in an
// EditGroup edit.
func (g *Group) RemoveMembers(ids ...string) {
	g.Members = slices.DeleteFunc(g.Members, func(m string) bool { return slices.Contains(ids, m) })
}
