package server

import (
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hush-secrets/hush/internal/server/store"
	"github.com/hush-secrets/hush/runtime/dbapi"
)

// SCIM ServicePrincipals, as on Databricks: a service principal is stored
// as a user flagged ServicePrincipal whose user name is its application ID
// (a UUID), so ACLs and on-behalf-of tokens name it by that ID and the
// token, group and ACL machinery of users applies unchanged. The Users
// endpoints do not show service principals, nor these endpoints users.

// newApplicationID returns a random (version 4) UUID, the shape of a
// Databricks application ID.
func newApplicationID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate application id: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}

// validApplicationID checks the 8-4-4-4-12 hex digit shape of a UUID.
func validApplicationID(id string) error {
	parts := strings.Split(id, "-")
	ok := len(parts) == 5
	for i, n := range []int{8, 4, 4, 4, 12} {
		if !ok || len(parts[i]) != n || strings.Trim(strings.ToLower(parts[i]), "0123456789abcdef") != "" {
			ok = false
			break
		}
	}
	if !ok {
		return invalidParam("applicationId must be a UUID such as 8f2c6a1e-3b4d-4c5e-9f60-7a8b9c0d1e2f.")
	}
	return nil
}

func (s *Server) spJSON(r *request, u store.User) (dbapi.SCIMServicePrincipal, error) {
	active := u.Active
	out := dbapi.SCIMServicePrincipal{
		Schemas: []string{dbapi.SchemaServicePrincipal}, ID: u.ID, ApplicationID: u.UserName,
		DisplayName: u.DisplayName, Active: &active,
	}
	groups, err := s.st.GroupsOf(r.Context(), u.ID)
	if err != nil {
		return out, fmt.Errorf("groups of %s: %w", u.UserName, err)
	}
	for _, g := range groups {
		out.Groups = append(out.Groups, dbapi.SCIMValue{Value: g.ID, Display: g.DisplayName, Ref: "Groups/" + g.ID, Type: "direct"})
	}
	return out, nil
}

func (s *Server) loadSP(r *request) (store.User, error) {
	id := r.PathValue("id")
	u, err := s.st.GetUser(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !u.ServicePrincipal) {
		return store.User{}, notFound("Service principal %s not found.", id)
	}
	if err != nil {
		return u, fmt.Errorf("get service principal: %w", err)
	}
	return u, nil
}

func (s *Server) createSP(r *request) (any, error) {
	if err := requireIdentityAdmin(r); err != nil {
		return nil, err
	}
	var req dbapi.SCIMServicePrincipal
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	appID := req.ApplicationID
	if appID == "" {
		var err error
		if appID, err = newApplicationID(); err != nil {
			return nil, err
		}
	} else if err := validApplicationID(appID); err != nil {
		return nil, err
	}
	id, err := newNumericID()
	if err != nil {
		return nil, err
	}
	u := store.User{ID: id, UserName: appID, DisplayName: req.DisplayName, Active: req.Active == nil || *req.Active,
		CreatedAt: s.now(), ServicePrincipal: true}
	if err := s.st.CreateUser(r.Context(), u); errors.Is(err, store.ErrExists) {
		return nil, conflict("Service principal with application ID %s already exists.", appID)
	} else if err != nil {
		return nil, fmt.Errorf("create service principal: %w", err)
	}
	for _, g := range req.Groups {
		if err := s.addMembers(r, g.Value, []string{u.ID}); err != nil {
			return nil, err
		}
	}
	return s.spJSON(r, u)
}

func (s *Server) listSPs(r *request) (any, error) {
	f, err := parseFilter(r.URL.Query().Get("filter"), "applicationId", "displayName", "id")
	if err != nil {
		return nil, err
	}
	all, err := s.st.ListUsers(r.Context())
	if err != nil {
		return nil, fmt.Errorf("list service principals: %w", err)
	}
	sps := slices.DeleteFunc(all, func(u store.User) bool {
		if !u.ServicePrincipal {
			return true
		}
		switch {
		case f == nil:
			return false
		case f.attr == "applicationId":
			return !strings.EqualFold(u.UserName, f.value)
		case f.attr == "id":
			return u.ID != f.value
		}
		return u.DisplayName != f.value
	})
	start, end, startIndex, _ := page(r, len(sps))
	resp := dbapi.SCIMListServicePrincipals{Schemas: []string{dbapi.SchemaListResponse}, TotalResults: int64(len(sps)), StartIndex: startIndex, ItemsPerPage: int64(end - start)}
	for _, u := range sps[start:end] {
		j, err := s.spJSON(r, u)
		if err != nil {
			return nil, err
		}
		resp.Resources = append(resp.Resources, j)
	}
	return resp, nil
}

func (s *Server) getSP(r *request) (any, error) {
	u, err := s.loadSP(r)
	if err != nil {
		return nil, err
	}
	return s.spJSON(r, u)
}

func (s *Server) deleteSP(r *request) (any, error) {
	if err := requireIdentityAdmin(r); err != nil {
		return nil, err
	}
	u, err := s.loadSP(r)
	if err != nil {
		return nil, err
	}
	if err := s.removeUser(r, u, "Service principal"); err != nil {
		return nil, err
	}
	return dbapi.Empty{}, nil
}

// putSP replaces a service principal's display name and active flag (its
// application ID cannot change: ACLs and tokens name it).
func (s *Server) putSP(r *request) (any, error) {
	if err := requireIdentityAdmin(r); err != nil {
		return nil, err
	}
	u, err := s.loadSP(r)
	if err != nil {
		return nil, err
	}
	var req dbapi.SCIMServicePrincipal
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if req.ApplicationID != "" && req.ApplicationID != u.UserName {
		return nil, invalidParam("The applicationId of a service principal cannot change.")
	}
	u, err = s.editUser(r, u.ID, func(u *store.User) error {
		u.DisplayName = req.DisplayName
		u.Active = req.Active == nil || *req.Active
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.spJSON(r, u)
}

// patchSP applies SCIM PATCH replace operations of active and displayName.
func (s *Server) patchSP(r *request) (any, error) {
	if err := requireIdentityAdmin(r); err != nil {
		return nil, err
	}
	u, err := s.loadSP(r)
	if err != nil {
		return nil, err
	}
	var req dbapi.SCIMPatchRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	var edits []userEdit
	for _, op := range req.Operations {
		e, err := patchUserOp(op)
		if err != nil {
			return nil, err
		}
		edits = append(edits, e...)
	}
	u, err = s.editUser(r, u.ID, func(u *store.User) error {
		name := u.UserName
		for _, e := range edits {
			e(u)
		}
		if u.UserName != name {
			return invalidParam("The applicationId of a service principal cannot change.")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.spJSON(r, u)
}

// spRoutes adds the SCIM ServicePrincipals routes.
func (s *Server) spRoutes(add func(route)) {
	add(route{pattern: dbapi.PathSCIMServicePrincipals, methods: map[string]handlerFunc{
		"GET": s.listSPs, "POST": s.createSP}})
	add(route{pattern: dbapi.PathSCIMServicePrincipals + "/{id}", methods: map[string]handlerFunc{
		"GET": s.getSP, "DELETE": s.deleteSP, "PATCH": s.patchSP, "PUT": s.putSP}})
}
