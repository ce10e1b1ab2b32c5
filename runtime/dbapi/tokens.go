package dbapi

// Paths of the Token API and of token management.
const (
	PathTokenCreate = "/api/2.0/token/create"
	PathTokenList   = "/api/2.0/token/list"
	PathTokenDelete = "/api/2.0/token/delete"
	// PathTokenOBO creates a token on behalf of another user (admins only).
	PathTokenOBO = "/api/2.0/token-management/on-behalf-of/tokens"
	// PathTokenManagement lists every token (admins only); append "/{token_id}"
	// to get or delete one.
	PathTokenManagement = "/api/2.0/token-management/tokens"
)

// CreateTokenRequest is the body of POST /api/2.0/token/create.
// LifetimeSeconds <= 0 means the token never expires.
type CreateTokenRequest struct {
	LifetimeSeconds int64  `json:"lifetime_seconds,omitempty"`
	Comment         string `json:"comment,omitempty"`
}

// PublicTokenInfo describes a token without its value. Times are
// milliseconds since the Unix epoch; ExpiryTime is -1 for a token that never
// expires.
type PublicTokenInfo struct {
	TokenID      string `json:"token_id"`
	CreationTime int64  `json:"creation_time"`
	ExpiryTime   int64  `json:"expiry_time"`
	Comment      string `json:"comment,omitempty"`
}

// CreateTokenResponse answers POST /api/2.0/token/create. TokenValue is the
// only time the token is ever shown.
type CreateTokenResponse struct {
	TokenValue string          `json:"token_value"`
	TokenInfo  PublicTokenInfo `json:"token_info"`
}

// ListTokensResponse answers GET /api/2.0/token/list.
type ListTokensResponse struct {
	TokenInfos []PublicTokenInfo `json:"token_infos,omitempty"`
}

// RevokeTokenRequest is the body of POST /api/2.0/token/delete.
type RevokeTokenRequest struct {
	TokenID string `json:"token_id"`
}

// CreateOBOTokenRequest is the body of POST
// /api/2.0/token-management/on-behalf-of/tokens. ApplicationID names the
// user (by user name) the token is for.
type CreateOBOTokenRequest struct {
	ApplicationID   string `json:"application_id"`
	LifetimeSeconds int64  `json:"lifetime_seconds,omitempty"`
	Comment         string `json:"comment,omitempty"`
}

// TokenInfo describes a token in token management. OwnerID and CreatedByID
// are the numeric user IDs, as on Databricks.
type TokenInfo struct {
	TokenID           string `json:"token_id"`
	CreationTime      int64  `json:"creation_time"`
	ExpiryTime        int64  `json:"expiry_time"`
	Comment           string `json:"comment,omitempty"`
	OwnerID           int64  `json:"owner_id,omitempty"`
	CreatedByID       int64  `json:"created_by_id,omitempty"`
	CreatedByUsername string `json:"created_by_username,omitempty"`
}

// CreateOBOTokenResponse answers the on-behalf-of token creation.
type CreateOBOTokenResponse struct {
	TokenValue string    `json:"token_value"`
	TokenInfo  TokenInfo `json:"token_info"`
}

// ListTokenManagementResponse answers GET /api/2.0/token-management/tokens
// (query parameters created_by_id and created_by_username filter it).
type ListTokenManagementResponse struct {
	TokenInfos []TokenInfo `json:"token_infos,omitempty"`
}

// GetTokenResponse answers GET /api/2.0/token-management/tokens/{token_id}.
type GetTokenResponse struct {
	TokenInfo TokenInfo `json:"token_info"`
}
