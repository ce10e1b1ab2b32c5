package server_test

import (
	"strings"
	"testing"

	"github.com/hush-secrets/hush/internal/server/servertest"
)

const scimSPs = "/api/2.0/preview/scim/v2/ServicePrincipals"

// TestServicePrincipals: SCIM ServicePrincipals, on-behalf-of tokens by
// application_id, and ACLs naming a service principal by its application
// ID, as on Databricks; user names keep working for OBO tokens.
func TestServicePrincipals(t *testing.T) { eachStore(t, servertest.Options{}, testServicePrincipals) }

func testServicePrincipals(t *testing.T, s *servertest.Server) {
	tok := s.AdminToken
	user := s.CreateUser(t, "plain@example.com")
	eng := s.CreateGroup(t, "eng")
	appID := "8f2c6a1e-3b4d-4c5e-9f60-7a8b9c0d1e2f"
	r := must(t, call(t, s.URL, "POST", scimSPs, tok, map[string]any{
		"schemas":       []string{"urn:ietf:params:scim:schemas:core:2.0:ServicePrincipal"},
		"applicationId": appID, "displayName": "ci-bot", "active": true,
		"groups": []any{map[string]any{"value": eng.ID}},
	}))
	id, _ := r.body["id"].(string)
	if id == "" || r.body["applicationId"] != appID || r.body["displayName"] != "ci-bot" || r.body["active"] != true {
		t.Fatalf("create: %s", r.raw)
	}
	if !strings.Contains(r.raw, `"display":"eng"`) {
		t.Fatalf("create: groups missing: %s", r.raw)
	}
	if g := must(t, call(t, s.URL, "GET", scimGroups+"/"+eng.ID, tok, nil)); !strings.Contains(g.raw, `"$ref":"ServicePrincipals/`+id+`"`) {
		t.Fatalf("group member reference of a service principal: %s", g.raw)
	}
	expect(t, call(t, s.URL, "POST", scimSPs, tok, map[string]any{"applicationId": appID}), 409, "RESOURCE_ALREADY_EXISTS", "")
	expect(t, call(t, s.URL, "POST", scimSPs, tok, map[string]any{"applicationId": "not-a-uuid"}), 400, "INVALID_PARAMETER_VALUE", "")
	expect(t, call(t, s.URL, "POST", scimSPs, user.Token, map[string]any{"displayName": "x"}), 403, "PERMISSION_DENIED", "")
	// Without an applicationId, hush assigns one (a UUID).
	gen := must(t, call(t, s.URL, "POST", scimSPs, tok, map[string]any{"displayName": "generated"}))
	if a, _ := gen.body["applicationId"].(string); len(a) != 36 || strings.Count(a, "-") != 4 {
		t.Fatalf("generated application ID: %s", gen.raw)
	}

	r = must(t, call(t, s.URL, "GET", scimSPs, tok, nil, "filter", `applicationId eq "`+appID+`"`))
	if r.body["totalResults"] != float64(1) || !strings.Contains(r.raw, `"id":"`+id+`"`) {
		t.Fatalf("list by applicationId: %s", r.raw)
	}
	must(t, call(t, s.URL, "GET", scimSPs+"/"+id, tok, nil))
	// Service principals are not users, and users are not service principals.
	if r = must(t, call(t, s.URL, "GET", scimUsers, tok, nil)); strings.Contains(r.raw, appID) {
		t.Fatalf("Users lists a service principal: %s", r.raw)
	}
	expect(t, call(t, s.URL, "GET", scimUsers+"/"+id, tok, nil), 404, "RESOURCE_DOES_NOT_EXIST", "")
	expect(t, call(t, s.URL, "GET", scimSPs+"/"+user.ID, tok, nil), 404, "RESOURCE_DOES_NOT_EXIST", "")

	// An OBO token by application ID acts as the service principal.
	r = must(t, call(t, s.URL, "POST", "/api/2.0/token-management/on-behalf-of/tokens", tok, map[string]any{"application_id": appID, "comment": "ci"}))
	spTok := r.body["token_value"].(string)
	if me := must(t, call(t, s.URL, "GET", "/api/2.0/preview/scim/v2/Me", spTok, nil)); me.body["userName"] != appID {
		t.Fatalf("OBO token acts as %v", me.body["userName"])
	}
	must(t, call(t, s.URL, "POST", "/api/2.0/token-management/on-behalf-of/tokens", tok, map[string]any{"application_id": "plain@example.com"}))

	// ACLs name a service principal by its application ID.
	must(t, call(t, s.URL, "POST", "/api/2.0/secrets/scopes/create", tok, map[string]any{"scope": "ci"}))
	must(t, call(t, s.URL, "POST", "/api/2.0/secrets/put", tok, map[string]any{"scope": "ci", "key": "k", "string_value": "v"}))
	expect(t, call(t, s.URL, "GET", "/api/2.0/secrets/get", spTok, nil, "scope", "ci", "key", "k"), 403, "PERMISSION_DENIED", "")
	must(t, call(t, s.URL, "POST", "/api/2.0/secrets/acls/put", tok, map[string]any{"scope": "ci", "principal": appID, "permission": "READ"}))
	must(t, call(t, s.URL, "GET", "/api/2.0/secrets/get", spTok, nil, "scope", "ci", "key", "k"))

	// PATCH deactivates it (its tokens stop working), PUT renames it.
	must(t, call(t, s.URL, "PATCH", scimSPs+"/"+id, tok, scimPatch(map[string]any{"op": "replace", "path": "active", "value": false})))
	expect(t, call(t, s.URL, "GET", "/api/2.0/secrets/get", spTok, nil, "scope", "ci", "key", "k"), 401, "UNAUTHENTICATED", "")
	must(t, call(t, s.URL, "PUT", scimSPs+"/"+id, tok, map[string]any{"applicationId": appID, "displayName": "ci-bot-2", "active": true}))
	if r = must(t, call(t, s.URL, "GET", scimSPs+"/"+id, tok, nil)); r.body["displayName"] != "ci-bot-2" || r.body["active"] != true {
		t.Fatalf("after PUT: %s", r.raw)
	}
	must(t, call(t, s.URL, "DELETE", scimSPs+"/"+id, tok, nil))
	expect(t, call(t, s.URL, "GET", scimSPs+"/"+id, tok, nil), 404, "RESOURCE_DOES_NOT_EXIST", "")
	if r = must(t, call(t, s.URL, "GET", "/api/2.0/secrets/acls/list", tok, nil, "scope", "ci")); strings.Contains(r.raw, appID) {
		t.Fatalf("the deleted service principal's ACL stayed: %s", r.raw)
	}
}
