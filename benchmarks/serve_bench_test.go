package benchmarks

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hush-secrets/hush/internal/server/servertest"
	"github.com/hush-secrets/hush/internal/server/store/postgres"
	"github.com/hush-secrets/hush/internal/server/store/storetest"
)

// Load benchmark of hush serve (issue 3): GET /api/2.0/secrets/get by 64
// concurrent clients over loopback, against a scope of 1,000 secrets, as a
// user holding READ through an ACL (so authentication, group lookup, the ACL
// decision, the store read, the unseal and the audit record are all on the
// path). One op is one request. Reported: req/s, and p50/p99 latency in ms.

const (
	serveClients = 64
	serveSecrets = 1000
)

func BenchmarkServeGet(b *testing.B) {
	b.Run("store=bolt", func(b *testing.B) {
		benchServeGet(b, servertest.StartWith(b, servertest.Options{}))
	})
	b.Run("store=postgres", func(b *testing.B) {
		dsn := storetest.PostgresSchema(b)
		st, err := postgres.Open(context.Background(), dsn)
		if err != nil {
			b.Fatalf("open postgres store: %v", err)
		}
		b.Cleanup(func() { _ = st.Close() })
		benchServeGet(b, servertest.StartWith(b, servertest.Options{Store: st}))
	})
}

func benchServeGet(b *testing.B, s *servertest.Server) {
	reader := s.CreateUser(b, "reader@example.com")
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: serveClients, MaxIdleConnsPerHost: serveClients}}
	do := func(method, path, token, body string) {
		req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			b.Fatalf("%s %s: %d", method, path, res.StatusCode)
		}
	}
	do("POST", "/api/2.0/secrets/scopes/create", s.AdminToken, `{"scope":"bench"}`)
	do("POST", "/api/2.0/secrets/acls/put", s.AdminToken, `{"scope":"bench","principal":"reader@example.com","permission":"READ"}`)
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < serveSecrets; i = next.Add(1) - 1 {
				do("POST", "/api/2.0/secrets/put", s.AdminToken, fmt.Sprintf(`{"scope":"bench","key":"key-%04d","string_value":"value-%04d-%s"}`, i, i, "sk_live_0123456789abcdefABCDEF"))
			}
		}()
	}
	wg.Wait()
	paths := make([]string, serveSecrets)
	for i := range paths {
		paths[i] = fmt.Sprintf("/api/2.0/secrets/get?scope=bench&key=key-%04d", i)
	}

	b.Run("clients=64", func(b *testing.B) {
		lat := make([][]time.Duration, serveClients)
		var ops atomic.Int64
		var failed atomic.Value
		b.ResetTimer()
		start := time.Now()
		var wg sync.WaitGroup
		for c := range serveClients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := ops.Add(1) - 1
					if i >= int64(b.N) {
						return
					}
					req, _ := http.NewRequest("GET", s.URL+paths[(int(i)*7919+c)%serveSecrets], nil)
					req.Header.Set("Authorization", "Bearer "+reader.Token)
					t0 := time.Now()
					res, err := client.Do(req)
					if err == nil {
						_, _ = io.Copy(io.Discard, res.Body)
						res.Body.Close()
						if res.StatusCode != 200 {
							err = fmt.Errorf("status %d", res.StatusCode)
						}
					}
					lat[c] = append(lat[c], time.Since(t0))
					if err != nil {
						failed.Store(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		elapsed := time.Since(start)
		b.StopTimer()
		if err, _ := failed.Load().(error); err != nil {
			b.Fatalf("request failed: %v", err)
		}
		all := slices.Concat(lat...)
		slices.Sort(all)
		pct := func(p float64) float64 {
			return float64(all[min(len(all)-1, int(p*float64(len(all))))].Microseconds()) / 1000
		}
		b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
		b.ReportMetric(pct(0.50), "p50-ms")
		b.ReportMetric(pct(0.99), "p99-ms")
		// Let the audit writer catch up before the next round, so one
		// round's backlog does not count against the next.
		if err := s.Server.FlushAudit(context.Background()); err != nil {
			b.Fatal(err)
		}
	})
}
