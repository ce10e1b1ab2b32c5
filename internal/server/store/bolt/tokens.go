package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/hush-secrets/hush/internal/server/store"
)

type tokenRec struct {
	ID        string    `json:"id"`
	UserID    string    `json:"user_id"`
	Hash      []byte    `json:"hash"`
	Comment   string    `json:"comment,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	CreatedBy string    `json:"created_by,omitempty"`
}

func (r tokenRec) token() store.Token {
	return store.Token{ID: r.ID, UserID: r.UserID, Hash: r.Hash, Comment: r.Comment,
		CreatedAt: r.CreatedAt.UTC(), ExpiresAt: ts(r.ExpiresAt), CreatedBy: r.CreatedBy}
}

// CreateToken implements store.Tokens.
func (s *Store) CreateToken(ctx context.Context, t store.Token) error {
	return s.CreateTokenLimit(ctx, t, 0)
}

// CreateTokenLimit implements store.Tokens: bolt transactions are
// serialised, so the count and the insert are atomic.
func (s *Store) CreateTokenLimit(ctx context.Context, t store.Token, maxPerUser int) error {
	return s.update(ctx, "create token", func(tx *bbolt.Tx) error {
		if maxPerUser > 0 {
			n, err := liveTokens(tx, t.UserID, t.CreatedAt)
			if err != nil {
				return err
			}
			if n >= maxPerUser {
				return fmt.Errorf("user %q holds %d tokens: %w", t.UserID, n, store.ErrLimit)
			}
		}
		if t.ID == "" || len(t.Hash) == 0 {
			return errors.New("token id and hash must not be empty")
		}
		tokens, byHash := tx.Bucket(bTokens), tx.Bucket(bTokensByH)
		if tokens.Get([]byte(t.ID)) != nil {
			return fmt.Errorf("token id %q: %w", t.ID, store.ErrExists)
		}
		if byHash.Get(t.Hash) != nil {
			return fmt.Errorf("token hash: %w", store.ErrExists)
		}
		rec := tokenRec{ID: t.ID, UserID: t.UserID, Hash: bytes.Clone(t.Hash), Comment: t.Comment,
			CreatedAt: ts(t.CreatedAt), ExpiresAt: ts(t.ExpiresAt), CreatedBy: t.CreatedBy}
		if err := put(tokens, []byte(t.ID), rec); err != nil {
			return err
		}
		return byHash.Put(t.Hash, []byte(t.ID))
	})
}

func getToken(tx *bbolt.Tx, id string) (tokenRec, error) {
	var rec tokenRec
	ok, err := get(tx.Bucket(bTokens), []byte(id), &rec)
	if err == nil && !ok {
		err = fmt.Errorf("token id %q: %w", id, store.ErrNotFound)
	}
	return rec, err
}

// TokenByHash implements store.Tokens.
func (s *Store) TokenByHash(ctx context.Context, hash []byte) (store.Token, error) {
	var rec tokenRec
	err := s.view(ctx, "token by hash", func(tx *bbolt.Tx) (err error) {
		if len(hash) == 0 {
			return fmt.Errorf("empty token hash: %w", store.ErrNotFound)
		}
		id := tx.Bucket(bTokensByH).Get(hash)
		if id == nil {
			return fmt.Errorf("token: %w", store.ErrNotFound)
		}
		rec, err = getToken(tx, string(id))
		return err
	})
	if err != nil {
		return store.Token{}, err
	}
	return rec.token(), nil
}

// GetToken implements store.Tokens.
func (s *Store) GetToken(ctx context.Context, id string) (store.Token, error) {
	var rec tokenRec
	err := s.view(ctx, "get token", func(tx *bbolt.Tx) (err error) {
		rec, err = getToken(tx, id)
		return err
	})
	if err != nil {
		return store.Token{}, err
	}
	return rec.token(), nil
}

// ListTokens implements store.Tokens, ordered by creation time, then ID.
func (s *Store) ListTokens(ctx context.Context, userID string) ([]store.Token, error) {
	out := []store.Token{}
	err := s.view(ctx, "list tokens", func(tx *bbolt.Tx) error {
		return tx.Bucket(bTokens).ForEach(func(_, v []byte) error {
			var rec tokenRec
			if err := json.Unmarshal(v, &rec); err != nil {
				return err
			}
			if userID == "" || rec.UserID == userID {
				out = append(out, rec.token())
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(out, func(a, b store.Token) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// DeleteToken implements store.Tokens.
func (s *Store) DeleteToken(ctx context.Context, id string) error {
	return s.update(ctx, "delete token", func(tx *bbolt.Tx) error {
		rec, err := getToken(tx, id)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bTokens).Delete([]byte(id)); err != nil {
			return err
		}
		return tx.Bucket(bTokensByH).Delete(rec.Hash)
	})
}

// liveTokens counts the tokens of userID not expired at now.
func liveTokens(tx *bbolt.Tx, userID string, now time.Time) (int, error) {
	n := 0
	err := tx.Bucket(bTokens).ForEach(func(_, v []byte) error {
		var rec tokenRec
		if err := json.Unmarshal(v, &rec); err != nil {
			return err
		}
		if rec.UserID == userID && (rec.ExpiresAt.IsZero() || rec.ExpiresAt.After(now)) {
			n++
		}
		return nil
	})
	return n, err
}
