// Package auth authenticates hush serve's callers and decides what they may
// do. Callers present a personal access token (PAT) shaped like a Databricks
// one ("dapi" followed by hex digits); the server keeps only its SHA-256
// hash, looks the token up by that hash and compares in constant time. An
// Identity is the token's user with the names of its groups; the secret ACL
// decision takes the highest permission granted to any of those names.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hush-secrets/hush/internal/secrets"
	"github.com/hush-secrets/hush/internal/server/store"
)

// Built-in principals. GroupUsers is implicit: every user is a member and it
// is never stored. GroupAdmins is a real group whose members administer the
// server and hold MANAGE on every scope.
const (
	GroupUsers  = "users"
	GroupAdmins = store.AdminGroup
)

// TokenPrefix starts every token hush issues, as on Databricks.
const TokenPrefix = "dapi"

// tokenRandomBytes is the entropy of a generated token: 16 bytes give the 32
// hex digits of a Databricks PAT.
const tokenRandomBytes = 16

// ErrUnauthenticated means the request carries no usable credentials: no
// token, a malformed, unknown, expired or revoked one, or one of an inactive
// user. The error text never contains the token.
var ErrUnauthenticated = errors.New("unauthenticated")

// NewToken returns a fresh random token value: "dapi" and 32 hex digits.
func NewToken() (string, error) {
	b := make([]byte, tokenRandomBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate token: %w", err)
	}
	return TokenPrefix + hex.EncodeToString(b), nil
}

// TokenFormatRule says what a token hush accepts as a bootstrap token
// looks like, for help texts and errors.
const TokenFormatRule = `a token is "dapi" followed by 32 to 64 lower-case hex digits (0-9, a-f), optionally with "-" and digits at the end, like dapi0123456789abcdef0123456789abcdef`

// ValidateTokenFormat checks that tok looks like a PAT hush accepts as a
// bootstrap token (see TokenFormatRule): "dapi", 32 to 64 lower-case hex
// digits, and optionally a Databricks-style "-N" ending. The error states
// the rule and what is wrong, and never repeats the token.
func ValidateTokenFormat(tok string) error {
	bad := func(problem string) error { return fmt.Errorf("%s; this one %s", TokenFormatRule, problem) }
	rest, ok := strings.CutPrefix(tok, TokenPrefix)
	if !ok {
		return bad(`does not start with "dapi"`)
	}
	n := 0
	for n < len(rest) && strings.IndexByte("0123456789abcdef", rest[n]) >= 0 {
		n++
	}
	hexDigits, tail := rest[:n], rest[n:]
	if len(hexDigits) < 32 || len(hexDigits) > 64 {
		return bad(fmt.Sprintf(`has %d lower-case hex digits after "dapi"`, len(hexDigits)))
	}
	if tail == "" {
		return nil
	}
	if digits, ok := strings.CutPrefix(tail, "-"); ok && digits != "" && strings.Trim(digits, "0123456789") == "" {
		return nil
	}
	return bad("has other characters after the hex digits")
}

// HashToken returns the SHA-256 of a token value, the only form in which a
// token is stored.
func HashToken(tok string) []byte {
	h := sha256.Sum256([]byte(tok))
	return h[:]
}

// Identity is an authenticated caller.
type Identity struct {
	User store.User
	// Groups are the names of the stored groups the user is a member of
	// (not including the implicit GroupUsers).
	Groups []string
	// TokenID is the token the request was authenticated with.
	TokenID string
}

// IsAdmin reports whether the caller is a member of GroupAdmins.
func (id Identity) IsAdmin() bool { return slices.Contains(id.Groups, GroupAdmins) }

// Principals returns every principal name the caller acts as: its user name,
// its groups and GroupUsers.
func (id Identity) Principals() []string {
	p := make([]string, 0, len(id.Groups)+2)
	p = append(p, id.User.UserName)
	p = append(p, id.Groups...)
	return append(p, GroupUsers)
}

