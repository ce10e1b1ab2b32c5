package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hush-secrets/hush/internal/server/store"
)

// The sizes of testConcurrent's races.
const (
	workers   = 8
	perWorker = 6
	maxScopes = 20
	maxSecret = 25
)

// racers spreads concurrent writers over two stores, which may be one.
type racers struct {
	a, b store.Store
}

// pick returns a for even i and b for odd i.
func (r racers) pick(i int) store.Store {
	if i%2 == 0 {
		return r.a
	}
	return r.b
}

// run calls fn(w, i) for perWorker values of i in each of workers
// goroutines, and waits for all of them.
func (r racers) run(fn func(w, i int)) {
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				fn(w, i)
			}
		}()
	}
	wg.Wait()
}

// testConcurrent races writers (spread over a and b, which may be the same
// store) at the limits: the limits hold exactly, and no write is lost.
func testConcurrent(t *testing.T, a, b store.Store) {
	r := racers{a: a, b: b}
	raceScopeLimit(t, r)
	raceSecretLimit(t, r)
	raceNoLostWrites(t, r)
	raceInitMeta(t, r)
}

// raceScopeLimit: 48 distinct creates against a limit of 20, plus every
// worker racing to create the same name "shared".
func raceScopeLimit(t *testing.T, r racers) {
	var created, limited, sharedOK atomic.Int32
	r.run(func(w, i int) {
		s := r.pick(w)
		switch err := s.CreateScope(ctxBG, scope(fmt.Sprintf("w%d-s%d", w, i)), nil, maxScopes); {
		case err == nil:
			created.Add(1)
		case errors.Is(err, store.ErrLimit):
			limited.Add(1)
		default:
			t.Errorf("CreateScope: %v", err)
		}
		if i == 0 {
			err := s.CreateScope(ctxBG, scope([]string{"shared", "SHARED", "Shared"}[w%3]), nil, 0)
			if err == nil {
				sharedOK.Add(1)
			} else if !errors.Is(err, store.ErrExists) {
				t.Errorf("CreateScope shared: %v", err)
			}
		}
	})
	if sharedOK.Load() != 1 {
		t.Fatalf("%d racing creates of one scope succeeded, want exactly 1", sharedOK.Load())
	}
	l, err := r.a.ListScopes(ctxBG)
	must(t, err)
	// "shared" was created without a limit, so it may take a slot before or after.
	limitedScopes := len(l) - 1
	if limitedScopes > maxScopes || int(created.Load()) != limitedScopes || int(created.Load()+limited.Load()) != workers*perWorker {
		t.Fatalf("scopes: %d listed (+shared), %d created, %d limited; limit %d", limitedScopes, created.Load(), limited.Load(), maxScopes)
	}
	if limitedScopes < maxScopes-1 {
		t.Fatalf("only %d scopes created under a limit of %d with %d attempts", limitedScopes, maxScopes, workers*perWorker)
	}
}

// raceSecretLimit: 48 distinct keys into one scope with a limit of 25,
// while other workers overwrite one existing key (never limited).
func raceSecretLimit(t *testing.T, r racers) {
	createScope(t, r.a, "lim")
	must(t, r.a.PutSecret(ctxBG, store.Secret{Scope: "lim", Key: "hot", Sealed: []byte("0"), UpdatedAt: t0}, maxSecret))
	var stored, refused atomic.Int32
	r.run(func(w, i int) {
		s := r.pick(w + i)
		err := s.PutSecret(ctxBG, store.Secret{Scope: "LIM", Key: fmt.Sprintf("k-%d-%d", w, i), Sealed: []byte("v"), UpdatedAt: t0}, maxSecret)
		switch {
		case err == nil:
			stored.Add(1)
		case errors.Is(err, store.ErrLimit):
			refused.Add(1)
		default:
			t.Errorf("PutSecret: %v", err)
		}
		if err := s.PutSecret(ctxBG, store.Secret{Scope: "lim", Key: "hot", Sealed: []byte(fmt.Sprint(w)), UpdatedAt: t0}, maxSecret); err != nil {
			t.Errorf("overwrite at the limit: %v", err)
		}
	})
	keys, err := r.b.ListSecrets(ctxBG, "lim")
	must(t, err)
	if len(keys) != maxSecret || int(stored.Load()) != maxSecret-1 || int(refused.Load()) != workers*perWorker-(maxSecret-1) {
		t.Fatalf("secrets: %d listed, %d stored, %d refused; limit %d", len(keys), stored.Load(), refused.Load(), maxSecret)
	}
}

// raceNoLostWrites: distinct writes without a limit, from both replicas,
// all land.
func raceNoLostWrites(t *testing.T, r racers) {
	createScope(t, r.a, "bulk")
	r.run(func(w, i int) {
		s := r.pick(w)
		if err := s.PutSecret(ctxBG, store.Secret{Scope: "bulk", Key: fmt.Sprintf("k-%d-%d", w, i), Sealed: []byte{byte(w), byte(i)}, UpdatedAt: t0}, 0); err != nil {
			t.Errorf("PutSecret bulk: %v", err)
		}
		if err := s.AppendEvent(ctxBG, store.Event{Time: t0, Actor: fmt.Sprint(w), Action: "secrets.put", Scope: "bulk"}); err != nil {
			t.Errorf("AppendEvent: %v", err)
		}
	})
	keys, err := r.a.ListSecrets(ctxBG, "bulk")
	must(t, err)
	if len(keys) != workers*perWorker {
		t.Fatalf("bulk: %d secrets, want %d", len(keys), workers*perWorker)
	}
	for w := range workers {
		for i := range perWorker {
			sec, err := r.b.GetSecret(ctxBG, "bulk", fmt.Sprintf("k-%d-%d", w, i))
			must(t, err)
			if !bytes.Equal(sec.Sealed, []byte{byte(w), byte(i)}) {
				t.Fatalf("bulk k-%d-%d = %x", w, i, sec.Sealed)
			}
		}
	}
	evs, err := r.b.ListEvents(ctxBG, store.AuditFilter{Scope: "bulk"})
	must(t, err)
	if len(evs) != workers*perWorker {
		t.Fatalf("%d audit events, want %d", len(evs), workers*perWorker)
	}
}

// raceInitMeta: workers racing InitMeta on one name all agree on one value.
func raceInitMeta(t *testing.T, r racers) {
	vals := make([][]byte, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := r.pick(w).InitMeta(ctxBG, "race", []byte(fmt.Sprintf("value-%d", w)))
			if err != nil {
				t.Errorf("InitMeta: %v", err)
			}
			vals[w] = v
		}()
	}
	wg.Wait()
	for w := 1; w < workers; w++ {
		if !bytes.Equal(vals[w], vals[0]) {
			t.Fatalf("InitMeta race: %q vs %q", vals[0], vals[w])
		}
	}
	stored, err := r.a.GetMeta(ctxBG, "race")
	must(t, err)
	if !bytes.Equal(stored, vals[0]) {
		t.Fatalf("InitMeta returned %q but %q is stored", vals[0], stored)
	}
}
