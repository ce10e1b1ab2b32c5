package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hush-secrets/hush/internal/secrets"
	"github.com/hush-secrets/hush/internal/server/auth"
	"github.com/hush-secrets/hush/internal/server/store"
	"github.com/hush-secrets/hush/runtime/dbapi"
)

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

// builtinGroup reports whether name is one of the built-in groups, which no
// route may rename or delete.
func builtinGroup(name string) bool { return name == auth.GroupAdmins || name == auth.GroupUsers }

// renameGroup sets g's name to name, refusing to rename a built-in group;
// for use inside an EditGroup edit, where g is the group as stored.
func renameGroup(g *store.Group, name string) error {
	if name == "" || name == g.DisplayName {
		return nil
	}
	if builtinGroup(g.DisplayName) {
		return invalidParam("The built-in group %s cannot be renamed.", g.DisplayName)
	}
	g.DisplayName = name
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
	g, err := s.newGroup(r, req.DisplayName, members)
	if err != nil {
		return nil, err
	}
	return s.groupJSON(r, g), nil
}

// newGroup stores a new group (name already validated).
func (s *Server) newGroup(r *request, name string, members []string) (store.Group, error) {
	id, err := newNumericID()
	if err != nil {
		return store.Group{}, err
	}
	g := store.Group{ID: id, DisplayName: name, Members: members, CreatedAt: s.now()}
	if err := s.st.CreateGroup(r.Context(), g); errors.Is(err, store.ErrExists) {
		return store.Group{}, s.nameTaken(r, "group", name)
	} else if err != nil {
		return store.Group{}, fmt.Errorf("create group: %w", err)
	}
	return g, nil
}

func (s *Server) deleteGroup(r *request) (any, error) {
	if err := requireIdentityAdmin(r); err != nil {
		return nil, err
	}
	g, err := s.loadGroup(r, r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	if err := s.removeGroup(r, g); err != nil {
		return nil, err
	}
	return dbapi.Empty{}, nil
}

func (s *Server) putGroup(r *request) (any, error) {
	if err := requireIdentityAdmin(r); err != nil {
		return nil, err
	}
	id := r.PathValue("id")
	if _, err := s.loadGroup(r, id); err != nil {
		return nil, err
	}
	var req dbapi.SCIMGroup
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if req.DisplayName != "" {
		if err := validGroupName(req.DisplayName); err != nil {
			return nil, err
		}
	}
	members, err := s.memberIDs(r, req.Members)
	if err != nil {
		return nil, err
	}
	g, err := s.editGroup(r, id, func(g *store.Group) error {
		g.Members = members
		return renameGroup(g, req.DisplayName)
	})
	if err != nil {
		return nil, err
	}
	return s.groupJSON(r, g), nil
}

// addMembers adds users to a group, atomically (used by user creation with groups).
func (s *Server) addMembers(r *request, groupID string, users []string) error {
	_, err := s.editGroup(r, groupID, func(g *store.Group) error {
		g.AddMembers(users...)
		return nil
	})
	return err
}

// groupEdit is one validated change to a group, applied to the group as
// stored inside the store's transaction.
type groupEdit func(g *store.Group) error

// patchGroup applies SCIM PATCH operations: add members (path "members"
// with a list of {value}, or no path with {"members": [...]}), remove
// members (path `members[value eq "id"]`, or path "members" with a list),
// replace displayName. Every operation is validated first; then all of
// them are applied in one store transaction, so concurrent PATCHes of one
// group never undo each other.
func (s *Server) patchGroup(r *request) (any, error) {
	if err := requireIdentityAdmin(r); err != nil {
		return nil, err
	}
	id := r.PathValue("id")
	if _, err := s.loadGroup(r, id); err != nil {
		return nil, err
	}
	var req dbapi.SCIMPatchRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	edits := make([]groupEdit, 0, len(req.Operations))
	for _, op := range req.Operations {
		e, err := s.patchGroupOp(r, op)
		if err != nil {
			return nil, err
		}
		edits = append(edits, e...)
	}
	g, err := s.editGroup(r, id, func(g *store.Group) error {
		for _, e := range edits {
			if err := e(g); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.groupJSON(r, g), nil
}

// patchGroupOp validates one SCIM PATCH operation and returns the edits it makes.
func (s *Server) patchGroupOp(r *request, op dbapi.SCIMPatchOp) ([]groupEdit, error) {
	kind := strings.ToLower(op.Op)
	t, err := groupPatchTarget(kind, op)
	if err != nil {
		return nil, err
	}
	var edits []groupEdit
	if t.rename != "" {
		edits = append(edits, func(g *store.Group) error { return renameGroup(g, t.rename) })
	}
	if t.membersOp {
		e, err := s.patchMembers(r, kind, op.Op, t.vals)
		if err != nil {
			return nil, err
		}
		edits = append(edits, e)
	}
	return edits, nil
}

// patchTarget is what a group PATCH operation names: a new display name
// and/or members to add, remove or replace.
type patchTarget struct {
	rename    string
	vals      []dbapi.SCIMValue
	membersOp bool
}

// groupPatchTarget reads a PATCH operation's path and value.
func groupPatchTarget(kind string, op dbapi.SCIMPatchOp) (t patchTarget, err error) {
	path := op.Path
	if f := memberFilter(path); f != "" {
		path, t.vals = "members", []dbapi.SCIMValue{{Value: f}}
	}
	switch {
	case path == "" && op.Value != nil:
		var obj struct {
			Members     []dbapi.SCIMValue `json:"members"`
			DisplayName string            `json:"displayName"`
		}
		if err := remarshal(op.Value, &obj); err != nil {
			return t, err
		}
		t.vals, t.membersOp = obj.Members, true
		if obj.DisplayName != "" && kind == "replace" {
			if err := validGroupName(obj.DisplayName); err != nil {
				return t, err
			}
			t.rename = obj.DisplayName
		}
	case strings.EqualFold(path, "members"):
		if t.vals == nil && op.Value != nil {
			if err := remarshal(op.Value, &t.vals); err != nil {
				return t, err
			}
		}
		t.membersOp = true
	case strings.EqualFold(path, "displayName") && kind == "replace":
		name, _ := op.Value.(string)
		if err := validGroupName(name); err != nil {
			return t, err
		}
		t.rename = name
	default:
		return t, invalidParam("Unsupported PATCH path %q on a group: use members or displayName", op.Path)
	}
	return t, nil
}

// patchMembers validates an add, remove or replace (by kind, the
// lower-cased op) of the members vals names and returns it as an edit; op
// is the operation as sent, for the error.
func (s *Server) patchMembers(r *request, kind, op string, vals []dbapi.SCIMValue) (groupEdit, error) {
	switch kind {
	case "add":
		ids, err := s.memberIDs(r, vals)
		if err != nil {
			return nil, err
		}
		return func(g *store.Group) error { g.AddMembers(ids...); return nil }, nil
	case "remove":
		ids := make([]string, 0, len(vals))
		for _, v := range vals {
			ids = append(ids, v.Value)
		}
		return func(g *store.Group) error { g.RemoveMembers(ids...); return nil }, nil
	case "replace":
		if vals == nil {
			return func(*store.Group) error { return nil }, nil
		}
		ids, err := s.memberIDs(r, vals)
		if err != nil {
			return nil, err
		}
		return func(g *store.Group) error { g.Members = ids; return nil }, nil
	default:
		return nil, invalidParam("Unsupported PATCH op %q: use add, remove or replace", op)
	}
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
