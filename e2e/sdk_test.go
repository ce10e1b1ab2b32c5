package e2e

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/service/iam"
	"github.com/databricks/databricks-sdk-go/service/settings"
	"github.com/databricks/databricks-sdk-go/service/workspace"

	"github.com/hush-secrets/hush/internal/server/servertest"
)

// sdkClient returns the official SDK's workspace client for url with a PAT.
// The environment is cleared of DATABRICKS_* and ~/.databrickscfg is
// replaced by a missing file, so only Host and Token configure it and it
// never reaches anything but the test server.
func sdkClient(t *testing.T, url, token string) *databricks.WorkspaceClient {
	t.Helper()
	for _, name := range []string{"DATABRICKS_HOST", "DATABRICKS_TOKEN", "DATABRICKS_CONFIG_PROFILE",
		"DATABRICKS_ACCOUNT_ID", "DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET", "DATABRICKS_USERNAME",
		"DATABRICKS_PASSWORD", "DATABRICKS_AUTH_TYPE", "DATABRICKS_CLUSTER_ID", "DATABRICKS_WAREHOUSE_ID",
		"DATABRICKS_AZURE_RESOURCE_ID", "ARM_CLIENT_ID", "ARM_TENANT_ID", "GOOGLE_CREDENTIALS"} {
		t.Setenv(name, "")
	}
	t.Setenv("DATABRICKS_CONFIG_FILE", filepath.Join(t.TempDir(), "no-such-databrickscfg"))
	w, err := databricks.NewWorkspaceClient(&databricks.Config{
		Host: url, Token: token, AuthType: "pat",
		RetryTimeoutSeconds: 20, HTTPTimeoutSeconds: 20,
	})
	if err != nil {
		t.Fatalf("NewWorkspaceClient: %v", err)
	}
	return w
}

// wantErr asserts that err matches each of the SDK's sentinels.
func wantErr(t *testing.T, what string, err error, sentinels ...error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error", what)
	}
	for _, s := range sentinels {
		if !errors.Is(err, s) {
			t.Fatalf("%s: %v is not %v", what, err, s)
		}
	}
}

