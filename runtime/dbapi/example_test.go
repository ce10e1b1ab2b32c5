package dbapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/hush-secrets/hush/runtime/dbapi"
)

// A Client speaks to hush serve or to a Databricks workspace alike. Errors
// the server answers match the dbapi sentinels with errors.Is, whatever
// their message.
func Example() {
	// A stand-in server on 127.0.0.1 that answers with the same wire types.
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+dbapi.PathScopesList, func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(dbapi.ListScopesResponse{Scopes: []dbapi.SecretScope{{Name: "etl", BackendType: "DATABRICKS"}}})
	})
	mux.HandleFunc("GET "+dbapi.PathSecretsGet, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("key") != "db-password" {
			w.WriteHeader(http.StatusNotFound)
			_ = json.NewEncoder(w).Encode(dbapi.ErrorResponse{ErrorCode: dbapi.CodeResourceDoesNotExist, Message: "no such secret"})
			return
		}
		_ = json.NewEncoder(w).Encode(dbapi.GetSecretResponse{Key: "db-password", Value: base64.StdEncoding.EncodeToString([]byte("s3cr3t-pa55"))})
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	ctx := context.Background()
	c := dbapi.NewClient(dbapi.Config{Host: srv.URL, Token: "dapi-example"})
	scopes, err := c.ListScopes(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("scopes:", scopes[0].Name, scopes[0].BackendType)

	// GetSecret decodes the base64 of the wire; never print the value.
	v, err := c.GetSecret(ctx, "etl", "db-password")
	fmt.Println("db-password:", len(v), "bytes,", err)

	_, err = c.GetSecret(ctx, "etl", "nope")
	fmt.Println("nope missing:", errors.Is(err, dbapi.ErrResourceDoesNotExist))
	// Output:
	// scopes: etl DATABRICKS
	// db-password: 11 bytes, <nil>
	// nope missing: true
}
