package server

import (
	"crypto/rand"
	"fmt"
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
	groups, err := s.groupValues(r, u)
	out.Groups = groups
	return out, err
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
	u, err := s.createIdentity(r, spKind, store.User{UserName: appID, DisplayName: req.DisplayName,
		Active: req.Active == nil || *req.Active, ServicePrincipal: true}, req.Groups)
	if err != nil {
		return nil, err
	}
	return s.spJSON(r, u)
}

func (s *Server) listSPs(r *request) (any, error) {
	items, total, startIndex, err := listIdentities(s, r, spKind, s.spJSON)
	if err != nil {
		return nil, err
	}
	return dbapi.SCIMListServicePrincipals{Schemas: []string{dbapi.SchemaListResponse}, TotalResults: total,
		StartIndex: startIndex, ItemsPerPage: int64(len(items)), Resources: items}, nil
}

func (s *Server) getSP(r *request) (any, error) {
	u, err := s.loadIdentity(r, spKind)
	if err != nil {
		return nil, err
	}
	return s.spJSON(r, u)
}

func (s *Server) deleteSP(r *request) (any, error) { return s.deleteIdentity(r, spKind) }

// putSP replaces a service principal's display name and active flag (its
// application ID cannot change: ACLs and tokens name it).
func (s *Server) putSP(r *request) (any, error) {
	u, err := s.loadForEdit(r, spKind)
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

// patchSP applies SCIM PATCH operations of active and displayName with
// patchIdentity, which refuses a change of the application ID.
func (s *Server) patchSP(r *request) (any, error) {
	u, err := s.patchIdentity(r, spKind)
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
