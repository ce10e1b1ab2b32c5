package dbapi

import (
	"context"
	"net/http"
	"net/url"
)

// CreateToken creates a personal access token for the caller. lifetimeSeconds
// <= 0 makes a token that never expires. The returned TokenValue is shown
// only this once.
func (c *Client) CreateToken(ctx context.Context, lifetimeSeconds int64, comment string) (CreateTokenResponse, error) {
	var out CreateTokenResponse
	err := c.Do(ctx, http.MethodPost, PathTokenCreate, nil, CreateTokenRequest{LifetimeSeconds: max(lifetimeSeconds, 0), Comment: comment}, &out)
	return out, err
}

// ListTokens lists the caller's tokens (never their values).
func (c *Client) ListTokens(ctx context.Context) ([]PublicTokenInfo, error) {
	var out ListTokensResponse
	if err := c.Do(ctx, http.MethodGet, PathTokenList, nil, nil, &out); err != nil {
		return nil, err
	}
	return out.TokenInfos, nil
}

// RevokeToken revokes one of the caller's tokens by ID.
func (c *Client) RevokeToken(ctx context.Context, tokenID string) error {
	return c.Do(ctx, http.MethodPost, PathTokenDelete, nil, RevokeTokenRequest{TokenID: tokenID}, nil)
}

// ListAllTokens lists every user's tokens (admins only), optionally only
// those created by the named user.
func (c *Client) ListAllTokens(ctx context.Context, createdByUsername string) ([]TokenInfo, error) {
	var q url.Values
	if createdByUsername != "" {
		q = url.Values{"created_by_username": {createdByUsername}}
	}
	var out ListTokenManagementResponse
	if err := c.Do(ctx, http.MethodGet, PathTokenManagement, q, nil, &out); err != nil {
		return nil, err
	}
	return out.TokenInfos, nil
}

// GetAnyToken returns any user's token by ID (admins only).
func (c *Client) GetAnyToken(ctx context.Context, tokenID string) (TokenInfo, error) {
	var out GetTokenResponse
	err := c.Do(ctx, http.MethodGet, PathTokenManagement+"/"+url.PathEscape(tokenID), nil, nil, &out)
	return out.TokenInfo, err
}

// DeleteAnyToken revokes any user's token by ID (admins only).
func (c *Client) DeleteAnyToken(ctx context.Context, tokenID string) error {
	return c.Do(ctx, http.MethodDelete, PathTokenManagement+"/"+url.PathEscape(tokenID), nil, nil, nil)
}

// CreateOBOToken creates a token on behalf of the user named userName
// (admins only).
func (c *Client) CreateOBOToken(ctx context.Context, userName string, lifetimeSeconds int64, comment string) (CreateOBOTokenResponse, error) {
	var out CreateOBOTokenResponse
	err := c.Do(ctx, http.MethodPost, PathTokenOBO, nil, CreateOBOTokenRequest{ApplicationID: userName, LifetimeSeconds: max(lifetimeSeconds, 0), Comment: comment}, &out)
	return out, err
}
