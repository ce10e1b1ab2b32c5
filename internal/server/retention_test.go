package server_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hush-secrets/hush/internal/server"
	"github.com/hush-secrets/hush/internal/server/servertest"
	"github.com/hush-secrets/hush/internal/server/store"
)

// Issue 13, item 4: audit records are kept for the retention period
// (365 days by default) and pruned after it; newer ones stay.
func TestAuditRetentionPrunes(t *testing.T) {
	var clock atomic.Int64
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock.Store(start.UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	s := servertest.StartWith(t, servertest.Options{Now: now})
	must(t, call(t, s.URL, "POST", pCreate, s.AdminToken, map[string]any{"scope": "old"}))
	clock.Store(start.Add(100 * 24 * time.Hour).UnixNano())
	must(t, call(t, s.URL, "POST", pCreate, s.AdminToken, map[string]any{"scope": "newer"}))
	ctx := context.Background()
	if err := s.Server.FlushAudit(ctx); err != nil {
		t.Fatal(err)
	}
	count := func(scope string) int {
		evs, err := s.Store.ListEvents(ctx, store.AuditFilter{Scope: scope})
		if err != nil {
			t.Fatal(err)
		}
		return len(evs)
	}
	clock.Store(start.Add(server.DefaultAuditRetention - time.Hour).UnixNano())
	if n, err := s.Server.PruneAudit(ctx); err != nil || n != 0 || count("old") != 1 {
		t.Fatalf("before the retention period: pruned %d (%v), %d old records left", n, err, count("old"))
	}
	clock.Store(start.Add(server.DefaultAuditRetention + time.Hour).UnixNano())
	if n, err := s.Server.PruneAudit(ctx); err != nil || n != 1 {
		t.Fatalf("after the retention period: pruned %d, %v; want 1", n, err)
	}
	if count("old") != 0 || count("newer") != 1 {
		t.Fatalf("after pruning: %d old and %d newer records", count("old"), count("newer"))
	}
	if server.DefaultAuditRetention != 365*24*time.Hour {
		t.Fatalf("default retention %v, want 365 days", server.DefaultAuditRetention)
	}
}
