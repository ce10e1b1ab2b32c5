package storetest

import (
	"testing"
	"time"

	"github.com/hush-secrets/hush/internal/server/store"
)

// testAuditRetention: PruneEvents deletes exactly the events older than
// its argument, and Oldest pages forward through what is left.
func testAuditRetention(t *testing.T, s store.Store) {
	var evs []store.Event
	for i := range 7 {
		evs = append(evs, store.Event{Time: t0.Add(time.Duration(i) * time.Hour), Actor: "a", Action: "secrets.get", Scope: "s", Key: string(rune('a' + i)), Allowed: true})
	}
	must(t, s.AppendEvents(ctxBG, evs))
	n, err := s.PruneEvents(ctxBG, t0.Add(2*time.Hour)) // the events at t0 and t0+1h
	must(t, err)
	if n != 2 {
		t.Fatalf("PruneEvents deleted %d events, want 2", n)
	}
	n, err = s.PruneEvents(ctxBG, t0.Add(2*time.Hour))
	must(t, err)
	if n != 0 {
		t.Fatalf("PruneEvents again deleted %d events, want 0", n)
	}
	keys := func(l []store.Event) (out []string) {
		for _, e := range l {
			out = append(out, e.Key)
		}
		return out
	}
	all, err := s.ListEvents(ctxBG, store.AuditFilter{})
	must(t, err)
	eq(t, "events after pruning", keys(all), []string{"c", "d", "e", "f", "g"})
	first, err := s.ListEvents(ctxBG, store.AuditFilter{Limit: 2, Oldest: true})
	must(t, err)
	eq(t, "oldest 2", keys(first), []string{"c", "d"})
	next, err := s.ListEvents(ctxBG, store.AuditFilter{Limit: 2, Oldest: true, Since: first[1].Time.Add(time.Microsecond)})
	must(t, err)
	eq(t, "next oldest 2", keys(next), []string{"e", "f"})
	newest, err := s.ListEvents(ctxBG, store.AuditFilter{Limit: 2})
	must(t, err)
	eq(t, "newest 2", keys(newest), []string{"f", "g"})
}