func TestSDKSecrets(t *testing.T) {
	s := servertest.Start(t)
	ctx := context.Background()
	w := sdkClient(t, s.URL, s.AdminToken)

	if err := w.Secrets.CreateScope(ctx, workspace.CreateScope{Scope: "sdk"}); err != nil {
		t.Fatalf("CreateScope: %v", err)
	}
	wantErr(t, "CreateScope again", w.Secrets.CreateScope(ctx, workspace.CreateScope{Scope: "SDK"}),
		databricks.ErrResourceAlreadyExists)
	wantErr(t, "CreateScope Key Vault", w.Secrets.CreateScope(ctx, workspace.CreateScope{Scope: "kv", ScopeBackendType: workspace.ScopeBackendTypeAzureKeyvault}),
		databricks.ErrInvalidParameterValue, databricks.ErrBadRequest)
	wantErr(t, "CreateScope bad name", w.Secrets.CreateScope(ctx, workspace.CreateScope{Scope: "no spaces"}),
		databricks.ErrInvalidParameterValue)
	if err := w.Secrets.CreateScope(ctx, workspace.CreateScope{Scope: "shared", InitialManagePrincipal: "users"}); err != nil {
		t.Fatalf("CreateScope with initial_manage_principal: %v", err)
	}
	scopes, err := w.Secrets.ListScopesAll(ctx)
	if err != nil {
		t.Fatalf("ListScopesAll: %v", err)
	}
	if len(scopes) != 2 || scopes[0].Name != "sdk" || scopes[0].BackendType != workspace.ScopeBackendTypeDatabricks {
		t.Fatalf("ListScopesAll: %+v", scopes)
	}

	raw := []byte{0, 0xff, 'h', 'i', 0x80}
	if err := w.Secrets.PutSecret(ctx, workspace.PutSecret{Scope: "sdk", Key: "password", StringValue: "pä55-wörd"}); err != nil {
		t.Fatalf("PutSecret string: %v", err)
	}
	if err := w.Secrets.PutSecret(ctx, workspace.PutSecret{Scope: "sdk", Key: "blob", BytesValue: base64.StdEncoding.EncodeToString(raw)}); err != nil {
		t.Fatalf("PutSecret bytes: %v", err)
	}
	wantErr(t, "PutSecret both", w.Secrets.PutSecret(ctx, workspace.PutSecret{Scope: "sdk", Key: "x", StringValue: "a", BytesValue: "YQ=="}),
		databricks.ErrBadRequest)
	wantErr(t, "PutSecret no scope", w.Secrets.PutSecret(ctx, workspace.PutSecret{Scope: "nope", Key: "x", StringValue: "a"}),
		databricks.ErrResourceDoesNotExist, databricks.ErrNotFound)
	for key, want := range map[string][]byte{"password": []byte("pä55-wörd"), "blob": raw} {
		got, err := w.Secrets.GetSecret(ctx, workspace.GetSecretRequest{Scope: "sdk", Key: key})
		if err != nil {
			t.Fatalf("GetSecret %s: %v", key, err)
		}
		dec, err := base64.StdEncoding.DecodeString(got.Value)
		if err != nil || string(dec) != string(want) || got.Key != key {
			t.Fatalf("GetSecret %s: key %q value %q (%v)", key, got.Key, dec, err)
		}
	}
	_, err = w.Secrets.GetSecret(ctx, workspace.GetSecretRequest{Scope: "sdk", Key: "missing"})
	wantErr(t, "GetSecret missing", err, databricks.ErrResourceDoesNotExist)
	list, err := w.Secrets.ListSecretsAll(ctx, workspace.ListSecretsRequest{Scope: "sdk"})
	if err != nil {
		t.Fatalf("ListSecretsAll: %v", err)
	}
	if len(list) != 2 || list[0].Key != "blob" || list[1].Key != "password" || list[0].LastUpdatedTimestamp < 1.6e12 {
		t.Fatalf("ListSecretsAll: %+v", list)
	}

	// ACLs, and what they let another user do through the SDK.
	bob := s.CreateUser(t, "bob@example.com")
	wb := sdkClient(t, s.URL, bob.Token)
	_, err = wb.Secrets.GetSecret(ctx, workspace.GetSecretRequest{Scope: "sdk", Key: "password"})
	wantErr(t, "GetSecret without READ", err, databricks.ErrPermissionDenied)
	if err := w.Secrets.PutAcl(ctx, workspace.PutAcl{Scope: "sdk", Principal: "bob@example.com", Permission: workspace.AclPermissionRead}); err != nil {
		t.Fatalf("PutAcl: %v", err)
	}
	wantErr(t, "PutAcl unknown principal", w.Secrets.PutAcl(ctx, workspace.PutAcl{Scope: "sdk", Principal: "ghost@example.com", Permission: workspace.AclPermissionRead}),
		databricks.ErrInvalidParameterValue)
	wantErr(t, "PutAcl bad permission", w.Secrets.PutAcl(ctx, workspace.PutAcl{Scope: "sdk", Principal: "bob@example.com", Permission: "OWN"}),
		databricks.ErrInvalidParameterValue)
	acl, err := w.Secrets.GetAcl(ctx, workspace.GetAclRequest{Scope: "sdk", Principal: "bob@example.com"})
	if err != nil || acl.Permission != workspace.AclPermissionRead || acl.Principal != "bob@example.com" {
		t.Fatalf("GetAcl: %+v %v", acl, err)
	}
	acls, err := w.Secrets.ListAclsAll(ctx, workspace.ListAclsRequest{Scope: "sdk"})
	if err != nil || len(acls) != 2 {
		t.Fatalf("ListAclsAll: %+v %v", acls, err)
	}
	if _, err := wb.Secrets.GetSecret(ctx, workspace.GetSecretRequest{Scope: "sdk", Key: "password"}); err != nil {
		t.Fatalf("GetSecret with READ: %v", err)
	}
	wantErr(t, "PutSecret with READ", wb.Secrets.PutSecret(ctx, workspace.PutSecret{Scope: "sdk", Key: "x", StringValue: "y"}),
		databricks.ErrPermissionDenied)
	if err := w.Secrets.DeleteAcl(ctx, workspace.DeleteAcl{Scope: "sdk", Principal: "bob@example.com"}); err != nil {
		t.Fatalf("DeleteAcl: %v", err)
	}
	_, err = w.Secrets.GetAcl(ctx, workspace.GetAclRequest{Scope: "sdk", Principal: "bob@example.com"})
	wantErr(t, "GetAcl after delete", err, databricks.ErrResourceDoesNotExist)

	if err := w.Secrets.DeleteSecret(ctx, workspace.DeleteSecret{Scope: "sdk", Key: "blob"}); err != nil {
		t.Fatalf("DeleteSecret: %v", err)
	}
	wantErr(t, "DeleteSecret again", w.Secrets.DeleteSecret(ctx, workspace.DeleteSecret{Scope: "sdk", Key: "blob"}),
		databricks.ErrResourceDoesNotExist)
	if err := w.Secrets.DeleteScope(ctx, workspace.DeleteScope{Scope: "sdk"}); err != nil {
		t.Fatalf("DeleteScope: %v", err)
	}
	wantErr(t, "DeleteScope again", w.Secrets.DeleteScope(ctx, workspace.DeleteScope{Scope: "sdk"}),
		databricks.ErrResourceDoesNotExist)

	// A bad token is UNAUTHENTICATED and not retried.
	_, err = sdkClient(t, s.URL, "dapi0123456789abcdef0123456789abcdef").Secrets.ListScopesAll(ctx)
	wantErr(t, "bad token", err, databricks.ErrUnauthenticated)

	// No 4xx answer was retried by the SDK: the server counted each one once.
	assertNotRetried(t, s.URL, map[string]int{
		`route="/api/2.0/secrets/scopes/create",method="POST",status="400"`: 3,
		`route="/api/2.0/secrets/get",method="GET",status="404"`:            1,
		`route="/api/2.0/secrets/get",method="GET",status="403"`:            1,
		`route="/api/2.0/secrets/put",method="POST",status="403"`:           1,
		`route="/api/2.0/secrets/scopes/list",method="GET",status="401"`:    1,
	})
}

