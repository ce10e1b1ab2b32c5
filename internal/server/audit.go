package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hush-secrets/hush/internal/server/store"
	"github.com/hush-secrets/hush/runtime/dbapi"
)

// auditWriter stores audit events before the request that caused them is
// answered, so an answered request always has its audit record, even after
// a crash. It does group commit: each request queues its event and waits,
// and one goroutine stores everything queued at that moment in one
// store.AppendEvents call, so concurrent requests share one durable write
// (on PostgreSQL too, where it beats one parallel commit per request). The
// queue is bounded: when it is full, requests wait (an event is never
// dropped). flush and close wait until everything queued is stored.
//
// It fails closed: record returns an error when the event could not be
// stored, and the request then fails (errAuditUnavailable); failing
// reports whether the last attempt to store events failed, for /healthz.
type auditWriter struct {
	st   store.Store
	log  *slog.Logger
	ch   chan auditItem // feeds run
	done chan struct{}

	failed atomic.Bool // the last append failed

	mu     sync.RWMutex // guards closed against sends on a closed channel
	closed bool
}

// auditItem is an event to store (ev != nil) and/or a channel that gets
// the outcome once it and everything queued before it is handled: nil when
// ev is stored (or for a bare flush), else why it is not.
type auditItem struct {
	ev  *store.Event
	ack chan error // buffered: run never waits on it
}

// errAuditUnavailable is returned by record when the event could not be
// stored; the request that caused it must not be answered with its result.
var errAuditUnavailable = errors.New("audit log unavailable")

func newAuditWriter(st store.Store, log *slog.Logger, queue int) *auditWriter {
	w := &auditWriter{st: st, log: log, ch: make(chan auditItem, queue), done: make(chan struct{})}
	go w.run()
	return w
}

// maxAuditBatch bounds the events written in one batch.
const maxAuditBatch = 512

func (w *auditWriter) run() {
	defer close(w.done)
	batch := make([]store.Event, 0, maxAuditBatch)
	items := make([]auditItem, 0, maxAuditBatch)
	for it := range w.ch {
		batch, items = batch[:0], append(items[:0], it)
	drain: // take whatever else is queued already, without waiting
		for len(items) < maxAuditBatch {
			select {
			case it, ok := <-w.ch:
				if !ok {
					break drain
				}
				items = append(items, it)
			default:
				break drain
			}
		}
		for _, it := range items {
			if it.ev != nil {
				batch = append(batch, *it.ev)
			}
		}
		errs := w.write(batch)
		i := 0
		for _, it := range items {
			var err error
			if it.ev != nil {
				err = errs[i]
				i++
			}
			it.ack <- err
		}
	}
}

// write stores batch and returns one error per event (nil: stored).
func (w *auditWriter) write(batch []store.Event) []error {
	errs := make([]error, len(batch))
	if len(batch) == 0 {
		return errs
	}
	// A fresh context: the requests that caused the events may be gone.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := w.st.AppendEvents(ctx, batch)
	if err == nil {
		w.failed.Store(false)
		return errs
	}
	w.log.LogAttrs(ctx, slog.LevelError, "audit batch append failed; retrying one by one", slog.Int("events", len(batch)), slog.String("error", clipTo(err.Error(), maxLoggedError)))
	ok := false
	for i, ev := range batch {
		errs[i] = w.appendOne(ctx, ev)
		ok = ok || errs[i] == nil
	}
	w.failed.Store(!ok)
	return errs
}

func (w *auditWriter) appendOne(ctx context.Context, ev store.Event) error {
	err := w.st.AppendEvent(ctx, ev)
	if err != nil {
		w.log.LogAttrs(ctx, slog.LevelError, "audit append failed; the request fails",
			slog.String("action", ev.Action), slog.String("actor", clip(ev.Actor)),
			slog.String("scope", clip(ev.Scope)), slog.String("error", clipTo(err.Error(), maxLoggedError)))
	}
	return err
}

// record queues ev and waits until it is stored. It returns an error
// wrapping errAuditUnavailable when the event could not be stored (or the
// writer is closed), and ctx's error when ctx ends first (the event may
// still be stored).
func (w *auditWriter) record(ctx context.Context, ev store.Event) error {
	ack := make(chan error, 1)
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		w.log.Warn("audit event after shutdown, not recorded; the request fails", "action", ev.Action, "actor", clip(ev.Actor), "scope", clip(ev.Scope))
		return fmt.Errorf("%w: shutting down", errAuditUnavailable)
	}
	w.ch <- auditItem{ev: &ev, ack: ack}
	w.mu.RUnlock()
	select {
	case err := <-ack:
		if err != nil {
			return fmt.Errorf("%w: %w", errAuditUnavailable, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("record audit event: %w", ctx.Err())
	}
}

// failing reports whether the last attempt to store audit events failed.
func (w *auditWriter) failing() bool { return w.failed.Load() }

func (w *auditWriter) flush(ctx context.Context) error {
	ack := make(chan error, 1)
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		return nil
	}
	select {
	case w.ch <- auditItem{ack: ack}:
	case <-ctx.Done():
		w.mu.RUnlock()
		return fmt.Errorf("flush audit log: %w", ctx.Err())
	}
	w.mu.RUnlock()
	select {
	case <-ack:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("flush audit log: %w", ctx.Err())
	}
}

func (w *auditWriter) close(ctx context.Context) error {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.ch)
	}
	w.mu.Unlock()
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("close audit log: %w", ctx.Err())
	}
}

// listAudit answers GET /api/2.0/hush/audit (admins only).
func (s *Server) listAudit(r *request) (any, error) {
	if !r.id.IsAdmin() {
		return nil, denied("Only admins can read the audit log")
	}
	q := r.URL.Query()
	f := store.AuditFilter{Scope: q.Get("scope"), Actor: q.Get("actor"), Limit: dbapi.AuditMaxLimit}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return nil, invalidParam("limit must be a positive integer, got %q", v)
		}
		f.Limit = min(n, dbapi.AuditMaxLimit)
	}
	switch v := q.Get("oldest_first"); v {
	case "", "false":
	case "true":
		f.Oldest = true
	default:
		return nil, invalidParam("oldest_first must be true or false, got %q", clip(v))
	}
	if v := q.Get("since"); v != "" {
		t, err := parseSince(v)
		if err != nil {
			return nil, err
		}
		f.Since = t
	}
	if err := s.audit.flush(r.Context()); err != nil {
		return nil, err
	}
	events, err := s.st.ListEvents(r.Context(), f)
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	var resp dbapi.ListAuditResponse
	for _, e := range events {
		resp.Events = append(resp.Events, dbapi.AuditEvent{
			Timestamp: e.Time.UnixMilli(), Actor: e.Actor, Action: e.Action, Scope: e.Scope,
			Key: e.Key, Remote: e.Remote, Allowed: e.Allowed, ErrorCode: e.ErrorCode, Detail: e.Detail,
		})
	}
	return resp, nil
}

func parseSince(v string) (time.Time, error) {
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.UnixMilli(ms), nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, invalidParam("since must be RFC 3339 (2006-01-02T15:04:05Z) or milliseconds since the epoch, got %q", v)
	}
	return t, nil
}
