package server

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
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
type auditWriter struct {
	st   store.Store
	log  *slog.Logger
	ch   chan auditItem // feeds run
	done chan struct{}

	mu     sync.RWMutex // guards closed against sends on a closed channel
	closed bool
}

// auditItem is an event to store (ev != nil) and/or a channel to close
// once it and everything queued before it is stored.
type auditItem struct {
	ev  *store.Event
	ack chan struct{}
}

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
	var acks []chan struct{}
	for it := range w.ch {
		batch, acks = batch[:0], acks[:0]
		add := func(it auditItem) {
			if it.ev != nil {
				batch = append(batch, *it.ev)
			}
			if it.ack != nil {
				acks = append(acks, it.ack)
			}
		}
		add(it)
	drain: // take whatever else is queued already, without waiting
		for len(batch) < maxAuditBatch {
			select {
			case it, ok := <-w.ch:
				if !ok {
					break drain
				}
				add(it)
			default:
				break drain
			}
		}
		w.write(batch)
		for _, a := range acks {
			close(a) // the event, and every one queued before it, is stored
		}
	}
}

func (w *auditWriter) write(batch []store.Event) {
	if len(batch) == 0 {
		return
	}
	// A fresh context: the requests that caused the events may be gone.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.st.AppendEvents(ctx, batch); err != nil {
		w.log.LogAttrs(ctx, slog.LevelError, "audit batch append failed; retrying one by one", slog.Int("events", len(batch)), slog.String("error", err.Error()))
		for _, ev := range batch {
			w.appendOne(ctx, ev)
		}
	}
}

func (w *auditWriter) appendOne(ctx context.Context, ev store.Event) {
	if err := w.st.AppendEvent(ctx, ev); err != nil {
		w.log.LogAttrs(ctx, slog.LevelError, "audit append failed",
			slog.String("action", ev.Action), slog.String("actor", ev.Actor),
			slog.String("scope", ev.Scope), slog.String("error", err.Error()))
	}
}

// record queues ev and waits until it is stored (or ctx ends; the event
// is stored anyway).
func (w *auditWriter) record(ctx context.Context, ev store.Event) {
	ack := make(chan struct{})
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		w.log.Warn("audit event after shutdown, not recorded", "action", ev.Action, "actor", ev.Actor, "scope", ev.Scope)
		return
	}
	w.ch <- auditItem{ev: &ev, ack: ack}
	w.mu.RUnlock()
	select {
	case <-ack:
	case <-ctx.Done():
	}
}

func (w *auditWriter) flush(ctx context.Context) error {
	ack := make(chan struct{})
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
