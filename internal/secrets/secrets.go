// Package secrets holds the domain types of hush's secret system: scopes,
// secret metadata, ACL permissions and the naming rules that the server, the
// stores, the client runtime and the CLI all agree on.
//
// It depends on nothing else in hush, so every other package can use it.
package secrets

import (
	"fmt"
	"strings"
	"time"
)

// MaxNameLength is the longest scope, key or principal name accepted.
const MaxNameLength = 128

// MaxValueBytes is the largest secret value accepted (128 KiB), as on Databricks.
const MaxValueBytes = 128 << 10

// Default limits of a workspace, as on Databricks; the server makes them configurable.
const (
	DefaultMaxScopes          = 1000
	DefaultMaxSecretsPerScope = 1000
)

// Permission is a secret ACL level. Levels are ordered: READ < WRITE < MANAGE,
// and a principal holding a level holds every level below it.
type Permission int

// The permission levels. NoPermission is the zero value: no access at all.
const (
	NoPermission Permission = iota
	Read
	Write
	Manage
)

// String returns the wire spelling of p ("READ", "WRITE", "MANAGE"), or "" for NoPermission.
func (p Permission) String() string {
	switch p {
	case Read:
		return "READ"
	case Write:
		return "WRITE"
	case Manage:
		return "MANAGE"
	}
	return ""
}

// ParsePermission parses the wire spelling of a permission. It is exact, as
// the Databricks API is: "read" is not a permission.
func ParsePermission(s string) (Permission, error) {
	switch s {
	case "READ":
		return Read, nil
	case "WRITE":
		return Write, nil
	case "MANAGE":
		return Manage, nil
	}
	return NoPermission, fmt.Errorf("invalid permission %q: must be one of READ, WRITE, MANAGE", s)
}

// BackendType says where a scope's values live.
type BackendType string

// The scope backends. Databricks is hush's own encrypted store (the name is
// the wire value the Databricks API uses for it). Files is a read-only scope
// backed by a directory of files, one file per key, the Kubernetes/Docker
// secret-mount convention; it is hush's counterpart of Key Vault-backed scopes.
const (
	BackendDatabricks BackendType = "DATABRICKS"
	BackendFiles      BackendType = "FILES"
)

// Scope is a named collection of secrets with its own ACL.
type Scope struct {
	// Name is the name as created; scope names compare case-insensitively (see ScopeKey).
	Name    string
	Backend BackendType
	// FilesPath is, for a Files scope, the directory relative to the server's
	// configured files root. Empty otherwise.
	FilesPath string
	CreatedAt time.Time
}

// ReadOnly reports whether writes to the scope are refused (BAD_REQUEST on the wire).
func (s Scope) ReadOnly() bool { return s.Backend == BackendFiles }

// SecretMeta is what listing a scope tells about one secret: never its value.
type SecretMeta struct {
	Key       string
	UpdatedAt time.Time
}

// ACL grants Permission on a scope to Principal (a user name or a group name).
type ACL struct {
	Principal  string
	Permission Permission
}

// ScopeKey returns the canonical form of a scope name, under which stores
// index it: scope names are case-insensitive, keys and principals are not.
func ScopeKey(name string) string { return strings.ToLower(name) }

// ValidateName checks a scope or secret key name: 1 to 128 characters drawn
// from ASCII letters, digits, '-', '_', '.' and '@'. what names the thing
// ("scope", "key") in the error, which is meant for the user.
func ValidateName(what, name string) error {
	if name == "" {
		return fmt.Errorf("%s name must not be empty", what)
	}
	if len(name) > MaxNameLength {
		return fmt.Errorf("%s name must be at most %d characters long, got %d", what, MaxNameLength, len(name))
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '-', c == '_', c == '.', c == '@':
		default:
			return fmt.Errorf("%s name %q must consist of alphanumeric characters, dashes, underscores, periods and at signs", what, name)
		}
	}
	return nil
}
