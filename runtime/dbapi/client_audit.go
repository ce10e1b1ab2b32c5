package dbapi

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// AuditQuery selects audit events; zero fields do not filter.
type AuditQuery struct {
	Scope string
	Actor string
	// Since keeps events at or after this time.
	Since time.Time
	// Limit keeps the newest Limit matching events (the server caps it at
	// AuditMaxLimit).
	Limit int
	// OldestFirst makes Limit keep the oldest Limit events instead, to page
	// forward through the log (hush audit export).
	OldestFirst bool
}

// ListAudit returns the audit events matching q, oldest first (admins only).
func (c *Client) ListAudit(ctx context.Context, q AuditQuery) ([]AuditEvent, error) {
	v := url.Values{}
	if q.Scope != "" {
		v.Set("scope", q.Scope)
	}
	if q.Actor != "" {
		v.Set("actor", q.Actor)
	}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.UTC().Format(time.RFC3339Nano))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.OldestFirst {
		v.Set("oldest_first", "true")
	}
	var out ListAuditResponse
	if err := c.Do(ctx, http.MethodGet, PathAudit, v, nil, &out); err != nil {
		return nil, err
	}
	return out.Events, nil
}