// assertNotRetried checks request counts in the server's /metrics.
func assertNotRetried(t *testing.T, url string, want map[string]int) {
	t.Helper()
	res, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	for labels, n := range want {
		re := regexp.MustCompile(`hush_http_requests_total\{` + regexp.QuoteMeta(labels) + `\} (\d+)`)
		m := re.FindSubmatch(b)
		if m == nil || string(m[1]) != fmt.Sprint(n) {
			t.Errorf("requests{%s}: got %s, want %d (a retried 4xx?)", labels, m, n)
		}
	}
}

func TestSDKTokensAndIdentities(t *testing.T) {
	s := servertest.Start(t)
	ctx := context.Background()
	w := sdkClient(t, s.URL, s.AdminToken)

	me, err := w.CurrentUser.Me(ctx)
	if err != nil || me.UserName != "admin" || me.Id == "" {
		t.Fatalf("Me: %+v %v", me, err)
	}
	if !slices.ContainsFunc(me.Groups, func(g iam.ComplexValue) bool { return g.Display == "admins" }) {
		t.Fatalf("Me: admin is not in admins: %+v", me.Groups)
	}

	// Tokens: create, use, list, delete.
	tok, err := w.Tokens.Create(ctx, settings.CreateTokenRequest{Comment: "sdk", LifetimeSeconds: 3600})
	if err != nil || !strings.HasPrefix(tok.TokenValue, "dapi") || tok.TokenInfo == nil || tok.TokenInfo.ExpiryTime <= tok.TokenInfo.CreationTime {
		t.Fatalf("Tokens.Create: %+v %v", tok, err)
	}
	if _, err := sdkClient(t, s.URL, tok.TokenValue).Secrets.ListScopesAll(ctx); err != nil {
		t.Fatalf("the new token does not work: %v", err)
	}
	infos, err := w.Tokens.ListAll(ctx)
	if err != nil || !slices.ContainsFunc(infos, func(i settings.PublicTokenInfo) bool { return i.TokenId == tok.TokenInfo.TokenId && i.Comment == "sdk" }) {
		t.Fatalf("Tokens.ListAll: %+v %v", infos, err)
	}
	if err := w.Tokens.Delete(ctx, settings.RevokeTokenRequest{TokenId: tok.TokenInfo.TokenId}); err != nil {
		t.Fatalf("Tokens.Delete: %v", err)
	}
	_, err = sdkClient(t, s.URL, tok.TokenValue).Secrets.ListScopesAll(ctx)
	wantErr(t, "revoked token", err, databricks.ErrUnauthenticated)

	// Users: create, list with a filter, get, and a token on their behalf.
	u, err := w.Users.Create(ctx, iam.User{UserName: "carol@example.com", DisplayName: "Carol"})
	if err != nil || u.Id == "" || u.UserName != "carol@example.com" {
		t.Fatalf("Users.Create: %+v %v", u, err)
	}
	_, err = w.Users.Create(ctx, iam.User{UserName: "carol@example.com"})
	wantErr(t, "Users.Create twice", err, databricks.ErrResourceAlreadyExists)
	found, err := w.Users.ListAll(ctx, iam.ListUsersRequest{Filter: `userName eq "carol@example.com"`})
	if err != nil || len(found) != 1 || found[0].Id != u.Id {
		t.Fatalf("Users.ListAll filter: %+v %v", found, err)
	}
	all, err := w.Users.ListAll(ctx, iam.ListUsersRequest{})
	if err != nil || len(all) != 2 {
		t.Fatalf("Users.ListAll: %d users, %v", len(all), err)
	}
	got, err := w.Users.GetById(ctx, u.Id)
	if err != nil || got.UserName != "carol@example.com" || got.DisplayName != "Carol" || !got.Active {
		t.Fatalf("Users.Get: %+v %v", got, err)
	}
	obo, err := w.TokenManagement.CreateOboToken(ctx, settings.CreateOboTokenRequest{ApplicationId: "carol@example.com", LifetimeSeconds: 600, Comment: "for carol"})
	if err != nil || obo.TokenValue == "" || obo.TokenInfo == nil || obo.TokenInfo.CreatedByUsername != "admin" {
		t.Fatalf("CreateOboToken: %+v %v", obo, err)
	}
	wc := sdkClient(t, s.URL, obo.TokenValue)
	if cme, err := wc.CurrentUser.Me(ctx); err != nil || cme.UserName != "carol@example.com" {
		t.Fatalf("Me with the OBO token: %+v %v", cme, err)
	}
	_, err = wc.TokenManagement.CreateOboToken(ctx, settings.CreateOboTokenRequest{ApplicationId: "admin"})
	wantErr(t, "CreateOboToken by a non-admin", err, databricks.ErrPermissionDenied)
	_, err = wc.Users.Create(ctx, iam.User{UserName: "mallory@example.com"})
	wantErr(t, "Users.Create by a non-admin", err, databricks.ErrPermissionDenied)
	mgmt, err := w.TokenManagement.ListAll(ctx, settings.ListTokenManagementRequest{})
	if err != nil || !slices.ContainsFunc(mgmt, func(i settings.TokenInfo) bool { return i.TokenId == obo.TokenInfo.TokenId }) {
		t.Fatalf("TokenManagement.ListAll: %+v %v", mgmt, err)
	}
	if _, err := w.TokenManagement.GetByTokenId(ctx, obo.TokenInfo.TokenId); err != nil {
		t.Fatalf("TokenManagement.Get: %v", err)
	}

	// Groups: create, patch members in and out, get, and ACLs by group.
	g, err := w.Groups.Create(ctx, iam.Group{DisplayName: "analysts"})
	if err != nil || g.Id == "" {
		t.Fatalf("Groups.Create: %+v %v", g, err)
	}
	err = w.Groups.Patch(ctx, iam.PartialUpdate{Id: g.Id, Schemas: []iam.PatchSchema{iam.PatchSchemaUrnIetfParamsScimApiMessages20PatchOp},
		Operations: []iam.Patch{{Op: iam.PatchOpAdd, Value: map[string]any{"members": []map[string]string{{"value": u.Id}}}}}})
	if err != nil {
		t.Fatalf("Groups.Patch add: %v", err)
	}
	gg, err := w.Groups.GetById(ctx, g.Id)
	if err != nil || len(gg.Members) != 1 || gg.Members[0].Value != u.Id {
		t.Fatalf("Groups.Get: %+v %v", gg, err)
	}
	if err := w.Secrets.CreateScope(ctx, workspace.CreateScope{Scope: "team"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Secrets.PutSecret(ctx, workspace.PutSecret{Scope: "team", Key: "k", StringValue: "v"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Secrets.PutAcl(ctx, workspace.PutAcl{Scope: "team", Principal: "analysts", Permission: workspace.AclPermissionRead}); err != nil {
		t.Fatal(err)
	}
	if _, err := wc.Secrets.GetSecret(ctx, workspace.GetSecretRequest{Scope: "team", Key: "k"}); err != nil {
		t.Fatalf("a group member cannot read: %v", err)
	}
	err = w.Groups.Patch(ctx, iam.PartialUpdate{Id: g.Id,
		Operations: []iam.Patch{{Op: iam.PatchOpRemove, Path: fmt.Sprintf(`members[value eq "%s"]`, u.Id)}}})
	if err != nil {
		t.Fatalf("Groups.Patch remove: %v", err)
	}
	_, err = wc.Secrets.GetSecret(ctx, workspace.GetSecretRequest{Scope: "team", Key: "k"})
	wantErr(t, "read after leaving the group", err, databricks.ErrPermissionDenied)
	groups, err := w.Groups.ListAll(ctx, iam.ListGroupsRequest{Filter: `displayName eq "analysts"`})
	if err != nil || len(groups) != 1 {
		t.Fatalf("Groups.ListAll: %+v %v", groups, err)
	}
	if err := w.Groups.DeleteById(ctx, g.Id); err != nil {
		t.Fatalf("Groups.Delete: %v", err)
	}
	_, err = w.Groups.GetById(ctx, g.Id)
	wantErr(t, "Groups.Get after delete", err, databricks.ErrNotFound)

	// Deleting a user revokes its tokens.
	if err := w.Users.DeleteById(ctx, u.Id); err != nil {
		t.Fatalf("Users.Delete: %v", err)
	}
	_, err = w.Users.GetById(ctx, u.Id)
	wantErr(t, "Users.Get after delete", err, databricks.ErrNotFound)
	_, err = wc.CurrentUser.Me(ctx)
	wantErr(t, "token of a deleted user", err, databricks.ErrUnauthenticated)
}
