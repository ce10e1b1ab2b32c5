// Package dbapi holds the wire types of the Databricks REST APIs that hush
// speaks (Secrets API 2.0, Token API, token management, the SCIM subset) and
// a client for them. The server encodes exactly these types and the client
// decodes them, so one definition keeps both sides wire-compatible with
// Databricks and with each other.
package dbapi

// Paths of the Secrets API 2.0.
const (
	PathScopesCreate = "/api/2.0/secrets/scopes/create"
	PathScopesDelete = "/api/2.0/secrets/scopes/delete"
	PathScopesList   = "/api/2.0/secrets/scopes/list"
	PathSecretsPut   = "/api/2.0/secrets/put"
	PathSecretsDel   = "/api/2.0/secrets/delete"
	PathSecretsList  = "/api/2.0/secrets/list"
	PathSecretsGet   = "/api/2.0/secrets/get"
	PathACLsPut      = "/api/2.0/secrets/acls/put"
	PathACLsDelete   = "/api/2.0/secrets/acls/delete"
	PathACLsGet      = "/api/2.0/secrets/acls/get"
	PathACLsList     = "/api/2.0/secrets/acls/list"
)

// CreateScopeRequest is the body of POST /api/2.0/secrets/scopes/create.
type CreateScopeRequest struct {
	Scope                  string `json:"scope"`
	InitialManagePrincipal string `json:"initial_manage_principal,omitempty"`
	// ScopeBackendType is "DATABRICKS" (default) or hush's "FILES".
	ScopeBackendType     string                 `json:"scope_backend_type,omitempty"`
	BackendAzureKeyvault *AzureKeyVaultMetadata `json:"backend_azure_keyvault,omitempty"`
	// BackendFiles is hush's extension for read-only directory-backed scopes.
	BackendFiles *FilesMetadata `json:"backend_files,omitempty"`
}

// AzureKeyVaultMetadata is accepted for wire compatibility; hush has no Key
// Vault backend and answers such requests with INVALID_PARAMETER_VALUE.
type AzureKeyVaultMetadata struct {
	ResourceID string `json:"resource_id"`
	DNSName    string `json:"dns_name"`
}

// FilesMetadata names the directory, relative to the server's files root,
// behind a FILES scope.
type FilesMetadata struct {
	Path string `json:"path"`
}

// DeleteScopeRequest is the body of POST /api/2.0/secrets/scopes/delete.
type DeleteScopeRequest struct {
	Scope string `json:"scope"`
}

// SecretScope is one entry of ListScopesResponse.
type SecretScope struct {
	Name        string         `json:"name"`
	BackendType string         `json:"backend_type"`
	Files       *FilesMetadata `json:"backend_files,omitempty"`
}

// ListScopesResponse answers GET /api/2.0/secrets/scopes/list. Like
// Databricks, an empty list is sent as {} (the field is omitted).
type ListScopesResponse struct {
	Scopes []SecretScope `json:"scopes,omitempty"`
}

// PutSecretRequest is the body of POST /api/2.0/secrets/put. Exactly one of
// StringValue and BytesValue (standard base64) is given; pointers tell an
// absent field from an empty value.
type PutSecretRequest struct {
	Scope       string  `json:"scope"`
	Key         string  `json:"key"`
	StringValue *string `json:"string_value,omitempty"`
	BytesValue  *string `json:"bytes_value,omitempty"`
}

// DeleteSecretRequest is the body of POST /api/2.0/secrets/delete.
type DeleteSecretRequest struct {
	Scope string `json:"scope"`
	Key   string `json:"key"`
}

// SecretMetadata is one entry of ListSecretsResponse.
type SecretMetadata struct {
	Key string `json:"key"`
	// LastUpdatedTimestamp is milliseconds since the Unix epoch, a JSON number.
	LastUpdatedTimestamp int64 `json:"last_updated_timestamp"`
}

// ListSecretsResponse answers GET /api/2.0/secrets/list?scope=S.
type ListSecretsResponse struct {
	Secrets []SecretMetadata `json:"secrets,omitempty"`
}

// GetSecretResponse answers GET /api/2.0/secrets/get?scope=S&key=K. Value is
// the standard base64 of the value's bytes.
type GetSecretResponse struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// PutACLRequest is the body of POST /api/2.0/secrets/acls/put.
type PutACLRequest struct {
	Scope      string `json:"scope"`
	Principal  string `json:"principal"`
	Permission string `json:"permission"`
}

// DeleteACLRequest is the body of POST /api/2.0/secrets/acls/delete.
type DeleteACLRequest struct {
	Scope     string `json:"scope"`
	Principal string `json:"principal"`
}

// ACLItem answers GET /api/2.0/secrets/acls/get and is one entry of ListACLsResponse.
type ACLItem struct {
	Principal  string `json:"principal"`
	Permission string `json:"permission"`
}

// ListACLsResponse answers GET /api/2.0/secrets/acls/list?scope=S.
type ListACLsResponse struct {
	Items []ACLItem `json:"items,omitempty"`
}

// Empty is the body of every successful POST of the Secrets API: {}.
type Empty struct{}
