package server

import (
	"errors"
	"fmt"

	"github.com/hush-secrets/hush/internal/server/store"
	"github.com/hush-secrets/hush/runtime/dbapi"
)

// The Groups API 2.0, which the legacy Databricks CLI calls: groups named
// by name, members by user name. Writes are admin-only and go through the
// same atomic store operations as SCIM; reads are open to every user, as
// SCIM reads are. hush groups hold users only: a nested group member is
// refused with a clear error.

// groupByName loads a group by name: RESOURCE_DOES_NOT_EXIST when missing.
func (s *Server) groupByName(r *request, name string) (store.Group, error) {
	if err := required("group_name", name); err != nil {
		return store.Group{}, err
	}
	g, err := s.st.GetGroupByName(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		return g, notFound("Group %s does not exist.", name)
	}
	if err != nil {
		return g, fmt.Errorf("get group: %w", err)
	}
	return g, nil
}

// queryOrBody reads the GET parameters of the Groups API from the query
// string, or from a JSON body (which some clients send with GET).
func queryOrBody(r *request, v *dbapi.GroupMemberRequest) error {
	q := r.URL.Query()
	v.UserName, v.GroupName = q.Get("user_name"), q.Get("group_name")
	if v.UserName == "" && v.GroupName == "" {
		return decode(r, v)
	}
	return nil
}

func (s *Server) groups20Create(r *request) (any, error) {
	if err := requireIdentityAdmin(r); err != nil {
		return nil, err
	}
	var req dbapi.GroupNameRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if err := required("group_name", req.GroupName); err != nil {
		return nil, err
	}
	if err := validGroupName(req.GroupName); err != nil {
		return nil, err
	}
	g, err := s.newGroup(r, req.GroupName, nil)
	if err != nil {
		return nil, err
	}
	return dbapi.GroupNameRequest{GroupName: g.DisplayName}, nil
}

func (s *Server) groups20List(r *request) (any, error) {
	groups, err := s.st.ListGroups(r.Context())
	if err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	out := dbapi.GroupNamesResponse{GroupNames: make([]string, 0, len(groups))}
	for _, g := range groups {
		out.GroupNames = append(out.GroupNames, g.DisplayName)
	}
	return out, nil
}

func (s *Server) groups20ListMembers(r *request) (any, error) {
	var req dbapi.GroupMemberRequest
	if err := queryOrBody(r, &req); err != nil {
		return nil, err
	}
	g, err := s.groupByName(r, req.GroupName)
	if err != nil {
		return nil, err
	}
	out := dbapi.GroupMembersResponse{Members: make([]dbapi.GroupMember, 0, len(g.Members))}
	for _, id := range g.Members {
		u, err := s.st.GetUser(r.Context(), id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("get user: %w", err)
		}
		out.Members = append(out.Members, dbapi.GroupMember{UserName: u.UserName})
	}
	return out, nil
}

// groups20Member resolves the member and parent of add-member and remove-member.
func (s *Server) groups20Member(r *request) (store.User, store.Group, error) {
	var req dbapi.GroupMemberRequest
	if err := decode(r, &req); err != nil {
		return store.User{}, store.Group{}, err
	}
	if err := required("parent_name", req.ParentName); err != nil {
		return store.User{}, store.Group{}, err
	}
	if req.UserName == "" {
		if req.GroupName != "" {
			return store.User{}, store.Group{}, invalidParam("hush groups hold users only: a group cannot be a member of %s.", req.ParentName)
		}
		return store.User{}, store.Group{}, invalidParam("Missing required field: user_name")
	}
	parent, err := s.groupByName(r, req.ParentName)
	if err != nil {
		return store.User{}, store.Group{}, err
	}
	u, err := s.st.GetUserByName(r.Context(), req.UserName)
	if errors.Is(err, store.ErrNotFound) {
		return u, parent, notFound("User %s does not exist.", req.UserName)
	}
	if err != nil {
		return u, parent, fmt.Errorf("get user: %w", err)
	}
	return u, parent, nil
}

func (s *Server) groups20AddMember(r *request) (any, error) {
	if err := requireIdentityAdmin(r); err != nil {
		return nil, err
	}
	u, g, err := s.groups20Member(r)
	if err != nil {
		return nil, err
	}
	if _, err := s.editGroup(r, g.ID, func(g *store.Group) error { g.AddMembers(u.ID); return nil }); err != nil {
		return nil, err
	}
	return dbapi.Empty{}, nil
}

func (s *Server) groups20RemoveMember(r *request) (any, error) {
	if err := requireIdentityAdmin(r); err != nil {
		return nil, err
	}
	u, g, err := s.groups20Member(r)
	if err != nil {
		return nil, err
	}
	if _, err := s.editGroup(r, g.ID, func(g *store.Group) error { g.RemoveMembers(u.ID); return nil }); err != nil {
		return nil, err
	}
	return dbapi.Empty{}, nil
}

func (s *Server) groups20ListParents(r *request) (any, error) {
	var req dbapi.GroupMemberRequest
	if err := queryOrBody(r, &req); err != nil {
		return nil, err
	}
	out := dbapi.GroupNamesResponse{GroupNames: []string{}}
	if req.UserName == "" {
		// Groups are never nested in hush: a group has no parents.
		if _, err := s.groupByName(r, req.GroupName); err != nil {
			return nil, err
		}
		return out, nil
	}
	u, err := s.st.GetUserByName(r.Context(), req.UserName)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("User %s does not exist.", req.UserName)
	}
	if err != nil {
		return nil, fmt.Errorf("get user: %w", err)
	}
	groups, err := s.st.GroupsOf(r.Context(), u.ID)
	if err != nil {
		return nil, fmt.Errorf("groups of %s: %w", u.UserName, err)
	}
	for _, g := range groups {
		out.GroupNames = append(out.GroupNames, g.DisplayName)
	}
	return out, nil
}

func (s *Server) groups20Delete(r *request) (any, error) {
	if err := requireIdentityAdmin(r); err != nil {
		return nil, err
	}
	var req dbapi.GroupNameRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	g, err := s.groupByName(r, req.GroupName)
	if err != nil {
		return nil, err
	}
	if err := s.removeGroup(r, g); err != nil {
		return nil, err
	}
	return dbapi.Empty{}, nil
}

// groups20Routes adds the Groups API 2.0 routes.
func (s *Server) groups20Routes(post, get func(string, handlerFunc)) {
	post(dbapi.PathGroupsCreate, s.groups20Create)
	get(dbapi.PathGroupsList, s.groups20List)
	get(dbapi.PathGroupsListMembers, s.groups20ListMembers)
	post(dbapi.PathGroupsAddMember, s.groups20AddMember)
	post(dbapi.PathGroupsRemoveMember, s.groups20RemoveMember)
	get(dbapi.PathGroupsListParents, s.groups20ListParents)
	post(dbapi.PathGroupsDelete, s.groups20Delete)
}
