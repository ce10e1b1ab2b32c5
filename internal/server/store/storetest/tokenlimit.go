package storetest

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hush-secrets/hush/internal/server/store"
)

// limitToken is the i-th token of user in the token limit tests.
func limitToken(user string, i int, created, expires time.Time) store.Token {
	h := sha256.Sum256(fmt.Appendf(nil, "%s/%d", user, i))
	return store.Token{ID: fmt.Sprintf("%s-%d", user, i), UserID: user, Hash: h[:], CreatedAt: created, ExpiresAt: expires}
}

// testTokenLimit: CreateTokenLimit refuses the token beyond the user's
// limit with ErrLimit, counts only unexpired tokens, and leaves other users
// alone.
func testTokenLimit(t *testing.T, s store.Store) {
	const limit = 3
	must(t, s.CreateTokenLimit(ctxBG, limitToken("u1", 0, t0, t0.Add(time.Hour)), limit))
	for i := 1; i < limit; i++ {
		must(t, s.CreateTokenLimit(ctxBG, limitToken("u1", i, t0, time.Time{}), limit))
	}
	wantErr(t, "token beyond the limit", s.CreateTokenLimit(ctxBG, limitToken("u1", 9, t0, time.Time{}), limit), store.ErrLimit)
	if _, err := s.GetToken(ctxBG, "u1-9"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the refused token was stored: %v", err)
	}
	must(t, s.CreateTokenLimit(ctxBG, limitToken("u2", 0, t0, time.Time{}), limit))
	// Two hours later the first token has expired and no longer counts.
	must(t, s.CreateTokenLimit(ctxBG, limitToken("u1", 10, t0.Add(2*time.Hour), time.Time{}), limit))
	wantErr(t, "token beyond the limit later", s.CreateTokenLimit(ctxBG, limitToken("u1", 11, t0.Add(2*time.Hour), time.Time{}), limit), store.ErrLimit)
	must(t, s.CreateTokenLimit(ctxBG, limitToken("u1", 12, t0, time.Time{}), 0)) // no limit
}

// testTokenLimitConcurrent: creations racing over a and b (two replicas
// of one database, or one store twice) never exceed the limit.
func testTokenLimitConcurrent(t *testing.T, a, b store.Store) {
	const limit, tries = 5, 48
	start := make(chan struct{}) // all goroutines race from here
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for i := range tries {
		st := a
		if i%2 == 1 {
			st = b
		}
		wg.Go(func() {
			<-start
			err := st.CreateTokenLimit(ctxBG, limitToken("racer", i, t0, time.Time{}), limit)
			if err != nil && !errors.Is(err, store.ErrLimit) {
				t.Errorf("create token %d: %v", i, err)
			}
			if err == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	l, err := a.ListTokens(ctxBG, "racer")
	must(t, err)
	if ok != limit || len(l) != limit {
		t.Fatalf("%d creations succeeded and %d tokens are stored; the limit is %d", ok, len(l), limit)
	}
}
