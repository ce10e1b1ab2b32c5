package dbapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"
)

func TestClientTokenCalls(t *testing.T) {
	var got struct {
		method, path, query string
		body                map[string]any
	}
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		got.method, got.path, got.query, got.body = r.Method, r.URL.Path, r.URL.RawQuery, nil
		if b, _ := io.ReadAll(r.Body); len(b) > 0 {
			_ = json.Unmarshal(b, &got.body)
		}
		switch r.URL.Path {
		case PathTokenCreate:
			writeJSON(w, 200, CreateTokenResponse{TokenValue: "dapi-new", TokenInfo: PublicTokenInfo{TokenID: "t1", ExpiryTime: -1}})
		case PathTokenList:
			writeJSON(w, 200, ListTokensResponse{TokenInfos: []PublicTokenInfo{{TokenID: "t1", Comment: "ci"}}})
		case PathTokenManagement:
			writeJSON(w, 200, ListTokenManagementResponse{TokenInfos: []TokenInfo{{TokenID: "t9", CreatedByUsername: "bob"}}})
		case PathTokenManagement + "/t9":
			writeJSON(w, 200, GetTokenResponse{TokenInfo: TokenInfo{TokenID: "t9"}})
		default:
			writeJSON(w, 200, map[string]any{})
		}
	})
	ctx := context.Background()
	created, err := c.CreateToken(ctx, 3600, "ci")
	if err != nil || created.TokenValue != "dapi-new" || got.body["lifetime_seconds"] != 3600.0 || got.body["comment"] != "ci" {
		t.Fatalf("CreateToken = %+v, %v; body %v", created, err, got.body)
	}
	if _, err := c.CreateToken(ctx, 0, ""); err != nil || len(got.body) != 0 {
		t.Fatalf("CreateToken without options sent %v (%v)", got.body, err)
	}
	list, err := c.ListTokens(ctx)
	if err != nil || len(list) != 1 || list[0].Comment != "ci" {
		t.Fatalf("ListTokens = %+v, %v", list, err)
	}
	if err := c.RevokeToken(ctx, "t1"); err != nil || got.path != PathTokenDelete || got.body["token_id"] != "t1" {
		t.Fatalf("RevokeToken: %v %+v", err, got)
	}
	all, err := c.ListAllTokens(ctx, "bob")
	if err != nil || len(all) != 1 || got.query != "created_by_username=bob" {
		t.Fatalf("ListAllTokens = %+v, %v (query %q)", all, err, got.query)
	}
	if ti, err := c.GetAnyToken(ctx, "t9"); err != nil || ti.TokenID != "t9" {
		t.Fatalf("GetAnyToken = %+v, %v", ti, err)
	}
	if err := c.DeleteAnyToken(ctx, "t9"); err != nil || got.method != http.MethodDelete || got.path != PathTokenManagement+"/t9" {
		t.Fatalf("DeleteAnyToken: %v %+v", err, got)
	}
	if _, err := c.CreateOBOToken(ctx, "bob", 60, "x"); err != nil || got.path != PathTokenOBO || got.body["application_id"] != "bob" {
		t.Fatalf("CreateOBOToken: %v %+v", err, got)
	}
}

func TestClientSCIMPaginatesAndFinds(t *testing.T) {
	const total = 230
	var pages int
	var lastPatch map[string]any
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == PathSCIMUsers && r.Method == http.MethodGet:
			pages++
			start, _ := strconv.Atoi(r.URL.Query().Get("startIndex"))
			count, _ := strconv.Atoi(r.URL.Query().Get("count"))
			out := SCIMListUsers{Schemas: []string{SchemaListResponse}, TotalResults: total, StartIndex: int64(start)}
			for i := start; i < start+count && i <= total; i++ {
				out.Resources = append(out.Resources, SCIMUser{ID: strconv.Itoa(i), UserName: "user" + strconv.Itoa(i) + "@example.com"})
			}
			out.ItemsPerPage = int64(len(out.Resources))
			writeJSON(w, 200, out)
		case r.URL.Path == PathSCIMGroups && r.Method == http.MethodGet:
			writeJSON(w, 200, SCIMListGroups{TotalResults: 1, Resources: []SCIMGroup{{ID: "g1", DisplayName: "admins"}}})
		case r.URL.Path == PathSCIMGroups+"/g1" && r.Method == http.MethodPatch:
			lastPatch = nil
			_ = json.NewDecoder(r.Body).Decode(&lastPatch)
			writeJSON(w, 200, map[string]any{})
		default:
			writeJSON(w, 404, ErrorResponse{ErrorCode: CodeEndpointNotFound, Message: "no"})
		}
	})
	ctx := context.Background()
	users, err := c.ListUsers(ctx, "")
	if err != nil || len(users) != total || pages != 3 {
		t.Fatalf("ListUsers: %d users in %d pages, %v", len(users), pages, err)
	}
	u, err := c.FindUser(ctx, "USER7@example.com")
	if err != nil || u.ID != "7" {
		t.Fatalf("FindUser = %+v, %v", u, err)
	}
	if _, err := c.FindUser(ctx, "nobody"); !errors.Is(err, ErrResourceDoesNotExist) {
		t.Fatalf("FindUser(nobody) err = %v", err)
	}
	g, err := c.FindGroup(ctx, "admins")
	if err != nil || g.ID != "g1" {
		t.Fatalf("FindGroup = %+v, %v", g, err)
	}
	if err := c.AddGroupMember(ctx, "g1", "7"); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(lastPatch)
	if string(b) != `{"Operations":[{"op":"add","value":{"members":[{"value":"7"}]}}],"schemas":["`+SchemaPatchOp+`"]}` {
		t.Fatalf("add patch = %s", b)
	}
	if err := c.RemoveGroupMember(ctx, "g1", "7"); err != nil {
		t.Fatal(err)
	}
	b, _ = json.Marshal(lastPatch)
	if string(b) != `{"Operations":[{"op":"remove","path":"members[value eq \"7\"]"}],"schemas":["`+SchemaPatchOp+`"]}` {
		t.Fatalf("remove patch = %s", b)
	}
}

func TestClientListAuditQuery(t *testing.T) {
	var query string
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		query = r.URL.RawQuery
		writeJSON(w, 200, ListAuditResponse{Events: []AuditEvent{{Timestamp: 1, Actor: "a", Action: "secrets.get", Allowed: true}}})
	})
	ev, err := c.ListAudit(context.Background(), AuditQuery{Scope: "s", Actor: "a@x", Since: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Limit: 7})
	if err != nil || len(ev) != 1 || ev[0].Action != "secrets.get" {
		t.Fatalf("ListAudit = %+v, %v", ev, err)
	}
	if query != "actor=a%40x&limit=7&scope=s&since=2026-01-02T03%3A04%3A05Z" {
		t.Fatalf("query = %q", query)
	}
}
