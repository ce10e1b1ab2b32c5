package dbapi

// PathSCIMServicePrincipals is the SCIM collection of service principals;
// append "/{id}" for one. A service principal is named by its application
// ID (a UUID) in ACLs and on-behalf-of tokens, as on Databricks.
const PathSCIMServicePrincipals = "/api/2.0/preview/scim/v2/ServicePrincipals"

// SchemaServicePrincipal is the SCIM schema URN of a service principal.
const SchemaServicePrincipal = "urn:ietf:params:scim:schemas:core:2.0:ServicePrincipal"

// SCIMServicePrincipal is a service principal resource, in the shape of the
// Databricks SDK's iam.ServicePrincipal. Active is a pointer so a request
// can leave it out (true by default on creation).
type SCIMServicePrincipal struct {
	Schemas       []string    `json:"schemas,omitempty"`
	ID            string      `json:"id,omitempty"`
	ApplicationID string      `json:"applicationId,omitempty"`
	DisplayName   string      `json:"displayName,omitempty"`
	Active        *bool       `json:"active,omitempty"`
	Groups        []SCIMValue `json:"groups,omitempty"`
}

// SCIMListServicePrincipals answers GET .../ServicePrincipals. Resources is
// omitted when empty, which ends the SDK's pagination.
type SCIMListServicePrincipals struct {
	Schemas      []string               `json:"schemas"`
	TotalResults int64                  `json:"totalResults"`
	StartIndex   int64                  `json:"startIndex"`
	ItemsPerPage int64                  `json:"itemsPerPage"`
	Resources    []SCIMServicePrincipal `json:"Resources,omitempty"`
}
