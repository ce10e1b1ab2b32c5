package server

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/hush-secrets/hush/internal/server/auth"
	"github.com/hush-secrets/hush/internal/server/store"
	"github.com/hush-secrets/hush/runtime/dbapi"
)

// MaxTokensPerUser is the most tokens one user may hold, as on Databricks
// (600): beyond it, creating one is RESOURCE_LIMIT_EXCEEDED.
const MaxTokensPerUser = 600

// MaxTokenCommentBytes bounds a token's comment, so that no caller can
// grow the store through comments.
const MaxTokenCommentBytes = 1000

// maxLifetimeSeconds bounds lifetime_seconds so that expiry times stay representable.
const maxLifetimeSeconds = 100 * 365 * 24 * 3600

// newTokenID returns a random token ID: 64 hex digits, as on Databricks.
func newTokenID() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate token id: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// newNumericID returns a random 16-digit decimal ID, the shape of Databricks
// user and group IDs (the SDK decodes owner IDs as int64).
func newNumericID() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate id: %w", err)
	}
	n := binary.BigEndian.Uint64(b[:])%9_000_000_000_000_000 + 1_000_000_000_000_000
	return strconv.FormatUint(n, 10), nil
}

// IssueToken creates a token for user u (created by createdBy, a user ID)
// and returns its value, shown once, with what was stored. lifetime <= 0
// never expires.
func IssueToken(ctx context.Context, st store.Store, u store.User, createdBy string, lifetime time.Duration, comment string, now time.Time) (string, store.Token, error) {
	value, err := auth.NewToken()
	if err != nil {
		return "", store.Token{}, err
	}
	t, err := storeToken(ctx, st, u, createdBy, value, lifetime, comment, now)
	return value, t, err
}

func storeToken(ctx context.Context, st store.Store, u store.User, createdBy, value string, lifetime time.Duration, comment string, now time.Time) (store.Token, error) {
	id, err := newTokenID()
	if err != nil {
		return store.Token{}, err
	}
	return storeTokenID(ctx, st, id, u, createdBy, value, lifetime, comment, now)
}

// storeTokenID is storeToken with the token's ID given; the error wraps
// store.ErrExists when a token with that ID (or value) is already stored,
// and store.ErrLimit when the user holds MaxTokensPerUser tokens already.
func storeTokenID(ctx context.Context, st store.Store, id string, u store.User, createdBy, value string, lifetime time.Duration, comment string, now time.Time) (store.Token, error) {
	t := store.Token{ID: id, UserID: u.ID, Hash: auth.HashToken(value), Comment: comment, CreatedAt: now, CreatedBy: createdBy}
	if lifetime > 0 {
		t.ExpiresAt = now.Add(lifetime)
	}
	if err := st.CreateTokenLimit(ctx, t, MaxTokensPerUser); err != nil {
		return store.Token{}, fmt.Errorf("store token for %s: %w", u.UserName, err)
	}
	return t, nil
}

func expiryMillis(t store.Token) int64 {
	if t.ExpiresAt.IsZero() {
		return -1
	}
	return t.ExpiresAt.UnixMilli()
}

func publicInfo(t store.Token) dbapi.PublicTokenInfo {
	return dbapi.PublicTokenInfo{TokenID: t.ID, CreationTime: t.CreatedAt.UnixMilli(), ExpiryTime: expiryMillis(t), Comment: t.Comment}
}

func numericID(id string) int64 {
	n, _ := strconv.ParseInt(id, 10, 64)
	return n
}

func (s *Server) tokenInfo(ctx context.Context, t store.Token) dbapi.TokenInfo {
	info := dbapi.TokenInfo{
		TokenID: t.ID, CreationTime: t.CreatedAt.UnixMilli(), ExpiryTime: expiryMillis(t), Comment: t.Comment,
		OwnerID: numericID(t.UserID), CreatedByID: numericID(t.CreatedBy),
	}
	if u, err := s.st.GetUser(ctx, t.CreatedBy); err == nil {
		info.CreatedByUsername = u.UserName
	}
	return info
}

// checkComment bounds a token's comment.
func checkComment(c string) error {
	if len(c) > MaxTokenCommentBytes {
		return invalidParam("comment must be at most %d bytes long, got %d.", MaxTokenCommentBytes, len(c))
	}
	return nil
}

// issueError maps the errors of IssueToken to answers.
func issueError(u store.User, err error) error {
	if errors.Is(err, store.ErrLimit) {
		return errf(http.StatusBadRequest, dbapi.CodeResourceLimitExceeded, "User %s already holds %d tokens, the limit; revoke some first.", u.UserName, MaxTokensPerUser)
	}
	return err
}

func lifetime(sec int64) (time.Duration, error) {
	if sec > maxLifetimeSeconds {
		return 0, invalidParam("lifetime_seconds must be at most %d", maxLifetimeSeconds)
	}
	if sec <= 0 {
		return 0, nil
	}
	return time.Duration(min(sec, math.MaxInt64/int64(time.Second))) * time.Second, nil
}

