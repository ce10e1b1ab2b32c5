package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"slices"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/hush-secrets/hush/internal/secrets"
	"github.com/hush-secrets/hush/internal/server/store"
)

type eventRec struct {
	Time      time.Time `json:"time"`
	Actor     string    `json:"actor,omitempty"`
	Action    string    `json:"action"`
	Scope     string    `json:"scope,omitempty"`
	Key       string    `json:"key,omitempty"`
	Remote    string    `json:"remote,omitempty"`
	Allowed   bool      `json:"allowed"`
	ErrorCode string    `json:"error_code,omitempty"`
	Detail    string    `json:"detail,omitempty"`
}

// timeKey encodes t so that byte order is time order (the sign bit flipped
// makes negative Unix times sort first).
func timeKey(t time.Time) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(t.UnixMicro())^(1<<63))
}

// AppendEvent implements store.Audit.
func (s *Store) AppendEvent(ctx context.Context, e store.Event) error {
	return s.update(ctx, "append audit event", func(tx *bbolt.Tx) error {
		return appendEvent(tx.Bucket(bAudit), e)
	})
}

// AppendEvents appends events in order in one transaction, so the batch
// costs one fsync and is stored entirely or not at all. The server uses it
// for group commit.
func (s *Store) AppendEvents(ctx context.Context, events []store.Event) error {
	if len(events) == 0 {
		return nil
	}
	return s.update(ctx, "append audit events", func(tx *bbolt.Tx) error {
		b := tx.Bucket(bAudit)
		for _, e := range events {
			if err := appendEvent(b, e); err != nil {
				return err
			}
		}
		return nil
	})
}

// appendEvent stores e under time|sequence, so events of the same
// microsecond keep their append order.
func appendEvent(b *bbolt.Bucket, e store.Event) error {
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	t := ts(e.Time)
	k := binary.BigEndian.AppendUint64(timeKey(t), seq)
	return put(b, k, eventRec{Time: t, Actor: e.Actor, Action: e.Action, Scope: e.Scope, Key: e.Key,
		Remote: e.Remote, Allowed: e.Allowed, ErrorCode: e.ErrorCode, Detail: e.Detail})
}

func (r eventRec) event() store.Event {
	return store.Event{Time: r.Time.UTC(), Actor: r.Actor, Action: r.Action, Scope: r.Scope, Key: r.Key,
		Remote: r.Remote, Allowed: r.Allowed, ErrorCode: r.ErrorCode, Detail: r.Detail}
}

// ListEvents implements store.Audit. Scope compares case-insensitively,
// Actor exactly; Since is inclusive.
func (s *Store) ListEvents(ctx context.Context, f store.AuditFilter) ([]store.Event, error) {
	out := []store.Event{}
	match := func(r eventRec) bool {
		return (f.Scope == "" || secrets.ScopeKey(r.Scope) == secrets.ScopeKey(f.Scope)) &&
			(f.Actor == "" || r.Actor == f.Actor)
	}
	var lo []byte
	if !f.Since.IsZero() {
		lo = timeKey(ts(f.Since))
	}
	err := s.view(ctx, "list audit events", func(tx *bbolt.Tx) error {
		c := tx.Bucket(bAudit).Cursor()
		if f.Limit > 0 && !f.Oldest {
			// Newest first from the end, stop at Limit or at Since, then reverse.
			for k, v := c.Last(); k != nil; k, v = c.Prev() {
				if lo != nil && bytes.Compare(k[:8], lo) < 0 {
					break
				}
				var r eventRec
				if err := json.Unmarshal(v, &r); err != nil {
					return err
				}
				if match(r) {
					out = append(out, r.event())
					if len(out) == f.Limit {
						break
					}
				}
			}
			slices.Reverse(out)
			return nil
		}
		var k, v []byte
		if lo != nil {
			k, v = c.Seek(lo)
		} else {
			k, v = c.First()
		}
		for ; k != nil; k, v = c.Next() {
			var r eventRec
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			if match(r) {
				out = append(out, r.event())
				if len(out) == f.Limit {
					break
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// pruneChunk bounds the events deleted in one transaction, so pruning a
// large log does not hold the write lock for long.
const pruneChunk = 10000

// PruneEvents implements store.Audit, in transactions of pruneChunk events.
func (s *Store) PruneEvents(ctx context.Context, before time.Time) (int, error) {
	hi := timeKey(ts(before))
	total := 0
	for {
		n := 0
		err := s.update(ctx, "prune audit events", func(tx *bbolt.Tx) error {
			c := tx.Bucket(bAudit).Cursor()
			for k, _ := c.First(); k != nil && bytes.Compare(k[:8], hi) < 0 && n < pruneChunk; k, _ = c.First() {
				if err := c.Delete(); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		total += n
		if err != nil {
			return total, err
		}
		if n < pruneChunk {
			return total, nil
		}
	}
}
