package server

import (
	"errors"
	"fmt"

	"github.com/hush-secrets/hush/internal/server/store"
)

// Audit actions of identity deletions: the record's Key is the deleted
// principal's name and its Detail says how many ACLs went with it.
const (
	actUserDelete  = "users.delete"
	actGroupDelete = "groups.delete"
)

// lastAdminError answers a write the store refused with store.ErrLastAdmin.
func lastAdminError() *apiError {
	return invalidParam("The admins group must keep at least one active member: make another user an admin first.")
}

// nameTaken answers a create or rename to name that the store refused
// with store.ErrExists; kind is "user" or "group", what was written. It
// keeps Databricks' messages for a name taken by the same kind, and says
// why when a principal of the other kind holds it.
func (s *Server) nameTaken(r *request, kind, name string) *apiError {
	if kind == "user" {
		if _, err := s.st.GetGroupByName(r.Context(), name); err == nil {
			return conflict("A group named %s exists: user and group names must differ, since ACLs name both.", name)
		}
		return conflict("User with username %s already exists.", name)
	}
	if _, err := s.st.GetUserByName(r.Context(), name); err == nil {
		return conflict("A user named %s exists: user and group names must differ, since ACLs name both.", name)
	}
	return conflict("Group with name %s already exists.", name)
}

// editGroup applies edit to the group with id in one store transaction
// (SCIM PATCH and PUT, the Groups API 2.0) and maps the store's errors to
// API answers. edit runs on the group as stored and must not call the store.
func (s *Server) editGroup(r *request, id string, edit func(g *store.Group) error) (store.Group, error) {
	var tried string
	g, err := s.st.EditGroup(r.Context(), id, func(g *store.Group) error {
		err := edit(g)
		tried = g.DisplayName
		return err
	})
	var ae *apiError
	switch {
	case err == nil:
		return g, nil
	case errors.As(err, &ae):
		return g, ae
	case errors.Is(err, store.ErrNotFound):
		return g, notFound("Group %s not found.", id)
	case errors.Is(err, store.ErrExists):
		return g, s.nameTaken(r, "group", tried)
	case errors.Is(err, store.ErrLastAdmin):
		return g, lastAdminError()
	}
	return g, fmt.Errorf("edit group: %w", err)
}

// editUser is editGroup for users (SCIM PATCH and PUT).
func (s *Server) editUser(r *request, id string, edit func(u *store.User) error) (store.User, error) {
	var tried string
	u, err := s.st.EditUser(r.Context(), id, func(u *store.User) error {
		err := edit(u)
		tried = u.UserName
		return err
	})
	var ae *apiError
	switch {
	case err == nil:
		return u, nil
	case errors.As(err, &ae):
		return u, ae
	case errors.Is(err, store.ErrNotFound):
		return u, notFound("User %s not found.", id)
	case errors.Is(err, store.ErrExists):
		return u, s.nameTaken(r, "user", tried)
	case errors.Is(err, store.ErrLastAdmin):
		return u, lastAdminError()
	}
	return u, fmt.Errorf("edit user: %w", err)
}

// removeUser deletes u with its tokens, memberships and ACLs, and audits
// how many ACLs went with it. The deletion is audited before it is applied
// (audit fails closed), and its outcome with the ACL count after.
func (s *Server) removeUser(r *request, u store.User, kind string) error {
	if u.ID == r.id.User.ID {
		return invalidParam("You cannot delete yourself.")
	}
	if err := s.auditAhead(r, actUserDelete, "", u.UserName); err != nil {
		return err
	}
	n, err := s.st.DeleteUser(r.Context(), u.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound("%s %s not found.", kind, u.ID)
	case errors.Is(err, store.ErrLastAdmin):
		return lastAdminError()
	case err != nil:
		return fmt.Errorf("delete user: %w", err)
	}
	s.auditDeletion(r, actUserDelete, u.UserName, n)
	return nil
}

// removeGroup deletes g and its ACLs, refusing the built-in groups, and
// audits how many ACLs went with it.
func (s *Server) removeGroup(r *request, g store.Group) error {
	if builtinGroup(g.DisplayName) {
		return invalidParam("The built-in group %s cannot be deleted.", g.DisplayName)
	}
	if err := s.auditAhead(r, actGroupDelete, "", g.DisplayName); err != nil {
		return err
	}
	n, err := s.st.DeleteGroup(r.Context(), g.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound("Group %s not found.", g.ID)
	case errors.Is(err, store.ErrLastAdmin):
		return lastAdminError()
	case err != nil:
		return fmt.Errorf("delete group: %w", err)
	}
	s.auditDeletion(r, actGroupDelete, g.DisplayName, n)
	return nil
}

// auditDeletion records how many ACLs an applied deletion removed. The
// deletion itself was audited ahead; when this second record cannot be
// stored the change stays applied, so the failure is logged, not answered.
func (s *Server) auditDeletion(r *request, action, principal string, acls int) {
	detail := fmt.Sprintf("%d ACLs deleted", acls)
	if acls == 1 {
		detail = "1 ACL deleted"
	}
	if err := s.audit.record(r.Context(), store.Event{
		Time: s.now(), Actor: r.id.User.UserName, Action: action, Key: principal,
		Remote: r.remote, Allowed: true, Detail: detail,
	}); err != nil {
		s.log.Error("audit record of an applied deletion not stored", "action", action, "err", err)
	}
}
