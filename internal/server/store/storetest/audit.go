package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hush-secrets/hush/internal/server/store"
)

func testAudit(t *testing.T, s store.Store) {
	l, err := s.ListEvents(ctxBG, store.AuditFilter{})
	must(t, err)
	if l == nil || len(l) != 0 {
		t.Fatalf("ListEvents empty = %#v", l)
	}
	ev := func(sec int, actor, action, sc string) store.Event {
		return store.Event{Time: t0.Add(time.Duration(sec) * time.Second), Actor: actor, Action: action, Scope: sc,
			Key: "k", Remote: "127.0.0.1:1234", Allowed: actor != "", ErrorCode: map[bool]string{true: "", false: "UNAUTHENTICATED"}[actor != ""]}
	}
	// Appended out of time order, and two at the same instant.
	in := []store.Event{
		ev(3, "alice", "secrets.get", "Prod"),
		ev(1, "bob", "secrets.put", "prod"),
		ev(2, "", "secrets.get", "dev"),
		ev(3, "bob", "acls.put", "dev"),
		ev(5, "alice", "secrets.delete", "prod"),
	}
	in[3].Key = "alice"
	for _, e := range in {
		must(t, s.AppendEvent(ctxBG, e))
	}
	desc := func(l []store.Event) []string {
		var out []string
		for _, e := range l {
			out = append(out, fmt.Sprintf("%d/%s/%s/%s", e.Time.Sub(norm(t0))/time.Second, e.Actor, e.Action, e.Scope))
		}
		return out
	}
	l, err = s.ListEvents(ctxBG, store.AuditFilter{})
	must(t, err)
	eq(t, "all events", desc(l), []string{"1/bob/secrets.put/prod", "2//secrets.get/dev", "3/alice/secrets.get/Prod", "3/bob/acls.put/dev", "5/alice/secrets.delete/prod"})
	// Every field round-trips.
	got := l[1]
	sameTime(t, "event Time", got.Time, in[2].Time)
	got.Time = time.Time{}
	want := in[2]
	want.Time = time.Time{}
	if got != want {
		t.Fatalf("event = %+v, want %+v", got, want)
	}
	if l[3].Key != "alice" || !l[3].Allowed {
		t.Fatalf("event = %+v", l[3])
	}

	l, err = s.ListEvents(ctxBG, store.AuditFilter{Scope: "PROD"})
	must(t, err)
	eq(t, "scope filter", desc(l), []string{"1/bob/secrets.put/prod", "3/alice/secrets.get/Prod", "5/alice/secrets.delete/prod"})
	l, err = s.ListEvents(ctxBG, store.AuditFilter{Actor: "alice"})
	must(t, err)
	eq(t, "actor filter", desc(l), []string{"3/alice/secrets.get/Prod", "5/alice/secrets.delete/prod"})
	l, err = s.ListEvents(ctxBG, store.AuditFilter{Actor: "Alice"})
	must(t, err)
	if len(l) != 0 {
		t.Fatalf("actor filter is exact, got %v", desc(l))
	}
	l, err = s.ListEvents(ctxBG, store.AuditFilter{Since: t0.Add(2 * time.Second)})
	must(t, err)
	eq(t, "since filter (inclusive)", desc(l), []string{"2//secrets.get/dev", "3/alice/secrets.get/Prod", "3/bob/acls.put/dev", "5/alice/secrets.delete/prod"})
	l, err = s.ListEvents(ctxBG, store.AuditFilter{Limit: 2})
	must(t, err)
	eq(t, "limit: newest, in time order", desc(l), []string{"3/bob/acls.put/dev", "5/alice/secrets.delete/prod"})
	l, err = s.ListEvents(ctxBG, store.AuditFilter{Scope: "dev", Limit: 1})
	must(t, err)
	eq(t, "scope + limit", desc(l), []string{"3/bob/acls.put/dev"})
	l, err = s.ListEvents(ctxBG, store.AuditFilter{Since: t0.Add(2 * time.Second), Actor: "bob", Limit: 5})
	must(t, err)
	eq(t, "since + actor + limit", desc(l), []string{"3/bob/acls.put/dev"})
	l, err = s.ListEvents(ctxBG, store.AuditFilter{Since: t0.Add(4 * time.Second), Limit: 10})
	must(t, err)
	eq(t, "since + big limit", desc(l), []string{"5/alice/secrets.delete/prod"})
	l, err = s.ListEvents(ctxBG, store.AuditFilter{Since: t0.Add(time.Hour)})
	must(t, err)
	if len(l) != 0 {
		t.Fatalf("since after all = %v", desc(l))
	}
}

