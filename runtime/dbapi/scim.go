package dbapi

// Paths of the SCIM subset (workspace-level, "preview" as on Databricks).
// Append "/{id}" to PathSCIMUsers or PathSCIMGroups for one resource.
const (
	PathSCIMUsers  = "/api/2.0/preview/scim/v2/Users"
	PathSCIMGroups = "/api/2.0/preview/scim/v2/Groups"
	PathSCIMMe     = "/api/2.0/preview/scim/v2/Me"
)

// SCIM schema URNs.
const (
	SchemaUser         = "urn:ietf:params:scim:schemas:core:2.0:User"
	SchemaGroup        = "urn:ietf:params:scim:schemas:core:2.0:Group"
	SchemaListResponse = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	SchemaPatchOp      = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
)

// SCIMValue is a SCIM multi-valued attribute entry (a group member, a
// user's group, an e-mail address).
type SCIMValue struct {
	Value   string `json:"value,omitempty"`
	Display string `json:"display,omitempty"`
	Ref     string `json:"$ref,omitempty"`
	Type    string `json:"type,omitempty"`
	Primary bool   `json:"primary,omitempty"`
}

// SCIMName is a user's structured name.
type SCIMName struct {
	GivenName  string `json:"givenName,omitempty"`
	FamilyName string `json:"familyName,omitempty"`
}

// SCIMUser is a user resource. Active is a pointer so a request can leave it
// out (true by default on creation).
type SCIMUser struct {
	Schemas     []string    `json:"schemas,omitempty"`
	ID          string      `json:"id,omitempty"`
	UserName    string      `json:"userName,omitempty"`
	DisplayName string      `json:"displayName,omitempty"`
	Name        *SCIMName   `json:"name,omitempty"`
	Active      *bool       `json:"active,omitempty"`
	Emails      []SCIMValue `json:"emails,omitempty"`
	Groups      []SCIMValue `json:"groups,omitempty"`
}

// SCIMMeta is a resource's meta attribute.
type SCIMMeta struct {
	ResourceType string `json:"resourceType,omitempty"`
}

// SCIMGroup is a group resource; members' Value is the user ID.
type SCIMGroup struct {
	Schemas     []string    `json:"schemas,omitempty"`
	ID          string      `json:"id,omitempty"`
	DisplayName string      `json:"displayName,omitempty"`
	Members     []SCIMValue `json:"members,omitempty"`
	Meta        *SCIMMeta   `json:"meta,omitempty"`
}

// SCIMListUsers answers GET .../Users. Resources is omitted when empty, which
// ends the SDK's pagination.
type SCIMListUsers struct {
	Schemas      []string   `json:"schemas"`
	TotalResults int64      `json:"totalResults"`
	StartIndex   int64      `json:"startIndex"`
	ItemsPerPage int64      `json:"itemsPerPage"`
	Resources    []SCIMUser `json:"Resources,omitempty"`
}

// SCIMListGroups answers GET .../Groups.
type SCIMListGroups struct {
	Schemas      []string    `json:"schemas"`
	TotalResults int64       `json:"totalResults"`
	StartIndex   int64       `json:"startIndex"`
	ItemsPerPage int64       `json:"itemsPerPage"`
	Resources    []SCIMGroup `json:"Resources,omitempty"`
}

// SCIMPatchOp is one operation of a PATCH: op is "add", "remove" or
// "replace"; Value is raw JSON whose shape depends on Path.
type SCIMPatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path,omitempty"`
	Value any    `json:"value,omitempty"`
}

// SCIMPatchRequest is the body of PATCH .../Users/{id} and .../Groups/{id}.
type SCIMPatchRequest struct {
	Schemas    []string      `json:"schemas,omitempty"`
	Operations []SCIMPatchOp `json:"Operations"`
}
