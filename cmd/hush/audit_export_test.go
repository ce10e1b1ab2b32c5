package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hush-secrets/hush/internal/server/store"
	"github.com/hush-secrets/hush/runtime/dbapi"
)

// Issue 13, item 4: hush audit export prints every audit record as one
// JSON object per line, oldest first, each exactly once, paging through the
// log even when many records share a millisecond at a page boundary.
func TestAuditExport(t *testing.T) {
	srv := serverEnv(t)
	ctx := context.Background()
	// Recent: the server prunes records past the 365-day retention.
	base := time.Now().Add(-time.Hour).Truncate(time.Second).UTC()
	var evs []store.Event
	for i := range 30 {
		ms := time.Duration(i/7) * time.Millisecond // 7 records per millisecond
		evs = append(evs, store.Event{Time: base.Add(ms + time.Duration(i)*time.Microsecond), Actor: "exp@example.com",
			Action: "secrets.get", Scope: "exp", Key: fmt.Sprintf("k%02d", i), Allowed: true})
	}
	if err := srv.Store.AppendEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	client, err := (&apiFlags{}).client()
	if err != nil {
		t.Fatal(err)
	}
	for _, page := range []int{8, 10, 13, 100} {
		var out bytes.Buffer
		n, err := exportAudit(ctx, client, dbapi.AuditQuery{Scope: "exp"}, page, &out)
		if err != nil {
			t.Fatalf("page %d: %v", page, err)
		}
		keys := exportedKeys(t, out.String())
		if n != 30 || len(keys) != 30 {
			t.Fatalf("page %d: exported %d (%d lines), want 30", page, n, len(keys))
		}
		for i, k := range keys {
			if k != fmt.Sprintf("k%02d", i) {
				t.Fatalf("page %d: line %d is %s: records out of order, lost or repeated", page, i, k)
			}
		}
	}
	// A page's worth of records in one millisecond: a clear error, not a loop.
	for _, page := range []int{2, 7} {
		if _, err := exportAudit(ctx, client, dbapi.AuditQuery{Scope: "exp"}, page, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "millisecond") {
			t.Fatalf("page %d with 7 records per millisecond: %v", page, err)
		}
	}

	r := hush(t, nil, "audit", "export", "--scope", "exp", "--since", base.Add(-time.Minute).Format(time.RFC3339)).ok(t)
	if keys := exportedKeys(t, r.stdout); len(keys) != 30 {
		t.Fatalf("hush audit export printed %d records, want 30", len(keys))
	}
}

// exportedKeys decodes JSON lines of audit events and returns their keys.
func exportedKeys(t *testing.T, out string) []string {
	t.Helper()
	var keys []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var e dbapi.AuditEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("not a JSON line: %q: %v", sc.Text(), err)
		}
		if e.Timestamp == 0 || e.Action == "" {
			t.Fatalf("incomplete record: %q", sc.Text())
		}
		keys = append(keys, e.Key)
	}
	return keys
}

// Issue 13, item 4: --audit-retention takes days or a Go duration, 0 or
// "forever" for no pruning; the default is 365 days.
func TestParseAuditRetention(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"365d": 365 * 24 * time.Hour, "30d": 30 * 24 * time.Hour, "720h": 720 * time.Hour,
		"forever": -1, "0": -1, "": 365 * 24 * time.Hour,
	} {
		got, err := parseRetention(in)
		if err != nil || got != want {
			t.Errorf("parseRetention(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"-3d", "yearly", "1.5d", "-1h"} {
		if _, err := parseRetention(in); err == nil {
			t.Errorf("parseRetention(%q) accepted", in)
		}
	}
	r := hush(t, nil, "serve", "--help").ok(t)
	if !strings.Contains(r.stdout, "--audit-retention") || !strings.Contains(r.stdout, "365d") {
		t.Fatalf("hush serve --help lacks --audit-retention 365d:\n%s", r.stdout)
	}
	hush(t, nil, "serve", "--audit-retention", "yearly", "--data", t.TempDir()).fails(t, exitUsage, "--audit-retention")
}
