package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hush-secrets/hush/internal/server/store"
)

const tokenCols = `id, user_id, hash, comment, created_at, expires_at, created_by`

func scanToken(row pgx.Row) (store.Token, error) {
	var t store.Token
	var created, expires *time.Time
	if err := row.Scan(&t.ID, &t.UserID, &t.Hash, &t.Comment, &created, &expires, &t.CreatedBy); err != nil {
		return store.Token{}, err
	}
	t.CreatedAt, t.ExpiresAt = fromDB(created), fromDB(expires)
	return t, nil
}

// CreateToken implements store.Tokens.
func (s *Store) CreateToken(ctx context.Context, t store.Token) error {
	if t.ID == "" || len(t.Hash) == 0 {
		return errors.New("create token: id and hash must not be empty")
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO tokens (`+tokenCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		t.ID, t.UserID, t.Hash, t.Comment, ts(t.CreatedAt), ts(t.ExpiresAt), t.CreatedBy)
	if isCode(err, uniqueViolation) {
		return fmt.Errorf("create token id %q (or its hash): %w", t.ID, store.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("create token id %q: %w", t.ID, err)
	}
	return nil
}

// CreateTokenLimit implements store.Tokens. Creations for one user are
// serialised by an advisory lock on the user, so the limit holds across
// replicas.
func (s *Store) CreateTokenLimit(ctx context.Context, t store.Token, maxPerUser int) error {
	if maxPerUser <= 0 {
		return s.CreateToken(ctx, t)
	}
	if t.ID == "" || len(t.Hash) == 0 {
		return errors.New("create token: id and hash must not be empty")
	}
	return s.tx(ctx, "create token", func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(`+lockKey+`)`, "hush/tokens/"+t.UserID); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM tokens WHERE user_id = $1 AND (expires_at IS NULL OR expires_at > $2)`,
			t.UserID, ts(t.CreatedAt)).Scan(&n); err != nil {
			return err
		}
		if n >= maxPerUser {
			return fmt.Errorf("user %q holds %d tokens: %w", t.UserID, n, store.ErrLimit)
		}
		_, err := tx.Exec(ctx, `INSERT INTO tokens (`+tokenCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			t.ID, t.UserID, t.Hash, t.Comment, ts(t.CreatedAt), ts(t.ExpiresAt), t.CreatedBy)
		if isCode(err, uniqueViolation) {
			return fmt.Errorf("token id %q (or its hash): %w", t.ID, store.ErrExists)
		}
		return err
	})
}

// TokenByHash implements store.Tokens.
func (s *Store) TokenByHash(ctx context.Context, hash []byte) (store.Token, error) {
	if len(hash) == 0 {
		return store.Token{}, fmt.Errorf("token by hash: empty hash: %w", store.ErrNotFound)
	}
	t, err := scanToken(s.pool.QueryRow(ctx, `SELECT `+tokenCols+` FROM tokens WHERE hash = $1`, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Token{}, fmt.Errorf("token by hash: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Token{}, fmt.Errorf("token by hash: %w", err)
	}
	return t, nil
}

// GetToken implements store.Tokens.
func (s *Store) GetToken(ctx context.Context, id string) (store.Token, error) {
	t, err := scanToken(s.pool.QueryRow(ctx, `SELECT `+tokenCols+` FROM tokens WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Token{}, fmt.Errorf("get token id %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Token{}, fmt.Errorf("get token id %q: %w", id, err)
	}
	return t, nil
}

// ListTokens implements store.Tokens, ordered by creation time, then ID.
func (s *Store) ListTokens(ctx context.Context, userID string) ([]store.Token, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+tokenCols+` FROM tokens WHERE $1 = '' OR user_id = $1
		ORDER BY created_at NULLS FIRST, id`, userID)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Token, error) { return scanToken(r) })
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return nonNil(out), nil
}

// DeleteToken implements store.Tokens.
func (s *Store) DeleteToken(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM tokens WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("delete token id %q: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete token id %q: %w", id, store.ErrNotFound)
	}
	return nil
}
