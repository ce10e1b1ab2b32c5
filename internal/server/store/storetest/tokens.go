package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/hush-secrets/hush/internal/server/store"
)

func testTokens(t *testing.T, s store.Store) {
	_, err := s.TokenByHash(ctxBG, []byte("nope"))
	wantErr(t, "TokenByHash missing", err, store.ErrNotFound)
	_, err = s.GetToken(ctxBG, "nope")
	wantErr(t, "GetToken missing", err, store.ErrNotFound)
	wantErr(t, "DeleteToken missing", s.DeleteToken(ctxBG, "nope"), store.ErrNotFound)
	l, err := s.ListTokens(ctxBG, "")
	must(t, err)
	if l == nil || len(l) != 0 {
		t.Fatalf("ListTokens empty = %#v", l)
	}

	h := func(i byte) []byte { return bytes.Repeat([]byte{i, 0, 0xff}, 11)[:32] }
	exp := t0.Add(90 * 24 * time.Hour)
	tok := store.Token{ID: "t-b", UserID: "u1", Hash: h(1), Comment: "laptop", CreatedAt: t0.Add(2 * time.Second), ExpiresAt: exp, CreatedBy: "admin"}
	must(t, s.CreateToken(ctxBG, tok))
	must(t, s.CreateToken(ctxBG, store.Token{ID: "t-a", UserID: "u1", Hash: h(2), CreatedAt: t0.Add(2 * time.Second)}))
	must(t, s.CreateToken(ctxBG, store.Token{ID: "t-c", UserID: "u2", Hash: h(3), CreatedAt: t0}))
	must(t, s.CreateToken(ctxBG, store.Token{ID: "t-d", UserID: "u1", Hash: h(4), CreatedAt: t0.Add(time.Second)}))
	wantErr(t, "CreateToken same id", s.CreateToken(ctxBG, store.Token{ID: "t-a", UserID: "u1", Hash: h(9), CreatedAt: t0}), store.ErrExists)
	wantErr(t, "CreateToken same hash", s.CreateToken(ctxBG, store.Token{ID: "t-z", UserID: "u1", Hash: h(1), CreatedAt: t0}), store.ErrExists)
	_, err = s.GetToken(ctxBG, "t-z")
	wantErr(t, "token refused for its hash", err, store.ErrNotFound)

	check := func(what string, got store.Token) {
		t.Helper()
		if got.ID != tok.ID || got.UserID != tok.UserID || !bytes.Equal(got.Hash, tok.Hash) || got.Comment != tok.Comment || got.CreatedBy != tok.CreatedBy {
			t.Fatalf("%s = %+v, want %+v", what, got, tok)
		}
		sameTime(t, what+" CreatedAt", got.CreatedAt, tok.CreatedAt)
		sameTime(t, what+" ExpiresAt", got.ExpiresAt, tok.ExpiresAt)
	}
	got, err := s.TokenByHash(ctxBG, h(1))
	must(t, err)
	check("TokenByHash", got)
	got, err = s.GetToken(ctxBG, "t-b")
	must(t, err)
	check("GetToken", got)
	got, err = s.GetToken(ctxBG, "t-a")
	must(t, err)
	if !got.ExpiresAt.IsZero() {
		t.Fatalf("never-expiring token ExpiresAt = %v, want zero", got.ExpiresAt)
	}
	_, err = s.TokenByHash(ctxBG, h(1)[:31])
	wantErr(t, "TokenByHash prefix", err, store.ErrNotFound)

	ids := func(l []store.Token) []string {
		var out []string
		for _, t := range l {
			out = append(out, t.ID)
		}
		return out
	}
	l, err = s.ListTokens(ctxBG, "")
	must(t, err)
	eq(t, "ListTokens all", ids(l), []string{"t-c", "t-d", "t-a", "t-b"})
	l, err = s.ListTokens(ctxBG, "u1")
	must(t, err)
	eq(t, "ListTokens u1", ids(l), []string{"t-d", "t-a", "t-b"})
	l, err = s.ListTokens(ctxBG, "nobody")
	must(t, err)
	if l == nil || len(l) != 0 {
		t.Fatalf("ListTokens nobody = %#v", l)
	}

	must(t, s.DeleteToken(ctxBG, "t-b"))
	_, err = s.TokenByHash(ctxBG, h(1))
	wantErr(t, "TokenByHash revoked", err, store.ErrNotFound)
	_, err = s.GetToken(ctxBG, "t-b")
	wantErr(t, "GetToken revoked", err, store.ErrNotFound)
	wantErr(t, "DeleteToken twice", s.DeleteToken(ctxBG, "t-b"), store.ErrNotFound)
	// The hash is free again.
	must(t, s.CreateToken(ctxBG, store.Token{ID: "t-e", UserID: "u1", Hash: h(1), CreatedAt: t0}))
}
