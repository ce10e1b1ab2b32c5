package main

import (
	"bytes"
	"testing"
)

// TestSecretsLegacyJSONShapes: with the legacy syntax, --output JSON
// prints the API's objects exactly as the legacy Python CLI did
// (json.dumps(obj, indent=2)), so scripts piping to jq '.scopes[]' work;
// the new syntax keeps the new CLI's bare arrays.
func TestSecretsLegacyJSONShapes(t *testing.T) {
	serverEnv(t)
	r := hush(t, nil, "secrets", "list-scopes", "--output", "JSON").ok(t)
	if r.stdout != "{}\n" {
		t.Fatalf("list-scopes --output JSON with no scopes: %q", r.stdout)
	}
	hush(t, nil, "secrets", "create-scope", "--scope", "app").ok(t)
	hush(t, nil, "secrets", "put", "--scope", "app", "--key", "k1", "--string-value", "v").ok(t)
	hush(t, nil, "secrets", "put-acl", "--scope", "app", "--principal", "users", "--permission", "READ").ok(t)

	r = hush(t, nil, "secrets", "list-scopes", "--output", "JSON").ok(t)
	want := "{\n  \"scopes\": [\n    {\n      \"name\": \"app\",\n      \"backend_type\": \"DATABRICKS\"\n    }\n  ]\n}\n"
	if r.stdout != want {
		t.Fatalf("list-scopes --output JSON:\n%s\nwant:\n%s", r.stdout, want)
	}
	r = hush(t, nil, "secrets", "list", "--scope", "app", "--output", "JSON").ok(t)
	secrets := decodeJSON[map[string][]map[string]any](t, r.stdout)
	if len(secrets["secrets"]) != 1 || secrets["secrets"][0]["key"] != "k1" || !bytes.HasPrefix([]byte(r.stdout), []byte("{\n  \"secrets\": [\n    {\n      \"key\": \"k1\",\n      \"last_updated_timestamp\": ")) {
		t.Fatalf("list --output JSON: %s", r.stdout)
	}
	r = hush(t, nil, "secrets", "list-acls", "--scope", "app", "--output", "JSON").ok(t)
	want = "{\n  \"items\": [\n    {\n      \"principal\": \"admin\",\n      \"permission\": \"MANAGE\"\n    },\n    {\n      \"principal\": \"users\",\n      \"permission\": \"READ\"\n    }\n  ]\n}\n"
	if r.stdout != want {
		t.Fatalf("list-acls --output JSON:\n%s\nwant:\n%s", r.stdout, want)
	}
	r = hush(t, nil, "secrets", "get-acl", "--scope", "app", "--principal", "users", "--output", "JSON").ok(t)
	if want = "{\n  \"principal\": \"users\",\n  \"permission\": \"READ\"\n}\n"; r.stdout != want {
		t.Fatalf("get-acl --output JSON:\n%s\nwant:\n%s", r.stdout, want)
	}

	// The new syntax keeps the new CLI's shapes.
	r = hush(t, nil, "secrets", "list-scopes", "-o", "json").ok(t)
	if r.stdout[0] != '[' {
		t.Fatalf("list-scopes -o json: %s", r.stdout)
	}
	r = hush(t, nil, "secrets", "list-secrets", "app", "-o", "json").ok(t)
	if r.stdout[0] != '[' {
		t.Fatalf("list-secrets -o json: %s", r.stdout)
	}
}

// TestLegacyJSONEscapesLikePython: non-ASCII and DEL are escaped as
// Python's json.dumps (ensure_ascii) does, HTML characters are not. The
// expected text is what python3 -c 'import json; print(json.dumps(...,
// indent=2))' prints.
func TestLegacyJSONEscapesLikePython(t *testing.T) {
	var b bytes.Buffer
	v := map[string]any{"items": []any{map[string]string{"principal": "zoë <&> 😀\x7f\u2028\t"}}, "e": []any{}, "o": map[string]any{}}
	if err := printLegacyJSON(&b, v); err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"e\": [],\n  \"items\": [\n    {\n      \"principal\": \"zo\\u00eb <&> \\ud83d\\ude00\\u007f\\u2028\\t\"\n    }\n  ],\n  \"o\": {}\n}\n"
	if b.String() != want {
		t.Fatalf("printLegacyJSON:\n%s\nwant:\n%s", b.String(), want)
	}
}