// Effective returns the caller's permission on a scope with the given ACLs:
// the highest level granted to any of its principals; MANAGE for admins.
func Effective(id Identity, acls []secrets.ACL) secrets.Permission {
	if id.IsAdmin() {
		return secrets.Manage
	}
	best := secrets.NoPermission
	for _, a := range acls {
		if a.Permission > best && id.actsAs(a.Principal) {
			best = a.Permission
		}
	}
	return best
}

func (id Identity) actsAs(principal string) bool {
	return principal == GroupUsers || principal == id.User.UserName || slices.Contains(id.Groups, principal)
}

// Authenticator resolves tokens to identities against a store.
type Authenticator struct {
	store store.Store
	now   func() time.Time
}

// NewAuthenticator returns an Authenticator over st; now is the clock used
// for expiry (nil: time.Now).
func NewAuthenticator(st store.Store, now func() time.Time) *Authenticator {
	if now == nil {
		now = time.Now
	}
	return &Authenticator{store: st, now: now}
}

// BearerToken extracts the token from an Authorization header value
// ("Bearer <token>", scheme case-insensitive). It returns "" when there is none.
func BearerToken(header string) string {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// BasicUser is the only user name hush accepts with HTTP Basic
// authentication, as Databricks does: the password is then a PAT.
const BasicUser = "token"

// HeaderToken extracts the token from an Authorization header value:
// "Bearer <token>", or HTTP Basic with the user name BasicUser and the token
// as the password (what curl -n with a .netrc, or curl -u token:$PAT,
// sends; Databricks has always accepted it). It returns "" when there is none.
func HeaderToken(header string) string {
	if tok := BearerToken(header); tok != "" {
		return tok
	}
	scheme, cred, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return ""
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	if err != nil {
		return ""
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok || user != BasicUser {
		return ""
	}
	return pass
}

// Authenticate returns the identity owning tok. Unknown, expired or revoked
// tokens and inactive users give ErrUnauthenticated; store failures are
// returned wrapped (they are not the caller's fault).
func (a *Authenticator) Authenticate(ctx context.Context, tok string) (Identity, error) {
	if tok == "" {
		return Identity{}, fmt.Errorf("%w: no token", ErrUnauthenticated)
	}
	hash := HashToken(tok)
	t, err := a.store.TokenByHash(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return Identity{}, fmt.Errorf("%w: invalid access token", ErrUnauthenticated)
	}
	if err != nil {
		return Identity{}, fmt.Errorf("look up token: %w", err)
	}
	if subtle.ConstantTimeCompare(hash, t.Hash) != 1 {
		return Identity{}, fmt.Errorf("%w: invalid access token", ErrUnauthenticated)
	}
	if !t.ExpiresAt.IsZero() && !a.now().Before(t.ExpiresAt) {
		return Identity{}, fmt.Errorf("%w: token expired", ErrUnauthenticated)
	}
	u, err := a.store.GetUser(ctx, t.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return Identity{}, fmt.Errorf("%w: the token's user no longer exists", ErrUnauthenticated)
	}
	if err != nil {
		return Identity{}, fmt.Errorf("look up token owner: %w", err)
	}
	if !u.Active {
		return Identity{}, fmt.Errorf("%w: user %s is deactivated", ErrUnauthenticated, u.UserName)
	}
	id, err := a.IdentityOf(ctx, u)
	if err != nil {
		return Identity{}, err
	}
	id.TokenID = t.ID
	return id, nil
}

// IdentityOf returns the identity of user u with its group names.
func (a *Authenticator) IdentityOf(ctx context.Context, u store.User) (Identity, error) {
	groups, err := a.store.GroupsOf(ctx, u.ID)
	if err != nil {
		return Identity{}, fmt.Errorf("look up groups of %s: %w", u.UserName, err)
	}
	id := Identity{User: u, Groups: make([]string, 0, len(groups))}
	for _, g := range groups {
		id.Groups = append(id.Groups, g.DisplayName)
	}
	slices.Sort(id.Groups)
	return id, nil
}
