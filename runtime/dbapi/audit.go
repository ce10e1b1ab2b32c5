package dbapi

// PathAudit lists audit events (a hush extension, admins only). Query
// parameters: scope, actor, since (RFC 3339 or milliseconds since the epoch),
// limit (the newest N matching events; default and maximum AuditMaxLimit)
// and oldest_first=true (limit keeps the oldest N instead, for paging).
const PathAudit = "/api/2.0/hush/audit"

// AuditMaxLimit is the most events one audit request returns.
const AuditMaxLimit = 10000

// AuditEvent is one audit record on the wire. It never holds a value or a token.
type AuditEvent struct {
	// Timestamp is milliseconds since the Unix epoch.
	Timestamp int64  `json:"timestamp"`
	Actor     string `json:"actor"`
	// Action is one of "scopes.create", "scopes.delete", "secrets.put",
	// "secrets.get", "secrets.delete", "acls.put", "acls.delete",
	// "users.delete", "groups.delete".
	Action string `json:"action"`
	Scope  string `json:"scope,omitempty"`
	// Key is the secret key, or the principal for ACL actions and deletions
	// of users and groups.
	Key       string `json:"key,omitempty"`
	Remote    string `json:"remote,omitempty"`
	Allowed   bool   `json:"allowed"`
	ErrorCode string `json:"error_code,omitempty"`
	// Detail says more about what the action did, such as how many ACLs the
	// deletion of a user or group removed with it ("2 ACLs deleted").
	Detail string `json:"detail,omitempty"`
}

// ListAuditResponse answers GET /api/2.0/hush/audit, oldest first.
type ListAuditResponse struct {
	Events []AuditEvent `json:"events,omitempty"`
}

// WellKnownConfig answers GET /.well-known/databricks-config.
type WellKnownConfig struct {
	// OIDCEndpoint is where a Databricks workspace serves OIDC; hush has no
	// OIDC endpoint, so it leaves it empty and the field is omitted.
	OIDCEndpoint string `json:"oidc_endpoint,omitempty"`
	WorkspaceID  string `json:"workspace_id"`
}

// PathWellKnownConfig is the unauthenticated host metadata endpoint newer
// Databricks SDKs and CLIs query.
const PathWellKnownConfig = "/.well-known/databricks-config"
