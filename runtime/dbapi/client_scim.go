package dbapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// scimPageSize is how many resources one SCIM list request asks for.
const scimPageSize = 100

// Me returns the user the client's token belongs to.
func (c *Client) Me(ctx context.Context) (SCIMUser, error) {
	var out SCIMUser
	err := c.Do(ctx, http.MethodGet, PathSCIMMe, nil, nil, &out)
	return out, err
}

// ListUsers lists users, all pages, optionally with a SCIM filter such as
// `userName eq "alice"`.
func (c *Client) ListUsers(ctx context.Context, filter string) ([]SCIMUser, error) {
	var all []SCIMUser
	for start := int64(1); ; {
		var page SCIMListUsers
		if err := c.Do(ctx, http.MethodGet, PathSCIMUsers, scimQuery(filter, start), nil, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Resources...)
		start += int64(len(page.Resources))
		if len(page.Resources) == 0 || int64(len(all)) >= page.TotalResults {
			return all, nil
		}
	}
}

// GetUser returns a user by ID.
func (c *Client) GetUser(ctx context.Context, id string) (SCIMUser, error) {
	var out SCIMUser
	err := c.Do(ctx, http.MethodGet, PathSCIMUsers+"/"+url.PathEscape(id), nil, nil, &out)
	return out, err
}

// FindUser returns the user whose userName is name (compared
// case-insensitively, as SCIM does), or an *APIError matching
// ErrResourceDoesNotExist.
func (c *Client) FindUser(ctx context.Context, name string) (SCIMUser, error) {
	users, err := c.ListUsers(ctx, fmt.Sprintf("userName eq %s", strconv.Quote(name)))
	if err != nil {
		return SCIMUser{}, err
	}
	for _, u := range users {
		if strings.EqualFold(u.UserName, name) {
			return u, nil
		}
	}
	return SCIMUser{}, &APIError{StatusCode: http.StatusNotFound, ErrorCode: CodeResourceDoesNotExist, Message: fmt.Sprintf("User %s does not exist", name), Host: c.host}
}

// CreateUser creates a user; the answer carries its ID.
func (c *Client) CreateUser(ctx context.Context, u SCIMUser) (SCIMUser, error) {
	if len(u.Schemas) == 0 {
		u.Schemas = []string{SchemaUser}
	}
	var out SCIMUser
	err := c.Do(ctx, http.MethodPost, PathSCIMUsers, nil, u, &out)
	return out, err
}

// DeleteUser deletes a user by ID.
func (c *Client) DeleteUser(ctx context.Context, id string) error {
	return c.Do(ctx, http.MethodDelete, PathSCIMUsers+"/"+url.PathEscape(id), nil, nil, nil)
}

// ListGroups lists groups, all pages, optionally with a SCIM filter such as
// `displayName eq "admins"`.
func (c *Client) ListGroups(ctx context.Context, filter string) ([]SCIMGroup, error) {
	var all []SCIMGroup
	for start := int64(1); ; {
		var page SCIMListGroups
		if err := c.Do(ctx, http.MethodGet, PathSCIMGroups, scimQuery(filter, start), nil, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Resources...)
		start += int64(len(page.Resources))
		if len(page.Resources) == 0 || int64(len(all)) >= page.TotalResults {
			return all, nil
		}
	}
}

// GetGroup returns a group by ID.
func (c *Client) GetGroup(ctx context.Context, id string) (SCIMGroup, error) {
	var out SCIMGroup
	err := c.Do(ctx, http.MethodGet, PathSCIMGroups+"/"+url.PathEscape(id), nil, nil, &out)
	return out, err
}

// FindGroup returns the group whose displayName is name, or an *APIError
// matching ErrResourceDoesNotExist.
func (c *Client) FindGroup(ctx context.Context, name string) (SCIMGroup, error) {
	groups, err := c.ListGroups(ctx, fmt.Sprintf("displayName eq %s", strconv.Quote(name)))
	if err != nil {
		return SCIMGroup{}, err
	}
	for _, g := range groups {
		if g.DisplayName == name {
			return g, nil
		}
	}
	return SCIMGroup{}, &APIError{StatusCode: http.StatusNotFound, ErrorCode: CodeResourceDoesNotExist, Message: fmt.Sprintf("Group %s does not exist", name), Host: c.host}
}

// CreateGroup creates a group named name; the answer carries its ID.
func (c *Client) CreateGroup(ctx context.Context, name string) (SCIMGroup, error) {
	var out SCIMGroup
	err := c.Do(ctx, http.MethodPost, PathSCIMGroups, nil, SCIMGroup{Schemas: []string{SchemaGroup}, DisplayName: name}, &out)
	return out, err
}

// DeleteGroup deletes a group by ID.
func (c *Client) DeleteGroup(ctx context.Context, id string) error {
	return c.Do(ctx, http.MethodDelete, PathSCIMGroups+"/"+url.PathEscape(id), nil, nil, nil)
}

// PatchGroup applies SCIM PATCH operations to a group.
func (c *Client) PatchGroup(ctx context.Context, id string, ops ...SCIMPatchOp) error {
	return c.Do(ctx, http.MethodPatch, PathSCIMGroups+"/"+url.PathEscape(id), nil, SCIMPatchRequest{Schemas: []string{SchemaPatchOp}, Operations: ops}, nil)
}

// AddGroupMember adds the user or group with ID memberID to group groupID,
// with the PATCH the Databricks SDK sends.
func (c *Client) AddGroupMember(ctx context.Context, groupID, memberID string) error {
	return c.PatchGroup(ctx, groupID, SCIMPatchOp{Op: "add", Value: map[string]any{"members": []SCIMValue{{Value: memberID}}}})
}

// RemoveGroupMember removes the member with ID memberID from group groupID.
func (c *Client) RemoveGroupMember(ctx context.Context, groupID, memberID string) error {
	return c.PatchGroup(ctx, groupID, SCIMPatchOp{Op: "remove", Path: fmt.Sprintf("members[value eq %s]", strconv.Quote(memberID))})
}

func scimQuery(filter string, start int64) url.Values {
	q := url.Values{"startIndex": {strconv.FormatInt(start, 10)}, "count": {strconv.Itoa(scimPageSize)}}
	if filter != "" {
		q.Set("filter", filter)
	}
	return q
}
