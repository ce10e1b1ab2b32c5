package server

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hush-secrets/hush/internal/server/store"
	"github.com/hush-secrets/hush/runtime/dbapi"
)

// The SCIM steps users and service principals share. Both are store.Users
// (a service principal is flagged ServicePrincipal and its user name is
// its application ID), so listing, loading, deleting and patching them
// differ only in what identityKind says.

// identityKind tells the shared SCIM steps which identities they serve.
type identityKind struct {
	servicePrincipals bool     // service principals, else users
	noun              string   // "User", "Service principal": in messages
	filterAttrs       []string // attributes a list filter may name; the first is the user name
}

// userKind and spKind are the two kinds; they are never modified.
var (
	userKind = identityKind{noun: "User", filterAttrs: []string{"userName", "id", "displayName"}}
	spKind   = identityKind{servicePrincipals: true, noun: "Service principal",
		filterAttrs: []string{"applicationId", "displayName", "id"}}
)

// of reports whether u is an identity of this kind.
func (k identityKind) of(u store.User) bool { return u.ServicePrincipal == k.servicePrincipals }

// matches reports whether u passes filter f (nil passes everything).
func (k identityKind) matches(f *filter, u store.User) bool {
	switch {
	case f == nil:
		return true
	case f.attr == k.filterAttrs[0]:
		return strings.EqualFold(u.UserName, f.value)
	case f.attr == "id":
		return u.ID == f.value
	}
	return u.DisplayName == f.value
}

// groupValues lists the groups u is a direct member of, as the groups of
// its SCIM representation.
func (s *Server) groupValues(r *request, u store.User) ([]dbapi.SCIMValue, error) {
	groups, err := s.st.GroupsOf(r.Context(), u.ID)
	if err != nil {
		return nil, fmt.Errorf("groups of %s: %w", u.UserName, err)
	}
	var out []dbapi.SCIMValue
	for _, g := range groups {
		out = append(out, dbapi.SCIMValue{Value: g.ID, Display: g.DisplayName, Ref: "Groups/" + g.ID, Type: "direct"})
	}
	return out, nil
}

// listIdentities answers the common part of a SCIM list request: the
// identities of kind k that r's filter selects, and of them the page that
// startIndex and count ask for, each as toJSON renders it (nil when the
// page is empty). total and startIndex are for the list response.
func listIdentities[T any](s *Server, r *request, k identityKind, toJSON func(*request, store.User) (T, error)) (items []T, total, startIndex int64, err error) {
	f, err := parseFilter(r.URL.Query().Get("filter"), k.filterAttrs...)
	if err != nil {
		return nil, 0, 0, err
	}
	all, err := s.st.ListUsers(r.Context())
	if err != nil {
		return nil, 0, 0, fmt.Errorf("list %ss: %w", strings.ToLower(k.noun), err)
	}
	selected := slices.DeleteFunc(all, func(u store.User) bool { return !k.of(u) || !k.matches(f, u) })
	start, end, startIndex, _ := page(r, len(selected))
	for _, u := range selected[start:end] {
		j, err := toJSON(r, u)
		if err != nil {
			return nil, 0, 0, err
		}
		items = append(items, j)
	}
	return items, int64(len(selected)), startIndex, nil
}

// createIdentity stores u, an identity of kind k, under a new numeric ID
// and creation time, then adds it to groups.
func (s *Server) createIdentity(r *request, k identityKind, u store.User, groups []dbapi.SCIMValue) (store.User, error) {
	id, err := newNumericID()
	if err != nil {
		return u, err
	}
	u.ID, u.CreatedAt = id, s.now()
	if err := s.st.CreateUser(r.Context(), u); errors.Is(err, store.ErrExists) {
		if k.servicePrincipals {
			return u, conflict("Service principal with application ID %s already exists.", u.UserName)
		}
		return u, s.nameTaken(r, "user", u.UserName)
	} else if err != nil {
		return u, fmt.Errorf("create %s: %w", strings.ToLower(k.noun), err)
	}
	for _, g := range groups {
		if err := s.addMembers(r, g.Value, []string{u.ID}); err != nil {
			return u, err
		}
	}
	return u, nil
}

// loadIdentity returns the identity of kind k named by r's {id}; one of
// the other kind is not found, as on Databricks.
func (s *Server) loadIdentity(r *request, k identityKind) (store.User, error) {
	id := r.PathValue("id")
	u, err := s.st.GetUser(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !k.of(u)) {
		return store.User{}, notFound("%s %s not found.", k.noun, id)
	}
	if err != nil {
		return u, fmt.Errorf("get %s: %w", strings.ToLower(k.noun), err)
	}
	return u, nil
}

// loadForEdit is loadIdentity for a request that changes the identity:
// only identity admins may.
func (s *Server) loadForEdit(r *request, k identityKind) (store.User, error) {
	if err := requireIdentityAdmin(r); err != nil {
		return store.User{}, err
	}
	return s.loadIdentity(r, k)
}

// deleteIdentity handles DELETE of a user or a service principal.
func (s *Server) deleteIdentity(r *request, k identityKind) (any, error) {
	u, err := s.loadForEdit(r, k)
	if err != nil {
		return nil, err
	}
	if err := s.removeUser(r, u, k.noun); err != nil {
		return nil, err
	}
	return dbapi.Empty{}, nil
}

// patchIdentity applies SCIM PATCH operations (replace or add of active,
// displayName, userName) to the identity r names: all are validated, then
// applied in one store transaction, so concurrent PATCHes of one identity
// never undo each other. A service principal's user name, its application
// ID, cannot change: ACLs and tokens name it.
func (s *Server) patchIdentity(r *request, k identityKind) (store.User, error) {
	u, err := s.loadForEdit(r, k)
	if err != nil {
		return u, err
	}
	var req dbapi.SCIMPatchRequest
	if err := decode(r, &req); err != nil {
		return u, err
	}
	var edits []userEdit
	for _, op := range req.Operations {
		e, err := patchUserOp(op)
		if err != nil {
			return u, err
		}
		edits = append(edits, e...)
	}
	return s.editUser(r, u.ID, func(u *store.User) error {
		name := u.UserName
		for _, e := range edits {
			e(u)
		}
		if k.servicePrincipals && u.UserName != name {
			return invalidParam("The applicationId of a service principal cannot change.")
		}
		return nil
	})
}
