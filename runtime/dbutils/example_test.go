package dbutils_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/hush-secrets/hush/redact"
	"github.com/hush-secrets/hush/runtime/dbapi"
	"github.com/hush-secrets/hush/runtime/dbutils"
)

// A kernel embeds one Session: notebook code reads secrets through
// Secrets(), and every byte of cell output goes through Output.
func Example() {
	// A stand-in for hush serve or a Databricks workspace.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(dbapi.GetSecretResponse{Key: "password", Value: base64.StdEncoding.EncodeToString([]byte("s3cr3t-pa55"))})
	}))
	defer srv.Close()
	client := dbapi.NewClient(dbapi.Config{Host: srv.URL, Token: "dapi-example"})

	sess, err := dbutils.NewSession(client, redact.New(redact.Options{}), dbutils.SessionOptions{
		Sink: func(cellID, stream string) io.Writer { return os.Stdout },
	})
	if err != nil {
		panic(err)
	}
	defer sess.Close()

	sess.BeginCell("cell-1")
	pw, err := sess.Secrets().Get(context.Background(), "db", "password")
	if err != nil {
		panic(err)
	}
	fmt.Fprintf(sess.Output("cell-1", dbutils.StreamStdout), "connecting with %s\n", pw)
	_ = sess.EndCell("cell-1")
	// Output: connecting with [REDACTED]
}