// testAuditBatch: AppendEvents stores a batch as single appends in slice
// order would (same ordering, same filters), atomically, and an empty
// batch is a no-op.
func testAuditBatch(t *testing.T, s store.Store) {
	b := s
	must(t, b.AppendEvents(ctxBG, nil))
	must(t, b.AppendEvents(ctxBG, []store.Event{}))
	ev := func(sec int, actor, action, sc string) store.Event {
		return store.Event{Time: t0.Add(time.Duration(sec) * time.Second), Actor: actor, Action: action, Scope: sc,
			Key: "k" + actor, Remote: "10.0.0.1:99", Allowed: actor != "", ErrorCode: map[bool]string{true: "", false: "UNAUTHENTICATED"}[actor != ""]}
	}
	must(t, s.AppendEvent(ctxBG, ev(3, "carol", "secrets.list", "prod")))
	// Out of time order, and several at one instant.
	batch := []store.Event{
		ev(3, "alice", "secrets.get", "Prod"),
		ev(1, "bob", "secrets.put", "prod"),
		ev(3, "", "secrets.get", "dev"),
		ev(3, "bob", "acls.put", "dev"),
		ev(5, "alice", "secrets.delete", "prod"),
	}
	must(t, b.AppendEvents(ctxBG, batch))
	must(t, s.AppendEvent(ctxBG, ev(3, "dave", "secrets.get", "PROD")))
	desc := func(l []store.Event) []string {
		var out []string
		for _, e := range l {
			out = append(out, fmt.Sprintf("%d/%s/%s/%s", e.Time.Sub(norm(t0))/time.Second, e.Actor, e.Action, e.Scope))
		}
		return out
	}
	l, err := s.ListEvents(ctxBG, store.AuditFilter{})
	must(t, err)
	// Same instant: insertion order, the batch in slice order between the single appends.
	eq(t, "all events", desc(l), []string{"1/bob/secrets.put/prod", "3/carol/secrets.list/prod",
		"3/alice/secrets.get/Prod", "3//secrets.get/dev", "3/bob/acls.put/dev", "3/dave/secrets.get/PROD", "5/alice/secrets.delete/prod"})
	got, want := l[3], batch[2]
	sameTime(t, "batched event Time", got.Time, want.Time)
	got.Time, want.Time = time.Time{}, time.Time{}
	if got != want {
		t.Fatalf("batched event = %+v, want %+v", got, want)
	}
	l, err = s.ListEvents(ctxBG, store.AuditFilter{Scope: "prod", Limit: 3})
	must(t, err)
	eq(t, "scope + limit", desc(l), []string{"3/alice/secrets.get/Prod", "3/dave/secrets.get/PROD", "5/alice/secrets.delete/prod"})
	l, err = s.ListEvents(ctxBG, store.AuditFilter{Actor: "bob", Since: t0.Add(2 * time.Second)})
	must(t, err)
	eq(t, "actor + since", desc(l), []string{"3/bob/acls.put/dev"})

	// A canceled context stores nothing of the batch.
	ctx, cancel := context.WithCancel(ctxBG)
	cancel()
	if err := b.AppendEvents(ctx, []store.Event{ev(9, "eve", "secrets.get", "x"), ev(9, "eve", "secrets.put", "x")}); err == nil {
		t.Fatal("AppendEvents with a canceled context succeeded")
	}
	// A batch larger than a server batch, in one call.
	big := make([]store.Event, 1000)
	for i := range big {
		big[i] = store.Event{Time: t0.Add(time.Hour), Actor: fmt.Sprint(i), Action: "secrets.get", Scope: "big", Allowed: true}
	}
	must(t, b.AppendEvents(ctxBG, big))
	l, err = s.ListEvents(ctxBG, store.AuditFilter{Scope: "big"})
	must(t, err)
	if len(l) != len(big) {
		t.Fatalf("big batch: %d events stored, want %d", len(l), len(big))
	}
	for i, e := range l {
		if e.Actor != fmt.Sprint(i) {
			t.Fatalf("big batch: event %d is actor %q, want %d (slice order)", i, e.Actor, i)
		}
	}
	l, err = s.ListEvents(ctxBG, store.AuditFilter{Actor: "eve"})
	must(t, err)
	if len(l) != 0 {
		t.Fatalf("canceled batch left events: %v", desc(l))
	}
}
