package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hush-secrets/hush/internal/secrets"
	"github.com/hush-secrets/hush/internal/server/store"
)

// AppendEvent implements store.Audit.
func (s *Store) AppendEvent(ctx context.Context, e store.Event) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO audit_events (at, actor, action, scope, scope_key, key, remote, allowed, error_code, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		ts(e.Time), e.Actor, e.Action, e.Scope, secrets.ScopeKey(e.Scope), e.Key, e.Remote, e.Allowed, e.ErrorCode, e.Detail)
	if err != nil {
		return fmt.Errorf("append audit event: %w", err)
	}
	return nil
}

// AppendEvents appends events in one INSERT statement (one round trip,
// one commit): the batch is stored entirely or not at all, and seq follows
// the slice order (PostgreSQL evaluates the volatile nextval default after
// the ORDER BY). The server uses it for group commit.
func (s *Store) AppendEvents(ctx context.Context, events []store.Event) error {
	if len(events) == 0 {
		return nil
	}
	n := len(events)
	at := make([]*time.Time, n)
	actor, action, scope, scopeKey := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	key, remote, code, detail := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	allowed := make([]bool, n)
	for i, e := range events {
		if !e.Time.IsZero() {
			t := e.Time.Truncate(time.Microsecond).UTC()
			at[i] = &t
		}
		actor[i], action[i], scope[i], scopeKey[i] = e.Actor, e.Action, e.Scope, secrets.ScopeKey(e.Scope)
		key[i], remote[i], allowed[i], code[i] = e.Key, e.Remote, e.Allowed, e.ErrorCode
		detail[i] = e.Detail
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO audit_events (at, actor, action, scope, scope_key, key, remote, allowed, error_code, detail)
		SELECT at, actor, action, scope, scope_key, key, remote, allowed, error_code, detail
		FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::boolean[], $9::text[], $10::text[])
			WITH ORDINALITY AS e(at, actor, action, scope, scope_key, key, remote, allowed, error_code, detail, ord)
		ORDER BY ord`,
		at, actor, action, scope, scopeKey, key, remote, allowed, code, detail)
	if err != nil {
		return fmt.Errorf("append %d audit events: %w", n, err)
	}
	return nil
}

// ListEvents implements store.Audit. Scope compares case-insensitively,
// Actor exactly; Since is inclusive.
func (s *Store) ListEvents(ctx context.Context, f store.AuditFilter) ([]store.Event, error) {
	where := `($1 = '' OR scope_key = $1) AND ($2 = '' OR actor = $2) AND ($3::timestamptz IS NULL OR at >= $3)`
	args := []any{secrets.ScopeKey(f.Scope), f.Actor, ts(f.Since)}
	q := `SELECT at, actor, action, scope, key, remote, allowed, error_code, detail FROM audit_events WHERE ` + where +
		` ORDER BY at NULLS FIRST, seq`
	switch {
	case f.Limit > 0 && f.Oldest:
		q += ` LIMIT $4`
		args = append(args, f.Limit)
	case f.Limit > 0:
		q = `SELECT at, actor, action, scope, key, remote, allowed, error_code, detail FROM (
			SELECT * FROM audit_events WHERE ` + where + ` ORDER BY at DESC NULLS LAST, seq DESC LIMIT $4
		) newest ORDER BY at NULLS FIRST, seq`
		args = append(args, f.Limit)
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Event, error) {
		var e store.Event
		var at *time.Time
		err := r.Scan(&at, &e.Actor, &e.Action, &e.Scope, &e.Key, &e.Remote, &e.Allowed, &e.ErrorCode, &e.Detail)
		e.Time = fromDB(at)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	return nonNil(out), nil
}

// PruneEvents implements store.Audit.
func (s *Store) PruneEvents(ctx context.Context, before time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM audit_events WHERE at < $1`, ts(before))
	if err != nil {
		return 0, fmt.Errorf("prune audit events: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
