package server

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/hush-secrets/hush/internal/secrets"
	"github.com/hush-secrets/hush/internal/server/auth"
	"github.com/hush-secrets/hush/internal/server/store"
	"github.com/hush-secrets/hush/runtime/dbapi"
)

// scimDefaultCount is the page size when the client gives none (Databricks' maximum).
const scimDefaultCount = 10000

func conflict(format string, args ...any) *apiError {
	return errf(http.StatusConflict, dbapi.CodeResourceAlreadyExists, format, args...)
}

func requireIdentityAdmin(r *request) error {
	if !r.id.IsAdmin() {
		return denied("Only admins can manage users and groups.")
	}
	return nil
}

func (s *Server) userJSON(r *request, u store.User) (dbapi.SCIMUser, error) {
	active := u.Active
	out := dbapi.SCIMUser{
		Schemas: []string{dbapi.SchemaUser}, ID: u.ID, UserName: u.UserName, DisplayName: u.DisplayName,
		Active: &active,
	}
	if strings.Contains(u.UserName, "@") {
		out.Emails = []dbapi.SCIMValue{{Value: u.UserName, Type: "work", Primary: true}}
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

func (s *Server) groupJSON(r *request, g store.Group) dbapi.SCIMGroup {
	out := dbapi.SCIMGroup{Schemas: []string{dbapi.SchemaGroup}, ID: g.ID, DisplayName: g.DisplayName, Meta: &dbapi.SCIMMeta{ResourceType: "WorkspaceGroup"}}
	for _, m := range g.Members {
		v := dbapi.SCIMValue{Value: m, Ref: "Users/" + m}
		if u, err := s.st.GetUser(r.Context(), m); err == nil {
			v.Display = u.UserName
			if u.ServicePrincipal {
				v.Display, v.Ref = u.DisplayName, "ServicePrincipals/"+m
			}
		}
		out.Members = append(out.Members, v)
	}
	return out
}

// filter is a parsed SCIM filter of the form `attr eq "value"`.
type filter struct{ attr, value string }

func parseFilter(q string, attrs ...string) (*filter, error) {
	q = strings.TrimSpace(q)
	if q == "" {
		return nil, nil
	}
	parts := strings.SplitN(q, " ", 3)
	if len(parts) != 3 || !strings.EqualFold(parts[1], "eq") {
		return nil, invalidParam("Unsupported filter %q: hush supports only `attribute eq \"value\"`", q)
	}
	val := strings.TrimSpace(parts[2])
	if uq, err := strconv.Unquote(val); err == nil {
		val = uq
	}
	for _, a := range attrs {
		if strings.EqualFold(parts[0], a) {
			return &filter{attr: a, value: val}, nil
		}
	}
	return nil, invalidParam("Unsupported filter attribute %q: use one of %s", parts[0], strings.Join(attrs, ", "))
}

// page applies SCIM startIndex (1-based) and count.
func page(r *request, n int) (start, end int, startIndex int64, err error) {
	q := r.URL.Query()
	startIndex = 1
	if v := q.Get("startIndex"); v != "" {
		startIndex, err = strconv.ParseInt(v, 10, 64)
		if err != nil || startIndex < 1 {
			startIndex = 1
		}
	}
	count := int64(scimDefaultCount)
	if v := q.Get("count"); v != "" {
		if c, perr := strconv.ParseInt(v, 10, 64); perr == nil && c >= 0 {
			count = min(c, scimDefaultCount)
		}
	}
	start = int(min(startIndex-1, int64(n)))
	end = int(min(int64(start)+count, int64(n)))
	return start, end, startIndex, nil
}

func (s *Server) listUsers(r *request) (any, error) {
	f, err := parseFilter(r.URL.Query().Get("filter"), "userName", "id", "displayName")
	if err != nil {
		return nil, err
	}
	users, err := s.st.ListUsers(r.Context())
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	users = slices.DeleteFunc(users, func(u store.User) bool { return u.ServicePrincipal })
	if f != nil {
		users = slices.DeleteFunc(users, func(u store.User) bool {
			switch f.attr {
			case "userName":
				return !strings.EqualFold(u.UserName, f.value)
			case "id":
				return u.ID != f.value
			default:
				return u.DisplayName != f.value
			}
		})
	}
	start, end, startIndex, _ := page(r, len(users))
	resp := dbapi.SCIMListUsers{Schemas: []string{dbapi.SchemaListResponse}, TotalResults: int64(len(users)), StartIndex: startIndex, ItemsPerPage: int64(end - start)}
	for _, u := range users[start:end] {
		j, err := s.userJSON(r, u)
		if err != nil {
			return nil, err
		}
		resp.Resources = append(resp.Resources, j)
	}
	return resp, nil
}

func (s *Server) me(r *request) (any, error) {
	return s.userJSON(r, r.id.User)
}

func (s *Server) loadUser(r *request) (store.User, error) {
	id := r.PathValue("id")
	u, err := s.st.GetUser(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && u.ServicePrincipal) {
		return store.User{}, notFound("User %s not found.", id)
	}
	if err != nil {
		return u, fmt.Errorf("get user: %w", err)
	}
	return u, nil
}

func (s *Server) getUser(r *request) (any, error) {
	u, err := s.loadUser(r)
	if err != nil {
		return nil, err
	}
	return s.userJSON(r, u)
}

func validUserName(name string) error {
	if name == "" {
		return invalidParam("Missing required field: userName")
	}
	if err := secrets.ValidateName("user", name); err != nil {
		return invalidParam("%s", capitalize(err.Error()))
	}
	if name == auth.GroupUsers || name == auth.GroupAdmins {
		return invalidParam("User name %s is reserved for a built-in group.", name)
	}
	return nil
}

func (s *Server) createUser(r *request) (any, error) {
	if err := requireIdentityAdmin(r); err != nil {
		return nil, err
	}
	var req dbapi.SCIMUser
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if err := validUserName(req.UserName); err != nil {
		return nil, err
	}
	id, err := newNumericID()
	if err != nil {
		return nil, err
	}
	u := store.User{ID: id, UserName: req.UserName, DisplayName: displayName(req), Active: req.Active == nil || *req.Active, CreatedAt: s.now()}
	if err := s.st.CreateUser(r.Context(), u); errors.Is(err, store.ErrExists) {
		return nil, s.nameTaken(r, "user", req.UserName)
	} else if err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	for _, g := range req.Groups {
		if err := s.addMembers(r, g.Value, []string{u.ID}); err != nil {
			return nil, err
		}
	}
	return s.userJSON(r, u)
}

func displayName(u dbapi.SCIMUser) string {
	if u.DisplayName != "" {
		return u.DisplayName
	}
	if u.Name != nil {
		return strings.TrimSpace(u.Name.GivenName + " " + u.Name.FamilyName)
	}
	return ""
}

func (s *Server) deleteUser(r *request) (any, error) {
	if err := requireIdentityAdmin(r); err != nil {
		return nil, err
	}
	u, err := s.loadUser(r)
	if err != nil {
		return nil, err
	}
	if err := s.removeUser(r, u, "User"); err != nil {
		return nil, err
	}
	return dbapi.Empty{}, nil
}

func (s *Server) putUser(r *request) (any, error) {
	if err := requireIdentityAdmin(r); err != nil {
		return nil, err
	}
	u, err := s.loadUser(r)
	if err != nil {
		return nil, err
	}
	var req dbapi.SCIMUser
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if req.UserName != "" {
		if err := validUserName(req.UserName); err != nil {
			return nil, err
		}
	}
	u, err = s.editUser(r, u.ID, func(u *store.User) error {
		if req.UserName != "" {
			u.UserName = req.UserName
		}
		u.DisplayName = displayName(req)
		u.Active = req.Active == nil || *req.Active
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.userJSON(r, u)
}

// userEdit is one validated change to a user, applied to the user as
// stored inside the store's transaction.
type userEdit func(u *store.User)

// patchUser applies SCIM PATCH operations (replace or add of active,
// displayName, userName): all are validated, then applied in one store
// transaction, so concurrent PATCHes of one user never undo each other.
func (s *Server) patchUser(r *request) (any, error) {
	if err := requireIdentityAdmin(r); err != nil {
		return nil, err
	}
	u, err := s.loadUser(r)
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
		for _, e := range edits {
			e(u)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.userJSON(r, u)
}

// patchUserOp validates one PATCH operation on a user and returns its edits.
func patchUserOp(op dbapi.SCIMPatchOp) ([]userEdit, error) {
	if !strings.EqualFold(op.Op, "replace") && !strings.EqualFold(op.Op, "add") {
		return nil, invalidParam("Unsupported PATCH op %q on a user: use replace", op.Op)
	}
	fields := map[string]any{}
	if op.Path != "" {
		fields[op.Path] = op.Value
	} else if m, ok := op.Value.(map[string]any); ok {
		fields = m
	}
	var edits []userEdit
	for k, v := range fields {
		e, err := patchUserField(k, v)
		if err != nil {
			return nil, err
		}
		edits = append(edits, e)
	}
	return edits, nil
}

func patchUserField(k string, v any) (userEdit, error) {
	switch strings.ToLower(k) {
	case "active":
		b, ok := v.(bool)
		if !ok {
			return nil, invalidParam("active must be a boolean")
		}
		return func(u *store.User) { u.Active = b }, nil
	case "displayname":
		str, ok := v.(string)
		if !ok {
			return nil, invalidParam("displayName must be a string")
		}
		return func(u *store.User) { u.DisplayName = str }, nil
	case "username":
		str, ok := v.(string)
		if !ok {
			return nil, invalidParam("userName must be a string")
		}
		if err := validUserName(str); err != nil {
			return nil, err
		}
		return func(u *store.User) { u.UserName = str }, nil
	}
	return nil, invalidParam("Unsupported PATCH path %q on a user: use active, displayName or userName", k)
}
