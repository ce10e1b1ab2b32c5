package seal_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hush-secrets/hush/internal/secrets"
	"github.com/hush-secrets/hush/internal/server/seal"
	"github.com/hush-secrets/hush/internal/server/store"
	"github.com/hush-secrets/hush/internal/server/store/bolt"
	"github.com/hush-secrets/hush/internal/server/store/postgres"
	"github.com/hush-secrets/hush/internal/server/store/storetest"
	"github.com/hush-secrets/hush/redact/redacttest"
)

var ctx = context.Background()

// distinctive returns a value that appears nowhere by chance.
func distinctive(t *testing.T) []byte {
	var r [12]byte
	if _, err := rand.Read(r[:]); err != nil {
		t.Fatal(err)
	}
	return []byte("PLAINTEXT-hush-" + hex.EncodeToString(r[:]))
}

// putSealed stores value sealed in a new scope and checks it reads back.
func putSealed(t *testing.T, s store.Store, master, value []byte) []byte {
	t.Helper()
	sl, err := seal.Open(ctx, s, master)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateScope(ctx, secrets.Scope{Name: "AtRest", Backend: secrets.BackendDatabricks, CreatedAt: time.Now()}, nil, 0); err != nil {
		t.Fatal(err)
	}
	sealed, err := sl.Seal("AtRest", "db-password", value)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutSecret(ctx, store.Secret{Scope: "AtRest", Key: "db-password", Sealed: sealed, UpdatedAt: time.Now()}, 0); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetSecret(ctx, "atrest", "db-password")
	if err != nil {
		t.Fatal(err)
	}
	pt, err := sl.Open(got.Scope, got.Key, got.Sealed)
	if err != nil || !bytes.Equal(pt, value) {
		t.Fatalf("read back: %v", err)
	}
	// Moved to another key, the ciphertext does not open.
	if _, err := sl.Open("atrest", "other", got.Sealed); !errors.Is(err, seal.ErrOpen) {
		t.Fatalf("sealed value opened under another key: %v", err)
	}
	return sealed
}

func TestBoltFileHoldsNoPlaintext(t *testing.T) {
	master, _ := seal.GenerateMasterKey()
	value := distinctive(t)
	path := filepath.Join(t.TempDir(), bolt.FileName)
	s, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	putSealed(t, s, master, value)
	// Overwrite it too, so both the live and the freed pages are checked.
	sl, _ := seal.Open(ctx, s, master)
	value2 := distinctive(t)
	sealed2, _ := sl.Seal("atrest", "db-password", value2)
	if err := s.PutSecret(ctx, store.Secret{Scope: "atrest", Key: "db-password", Sealed: sealed2}, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The check is not vacuous: the sealed record is in the file (JSON, base64).
	if !bytes.Contains(data, []byte(base64.StdEncoding.EncodeToString(sealed2))) {
		t.Fatal("the sealed value is not in the bolt file in the expected form; the absence checks below would prove nothing")
	}
	// secrets[0] and [1] are the two values, secrets[2] the master key.
	redacttest.AssertNoSecretInFiles(t, []string{path}, value, value2, master)
}

func TestPostgresRowsHoldNoPlaintext(t *testing.T) {
	dsn := storetest.PostgresSchema(t)
	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	master, _ := seal.GenerateMasterKey()
	value := distinctive(t)
	sealed := putSealed(t, s, master, value)

	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) < 5 {
		t.Fatalf("only tables %v in the test schema", tables)
	}
	var all bytes.Buffer
	for _, table := range tables {
		// Every column of every row, as text (bytea as \x hex), plus bytea
		// columns in escape form, so raw bytes would show too.
		rows, err := conn.Query(ctx, `SELECT t::text FROM `+pgx.Identifier{table}.Sanitize()+` t`)
		if err != nil {
			t.Fatal(err)
		}
		texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		for _, tx := range texts {
			all.WriteString(tx + "\n")
		}
	}
	var raw []byte
	if err := conn.QueryRow(ctx, `SELECT sealed FROM secrets`).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	all.Write(raw)
	if !bytes.Contains(all.Bytes(), []byte(hex.EncodeToString(sealed))) {
		t.Fatal("the sealed value is not in the rows in the expected form; the absence checks would prove nothing")
	}
	// secrets[0] is the value, secrets[1] the master key.
	redacttest.AssertNoSecretIn(t, map[string][]byte{"postgres rows": all.Bytes()}, value, master)
}

// TestReplicasAgreeOnDataKey starts sealers on a fresh store at once,
// through the real stores' InitMeta: they must all share one data key.
func TestReplicasAgreeOnDataKey(t *testing.T) {
	master, _ := seal.GenerateMasterKey()
	check := func(t *testing.T, stores []store.Store) {
		sealers := make([]*seal.Sealer, 6)
		var wg sync.WaitGroup
		for i := range sealers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sl, err := seal.Open(ctx, stores[i%len(stores)], master)
				if err != nil {
					t.Error(err)
				}
				sealers[i] = sl
			}()
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		sealed, _ := sealers[0].Seal("s", "k", []byte("v"))
		for i, sl := range sealers {
			if _, err := sl.Open("s", "k", sealed); err != nil {
				t.Fatalf("sealer %d has another data key: %v", i, err)
			}
		}
	}
	t.Run("bolt", func(t *testing.T) {
		s, err := bolt.Open(filepath.Join(t.TempDir(), bolt.FileName))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		check(t, []store.Store{s})
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := storetest.PostgresSchema(t)
		a, err := postgres.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		b, err := postgres.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		check(t, []store.Store{a, b})
	})
}

func TestRewrapOnBolt(t *testing.T) {
	path := filepath.Join(t.TempDir(), bolt.FileName)
	s, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	oldK, _ := seal.GenerateMasterKey()
	newK, _ := seal.GenerateMasterKey()
	value := distinctive(t)
	putSealed(t, s, oldK, value)
	if err := seal.Rewrap(ctx, s, oldK, newK); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := seal.Open(ctx, s, oldK); !errors.Is(err, seal.ErrWrongMasterKey) {
		t.Fatalf("old key after rewrap: %v", err)
	}
	sl, err := seal.Open(ctx, s, newK)
	if err != nil {
		t.Fatal(err)
	}
	sec, err := s.GetSecret(ctx, "atrest", "db-password")
	if err != nil {
		t.Fatal(err)
	}
	pt, err := sl.Open(sec.Scope, sec.Key, sec.Sealed)
	if err != nil || !bytes.Equal(pt, value) {
		t.Fatalf("value after rewrap: %v", err)
	}
}
