package server

import (
	"encoding/json"
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
	if errors.Is(err, store.ErrNotFound) {
		return u, notFound("User %s not found.", id)
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
		return nil, conflict("User with username %s already exists.", req.UserName)
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
	if u.ID == r.id.User.ID {
		return nil, invalidParam("You cannot delete yourself.")
	}
	if err := s.st.DeleteUser(r.Context(), u.ID); errors.Is(err, store.ErrNotFound) {
		return nil, notFound("User %s not found.", u.ID)
	} else if err != nil {
		return nil, fmt.Errorf("delete user: %w", err)
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
		u.UserName = req.UserName
	}
	u.DisplayName = displayName(req)
	u.Active = req.Active == nil || *req.Active
	return s.saveUser(r, u)
}

func (s *Server) saveUser(r *request, u store.User) (any, error) {
	if err := s.st.UpdateUser(r.Context(), u); errors.Is(err, store.ErrExists) {
		return nil, conflict("User with username %s already exists.", u.UserName)
	} else if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("User %s not found.", u.ID)
	} else if err != nil {
		return nil, fmt.Errorf("update user: %w", err)
	}
	return s.userJSON(r, u)
}

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
	for _, op := range req.Operations {
		if !strings.EqualFold(op.Op, "replace") && !strings.EqualFold(op.Op, "add") {
			return nil, invalidParam("Unsupported PATCH op %q on a user: use replace", op.Op)
		}
		fields := map[string]any{}
		if op.Path != "" {
			fields[op.Path] = op.Value
		} else if m, ok := op.Value.(map[string]any); ok {
			fields = m
		}
		for k, v := range fields {
			switch strings.ToLower(k) {
			case "active":
				b, ok := v.(bool)
				if !ok {
					return nil, invalidParam("active must be a boolean")
				}
				u.Active = b
			case "displayname":
				str, ok := v.(string)
				if !ok {
					return nil, invalidParam("displayName must be a string")
				}
				u.DisplayName = str
			case "username":
				str, ok := v.(string)
				if !ok {
					return nil, invalidParam("userName must be a string")
				}
				if err := validUserName(str); err != nil {
					return nil, err
				}
				u.UserName = str
			default:
				return nil, invalidParam("Unsupported PATCH path %q on a user: use active, displayName or userName", k)
			}
		}
	}
	return s.saveUser(r, u)
}

func (s *Server) listGroups(r *request) (any, error) {
	f, err := parseFilter(r.URL.Query().Get("filter"), "displayName", "id")
	if err != nil {
		return nil, err
	}
	groups, err := s.st.ListGroups(r.Context())
	if err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	if f != nil {
		groups = slices.DeleteFunc(groups, func(g store.Group) bool {
			if f.attr == "id" {
				return g.ID != f.value
			}
			return g.DisplayName != f.value
		})
	}
	start, end, startIndex, _ := page(r, len(groups))
	resp := dbapi.SCIMListGroups{Schemas: []string{dbapi.SchemaListResponse}, TotalResults: int64(len(groups)), StartIndex: startIndex, ItemsPerPage: int64(end - start)}
	for _, g := range groups[start:end] {
		resp.Resources = append(resp.Resources, s.groupJSON(r, g))
	}
	return resp, nil
}

func (s *Server) loadGroup(r *request, id string) (store.Group, error) {
	g, err := s.st.GetGroup(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return g, notFound("Group %s not found.", id)
	}
	if err != nil {
		return g, fmt.Errorf("get group: %w", err)
	}
	return g, nil
}

