package e2e

import (
	"context"
	"testing"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/service/iam"
	"github.com/databricks/databricks-sdk-go/service/settings"
	"github.com/databricks/databricks-sdk-go/service/workspace"

	"github.com/hush-secrets/hush/internal/server/servertest"
)

// TestSDKServicePrincipals drives service principals as automation on
// Databricks does with the official SDK: create one, give it an
// on-behalf-of token by application ID and an ACL by application ID, read
// a secret with that token, deactivate and delete it.
func TestSDKServicePrincipals(t *testing.T) {
	s := servertest.Start(t)
	ctx := context.Background()
	w := sdkClient(t, s.URL, s.AdminToken)

	sp, err := w.ServicePrincipals.Create(ctx, iam.ServicePrincipal{DisplayName: "ci-bot", Active: true})
	if err != nil || sp.Id == "" || len(sp.ApplicationId) != 36 || sp.DisplayName != "ci-bot" || !sp.Active {
		t.Fatalf("ServicePrincipals.Create: %+v %v", sp, err)
	}
	list, err := w.ServicePrincipals.ListAll(ctx, iam.ListServicePrincipalsRequest{Filter: `applicationId eq "` + sp.ApplicationId + `"`})
	if err != nil || len(list) != 1 || list[0].Id != sp.Id {
		t.Fatalf("ServicePrincipals.ListAll: %+v %v", list, err)
	}
	byName, err := w.ServicePrincipals.GetByDisplayName(ctx, "ci-bot")
	if err != nil || byName.ApplicationId != sp.ApplicationId {
		t.Fatalf("ServicePrincipals.GetByDisplayName: %+v %v", byName, err)
	}
	obo, err := w.TokenManagement.CreateOboToken(ctx, settings.CreateOboTokenRequest{ApplicationId: sp.ApplicationId, LifetimeSeconds: 600, Comment: "ci"})
	if err != nil || obo.TokenValue == "" {
		t.Fatalf("CreateOboToken by application ID: %v", err)
	}
	spc := sdkClient(t, s.URL, obo.TokenValue)
	if me, err := spc.CurrentUser.Me(ctx); err != nil || me.UserName != sp.ApplicationId {
		t.Fatalf("Me with the service principal's token: %+v %v", me, err)
	}
	if err := w.Secrets.CreateScope(ctx, workspace.CreateScope{Scope: "ci"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Secrets.PutSecret(ctx, workspace.PutSecret{Scope: "ci", Key: "k", StringValue: "v"}); err != nil {
		t.Fatal(err)
	}
	_, err = spc.Secrets.GetSecret(ctx, workspace.GetSecretRequest{Scope: "ci", Key: "k"})
	wantErr(t, "GetSecret before the ACL", err, databricks.ErrPermissionDenied)
	if err := w.Secrets.PutAcl(ctx, workspace.PutAcl{Scope: "ci", Principal: sp.ApplicationId, Permission: workspace.AclPermissionRead}); err != nil {
		t.Fatalf("PutAcl by application ID: %v", err)
	}
	if _, err := spc.Secrets.GetSecret(ctx, workspace.GetSecretRequest{Scope: "ci", Key: "k"}); err != nil {
		t.Fatalf("GetSecret with the ACL: %v", err)
	}
	err = w.ServicePrincipals.Patch(ctx, iam.PartialUpdate{Id: sp.Id, Schemas: []iam.PatchSchema{iam.PatchSchemaUrnIetfParamsScimApiMessages20PatchOp},
		Operations: []iam.Patch{{Op: iam.PatchOpReplace, Path: "active", Value: false}}})
	if err != nil {
		t.Fatalf("ServicePrincipals.Patch: %v", err)
	}
	_, err = spc.Secrets.GetSecret(ctx, workspace.GetSecretRequest{Scope: "ci", Key: "k"})
	wantErr(t, "GetSecret as a deactivated service principal", err, databricks.ErrUnauthenticated)
	if err := w.ServicePrincipals.Update(ctx, iam.ServicePrincipal{Id: sp.Id, ApplicationId: sp.ApplicationId, DisplayName: "ci-bot-2", Active: true}); err != nil {
		t.Fatalf("ServicePrincipals.Update: %v", err)
	}
	got, err := w.ServicePrincipals.GetById(ctx, sp.Id)
	if err != nil || got.DisplayName != "ci-bot-2" || !got.Active {
		t.Fatalf("ServicePrincipals.GetById: %+v %v", got, err)
	}
	if err := w.ServicePrincipals.DeleteById(ctx, sp.Id); err != nil {
		t.Fatalf("ServicePrincipals.DeleteById: %v", err)
	}
	_, err = w.ServicePrincipals.GetById(ctx, sp.Id)
	wantErr(t, "GetById after delete", err, databricks.ErrNotFound)
}