func (s *Server) createToken(r *request) (any, error) {
	var req dbapi.CreateTokenRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if err := checkComment(req.Comment); err != nil {
		return nil, err
	}
	life, err := lifetime(req.LifetimeSeconds)
	if err != nil {
		return nil, err
	}
	value, t, err := IssueToken(r.Context(), s.st, r.id.User, r.id.User.ID, life, req.Comment, s.now())
	if err != nil {
		return nil, issueError(r.id.User, err)
	}
	return dbapi.CreateTokenResponse{TokenValue: value, TokenInfo: publicInfo(t)}, nil
}

func (s *Server) listTokens(r *request) (any, error) {
	toks, err := s.st.ListTokens(r.Context(), r.id.User.ID)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	var resp dbapi.ListTokensResponse
	for _, t := range toks {
		resp.TokenInfos = append(resp.TokenInfos, publicInfo(t))
	}
	return resp, nil
}

func tokenNotFound(id string) *apiError {
	return notFound("Token with ID %s does not exist.", id)
}

func (s *Server) deleteToken(r *request) (any, error) {
	var req dbapi.RevokeTokenRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if err := required("token_id", req.TokenID); err != nil {
		return nil, err
	}
	t, err := s.st.GetToken(r.Context(), req.TokenID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && t.UserID != r.id.User.ID) {
		return nil, tokenNotFound(req.TokenID)
	}
	if err != nil {
		return nil, fmt.Errorf("get token: %w", err)
	}
	if err := s.st.DeleteToken(r.Context(), t.ID); errors.Is(err, store.ErrNotFound) {
		return nil, tokenNotFound(req.TokenID)
	} else if err != nil {
		return nil, fmt.Errorf("delete token: %w", err)
	}
	return dbapi.Empty{}, nil
}

func requireAdmin(r *request) error {
	if !r.id.IsAdmin() {
		return denied("Only admins can access token management APIs.")
	}
	return nil
}

func (s *Server) createOBOToken(r *request) (any, error) {
	if err := requireAdmin(r); err != nil {
		return nil, err
	}
	var req dbapi.CreateOBOTokenRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if err := required("application_id", req.ApplicationID); err != nil {
		return nil, err
	}
	if err := checkComment(req.Comment); err != nil {
		return nil, err
	}
	life, err := lifetime(req.LifetimeSeconds)
	if err != nil {
		return nil, err
	}
	u, err := s.st.GetUserByName(r.Context(), req.ApplicationID)
	if errors.Is(err, store.ErrNotFound) {
		u, err = s.st.GetUser(r.Context(), req.ApplicationID)
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, invalidParam("User %s does not exist.", req.ApplicationID)
	}
	if err != nil {
		return nil, fmt.Errorf("look up user: %w", err)
	}
	value, t, err := IssueToken(r.Context(), s.st, u, r.id.User.ID, life, req.Comment, s.now())
	if err != nil {
		return nil, issueError(u, err)
	}
	return dbapi.CreateOBOTokenResponse{TokenValue: value, TokenInfo: s.tokenInfo(r.Context(), t)}, nil
}

func (s *Server) listAllTokens(r *request) (any, error) {
	if err := requireAdmin(r); err != nil {
		return nil, err
	}
	// created_by_username and created_by_id select the tokens created by a
	// user (for their own use or on behalf of someone else), as on Databricks.
	q := r.URL.Query()
	byID := q.Get("created_by_id")
	if name := q.Get("created_by_username"); name != "" {
		u, err := s.st.GetUserByName(r.Context(), name)
		if errors.Is(err, store.ErrNotFound) {
			return dbapi.ListTokenManagementResponse{}, nil
		}
		if err != nil {
			return nil, fmt.Errorf("look up user: %w", err)
		}
		if byID != "" && byID != u.ID {
			return dbapi.ListTokenManagementResponse{}, nil
		}
		byID = u.ID
	}
	toks, err := s.st.ListTokens(r.Context(), "")
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	var resp dbapi.ListTokenManagementResponse
	for _, t := range toks {
		if byID != "" && t.CreatedBy != byID {
			continue
		}
		resp.TokenInfos = append(resp.TokenInfos, s.tokenInfo(r.Context(), t))
	}
	return resp, nil
}

func (s *Server) getAnyToken(r *request) (any, error) {
	if err := requireAdmin(r); err != nil {
		return nil, err
	}
	id := r.PathValue("id")
	t, err := s.st.GetToken(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, tokenNotFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("get token: %w", err)
	}
	return dbapi.GetTokenResponse{TokenInfo: s.tokenInfo(r.Context(), t)}, nil
}

func (s *Server) deleteAnyToken(r *request) (any, error) {
	if err := requireAdmin(r); err != nil {
		return nil, err
	}
	id := r.PathValue("id")
	if err := s.st.DeleteToken(r.Context(), id); errors.Is(err, store.ErrNotFound) {
		return nil, tokenNotFound(id)
	} else if err != nil {
		return nil, fmt.Errorf("delete token: %w", err)
	}
	return dbapi.Empty{}, nil
}

// NewID returns a new random user or group ID in Databricks' shape (16
// decimal digits), for callers that create identities directly in a store.
func NewID() (string, error) { return newNumericID() }
