package storetest

import (
	"bytes"
	"testing"

	"github.com/hush-secrets/hush/internal/server/store"
)

func testMeta(t *testing.T, s store.Store) {
	_, err := s.GetMeta(ctxBG, "seal/datakey")
	wantErr(t, "GetMeta missing", err, store.ErrNotFound)
	v, err := s.InitMeta(ctxBG, "seal/datakey", []byte("first"))
	must(t, err)
	if string(v) != "first" {
		t.Fatalf("InitMeta = %q", v)
	}
	v, err = s.InitMeta(ctxBG, "seal/datakey", []byte("second"))
	must(t, err)
	if string(v) != "first" {
		t.Fatalf("second InitMeta = %q, want the first value", v)
	}
	must(t, s.PutMeta(ctxBG, "seal/datakey", []byte{0, 1, 2, 0xff}))
	v, err = s.GetMeta(ctxBG, "seal/datakey")
	must(t, err)
	if !bytes.Equal(v, []byte{0, 1, 2, 0xff}) {
		t.Fatalf("GetMeta after PutMeta = %x", v)
	}
	must(t, s.PutMeta(ctxBG, "other", []byte("x")))
	v, err = s.InitMeta(ctxBG, "other", []byte("y"))
	must(t, err)
	if string(v) != "x" {
		t.Fatalf("InitMeta after PutMeta = %q", v)
	}
}