func (s *Server) getGroup(r *request) (any, error) {
	g, err := s.loadGroup(r, r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	return s.groupJSON(r, g), nil
}

func validGroupName(name string) error {
	if name == "" {
		return invalidParam("Missing required field: displayName")
	}
	if err := secrets.ValidateName("group", name); err != nil {
		return invalidParam("%s", capitalize(err.Error()))
	}
	if name == auth.GroupUsers {
		return conflict("Group with name %s already exists.", name)
	}
	return nil
}

// memberIDs checks that every member names an existing user.
func (s *Server) memberIDs(r *request, vals []dbapi.SCIMValue) ([]string, error) {
	ids := make([]string, 0, len(vals))
	for _, v := range vals {
		if _, err := s.st.GetUser(r.Context(), v.Value); errors.Is(err, store.ErrNotFound) {
			return nil, invalidParam("Member %s is not a user.", v.Value)
		} else if err != nil {
			return nil, fmt.Errorf("get user: %w", err)
		}
		if !slices.Contains(ids, v.Value) {
			ids = append(ids, v.Value)
		}
	}
	return ids, nil
}

func (s *Server) createGroup(r *request) (any, error) {
	if err := requireIdentityAdmin(r); err != nil {
		return nil, err
	}
	var req dbapi.SCIMGroup
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if err := validGroupName(req.DisplayName); err != nil {
		return nil, err
	}
	members, err := s.memberIDs(r, req.Members)
	if err != nil {
		return nil, err
	}
	id, err := newNumericID()
	if err != nil {
		return nil, err
	}
	g := store.Group{ID: id, DisplayName: req.DisplayName, Members: members, CreatedAt: s.now()}
	if err := s.st.CreateGroup(r.Context(), g); errors.Is(err, store.ErrExists) {
		return nil, conflict("Group with name %s already exists.", req.DisplayName)
	} else if err != nil {
		return nil, fmt.Errorf("create group: %w", err)
	}
	return s.groupJSON(r, g), nil
}

func (s *Server) deleteGroup(r *request) (any, error) {
	if err := requireIdentityAdmin(r); err != nil {
		return nil, err
	}
	g, err := s.loadGroup(r, r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	if g.DisplayName == auth.GroupAdmins {
		return nil, invalidParam("The built-in group admins cannot be deleted.")
	}
	if err := s.st.DeleteGroup(r.Context(), g.ID); errors.Is(err, store.ErrNotFound) {
		return nil, notFound("Group %s not found.", g.ID)
	} else if err != nil {
		return nil, fmt.Errorf("delete group: %w", err)
	}
	return dbapi.Empty{}, nil
}

func (s *Server) putGroup(r *request) (any, error) {
	if err := requireIdentityAdmin(r); err != nil {
		return nil, err
	}
	g, err := s.loadGroup(r, r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	var req dbapi.SCIMGroup
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if req.DisplayName != "" && req.DisplayName != g.DisplayName {
		if g.DisplayName == auth.GroupAdmins {
			return nil, invalidParam("The built-in group admins cannot be renamed.")
		}
		if err := validGroupName(req.DisplayName); err != nil {
			return nil, err
		}
		g.DisplayName = req.DisplayName
	}
	members, err := s.memberIDs(r, req.Members)
	if err != nil {
		return nil, err
	}
	g.Members = members
	if err := s.saveGroup(r, g); err != nil {
		return nil, err
	}
	return s.groupJSON(r, g), nil
}

func (s *Server) saveGroup(r *request, g store.Group) error {
	if g.DisplayName == auth.GroupAdmins && len(g.Members) == 0 {
		return invalidParam("The admins group must keep at least one member.")
	}
	if err := s.st.UpdateGroup(r.Context(), g); errors.Is(err, store.ErrExists) {
		return conflict("Group with name %s already exists.", g.DisplayName)
	} else if errors.Is(err, store.ErrNotFound) {
		return notFound("Group %s not found.", g.ID)
	} else if err != nil {
		return fmt.Errorf("update group: %w", err)
	}
	return nil
}

// addMembers adds users to a group (used by user creation with groups).
func (s *Server) addMembers(r *request, groupID string, users []string) error {
	g, err := s.loadGroup(r, groupID)
	if err != nil {
		return err
	}
	for _, u := range users {
		if !slices.Contains(g.Members, u) {
			g.Members = append(g.Members, u)
		}
	}
	return s.saveGroup(r, g)
}

// patchGroup applies SCIM PATCH operations: add members (path "members"
// with a list of {value}, or no path with {"members": [...]}), remove
// members (path `members[value eq "id"]`, or path "members" with a list),
// replace displayName.
func (s *Server) patchGroup(r *request) (any, error) {
	if err := requireIdentityAdmin(r); err != nil {
		return nil, err
	}
	g, err := s.loadGroup(r, r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	var req dbapi.SCIMPatchRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	for _, op := range req.Operations {
		if err := s.patchGroupOp(r, &g, op); err != nil {
			return nil, err
		}
	}
	if err := s.saveGroup(r, g); err != nil {
		return nil, err
	}
	return s.groupJSON(r, g), nil
}

// patchGroupOp applies one SCIM PATCH operation to g (not yet saved).
func (s *Server) patchGroupOp(r *request, g *store.Group, op dbapi.SCIMPatchOp) error {
	kind := strings.ToLower(op.Op)
	vals, membersOp, err := groupPatchTarget(g, kind, op)
	if err != nil || !membersOp {
		return err
	}
	return s.patchMembers(r, g, kind, op.Op, vals)
}

// groupPatchTarget reads a PATCH operation's path and value. A displayName
// replace it applies to g itself; otherwise it returns the member values
// the operation names, and membersOp true when those members are to be
// added, removed or replaced.
func groupPatchTarget(g *store.Group, kind string, op dbapi.SCIMPatchOp) (vals []dbapi.SCIMValue, membersOp bool, err error) {
	path := op.Path
	if f := memberFilter(path); f != "" {
		path, vals = "members", []dbapi.SCIMValue{{Value: f}}
	}
	switch {
	case path == "" && op.Value != nil:
		var obj struct {
			Members     []dbapi.SCIMValue `json:"members"`
			DisplayName string            `json:"displayName"`
		}
		if err := remarshal(op.Value, &obj); err != nil {
			return nil, false, err
		}
		vals = obj.Members
		if obj.DisplayName != "" && kind == "replace" {
			if err := validGroupName(obj.DisplayName); err != nil {
				return nil, false, err
			}
			g.DisplayName = obj.DisplayName
		}
	case strings.EqualFold(path, "members"):
		if vals == nil && op.Value != nil {
			if err := remarshal(op.Value, &vals); err != nil {
				return nil, false, err
			}
		}
	case strings.EqualFold(path, "displayName") && kind == "replace":
		name, _ := op.Value.(string)
		if err := validGroupName(name); err != nil {
			return nil, false, err
		}
		g.DisplayName = name
		return nil, false, nil
	default:
		return nil, false, invalidParam("Unsupported PATCH path %q on a group: use members or displayName", op.Path)
	}
	return vals, true, nil
}

// patchMembers adds, removes or replaces (by kind, the lower-cased op) the
// members vals names in g; op is the operation as sent, for the error.
func (s *Server) patchMembers(r *request, g *store.Group, kind, op string, vals []dbapi.SCIMValue) error {
	switch kind {
	case "add":
		ids, err := s.memberIDs(r, vals)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if !slices.Contains(g.Members, id) {
				g.Members = append(g.Members, id)
			}
		}
	case "remove":
		for _, v := range vals {
			g.Members = slices.DeleteFunc(g.Members, func(m string) bool { return m == v.Value })
		}
	case "replace":
		if vals != nil {
			ids, err := s.memberIDs(r, vals)
			if err != nil {
				return err
			}
			g.Members = ids
		}
	default:
		return invalidParam("Unsupported PATCH op %q: use add, remove or replace", op)
	}
	return nil
}

// memberFilter extracts ID from a path like `members[value eq "ID"]`.
func memberFilter(path string) string {
	rest, ok := strings.CutPrefix(path, "members[")
	if !ok {
		return ""
	}
	rest, ok = strings.CutSuffix(rest, "]")
	if !ok {
		return ""
	}
	f, err := parseFilter(rest, "value")
	if err != nil || f == nil {
		return ""
	}
	return f.value
}

func remarshal(in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return invalidParam("Invalid PATCH value")
	}
	if err := json.Unmarshal(b, out); err != nil {
		return invalidParam("Invalid PATCH value: %s", jsonProblem(err))
	}
	return nil
}
