package server_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/hush-secrets/hush/internal/server/servertest"
	"github.com/hush-secrets/hush/internal/server/store"
	"github.com/hush-secrets/hush/internal/server/store/bolt"
)

// batchingStore wraps a store and counts its AppendEvents calls.
type batchingStore struct {
	store.Store
	batches, events atomic.Int64
}

var _ store.Store = (*batchingStore)(nil)

func (b *batchingStore) AppendEvents(ctx context.Context, evs []store.Event) error {
	b.batches.Add(1)
	b.events.Add(int64(len(evs)))
	for _, e := range evs {
		if err := b.Store.AppendEvent(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

// TestAuditBatches: every event arrives through AppendEvents, in fewer
// calls than events under concurrency.
func TestAuditBatches(t *testing.T) {
	inner, err := bolt.Open(filepath.Join(t.TempDir(), bolt.FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inner.Close() })
	bs := &batchingStore{Store: inner}
	s := servertest.StartWith(t, servertest.Options{Store: bs})
	must(t, call(t, s.URL, "POST", pCreate, s.AdminToken, map[string]any{"scope": "b"}))
	must(t, call(t, s.URL, "POST", pPut, s.AdminToken, map[string]any{"scope": "b", "key": "k", "string_value": "v"}))
	const n = 200
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			for range n / 8 {
				req, _ := http.NewRequest("GET", s.URL+pGet+"?scope=b&key=k", nil)
				req.Header.Set("Authorization", "Bearer "+s.AdminToken)
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					errs <- err
					return
				}
				res.Body.Close()
				if res.StatusCode != 200 {
					errs <- fmt.Errorf("status %d", res.StatusCode)
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Server.FlushAudit(context.Background()); err != nil {
		t.Fatal(err)
	}
	evs, err := inner.ListEvents(context.Background(), store.AuditFilter{Scope: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != n+2 || bs.events.Load() != n+2 {
		t.Fatalf("stored %d events, %d through AppendEvents; want %d", len(evs), bs.events.Load(), n+2)
	}
	t.Logf("%d events in %d batches", bs.events.Load(), bs.batches.Load())
}
