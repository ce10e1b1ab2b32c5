package dbapi

// Paths of the Groups API 2.0, the name-based group API that the legacy
// Databricks CLI (`databricks groups …`) calls. Groups hold users only in
// hush, so a member is always a user name.
const (
	PathGroupsCreate       = "/api/2.0/groups/create"
	PathGroupsList         = "/api/2.0/groups/list"
	PathGroupsListMembers  = "/api/2.0/groups/list-members"
	PathGroupsAddMember    = "/api/2.0/groups/add-member"
	PathGroupsRemoveMember = "/api/2.0/groups/remove-member"
	PathGroupsListParents  = "/api/2.0/groups/list-parents"
	PathGroupsDelete       = "/api/2.0/groups/delete"
)

// GroupNameRequest is the body of groups/create and groups/delete, and the
// answer of groups/create.
type GroupNameRequest struct {
	GroupName string `json:"group_name"`
}

// GroupMemberRequest is the body of groups/add-member and
// groups/remove-member: the member (a user name, or a group name, which
// hush refuses since its groups hold users only) and its parent group.
type GroupMemberRequest struct {
	UserName   string `json:"user_name,omitempty"`
	GroupName  string `json:"group_name,omitempty"`
	ParentName string `json:"parent_name"`
}

// GroupNamesResponse answers groups/list and groups/list-parents.
type GroupNamesResponse struct {
	GroupNames []string `json:"group_names"`
}

// GroupMember is one entry of groups/list-members: a user (or, on
// Databricks, a nested group).
type GroupMember struct {
	UserName  string `json:"user_name,omitempty"`
	GroupName string `json:"group_name,omitempty"`
}

// GroupMembersResponse answers groups/list-members.
type GroupMembersResponse struct {
	Members []GroupMember `json:"members"`
}
