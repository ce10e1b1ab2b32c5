package server

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"unicode/utf8"

	"github.com/hush-secrets/hush/internal/secrets"
	"github.com/hush-secrets/hush/internal/server/auth"
	"github.com/hush-secrets/hush/internal/server/store"
	"github.com/hush-secrets/hush/internal/server/store/files"
	"github.com/hush-secrets/hush/runtime/dbapi"
)

// Audit actions.
const (
	actScopeCreate  = "scopes.create"
	actScopeDelete  = "scopes.delete"
	actSecretPut    = "secrets.put"
	actSecretGet    = "secrets.get"
	actSecretDelete = "secrets.delete"
	actACLPut       = "acls.put"
	actACLDelete    = "acls.delete"
)

func required(field, v string) error {
	if v == "" {
		return invalidParam("Missing required field: %s", field)
	}
	return nil
}

func scopeNotFound(name string) *apiError { return notFound("Scope %s does not exist!", name) }

// scopeAccess loads the scope and checks that the caller holds need on it.
// A missing scope is RESOURCE_DOES_NOT_EXIST for everyone: scope names are
// readable by all.
func (s *Server) scopeAccess(r *request, name string, need secrets.Permission) (secrets.Scope, error) {
	if err := required("scope", name); err != nil {
		return secrets.Scope{}, err
	}
	if err := checkLengths("scope", name); err != nil {
		return secrets.Scope{}, err
	}
	sc, err := s.st.GetScope(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		return secrets.Scope{}, scopeNotFound(name)
	}
	if err != nil {
		return secrets.Scope{}, fmt.Errorf("get scope: %w", err)
	}
	if r.id.IsAdmin() {
		return sc, nil
	}
	acls, err := s.st.ListACLs(r.Context(), sc.Name)
	if errors.Is(err, store.ErrNotFound) {
		return secrets.Scope{}, scopeNotFound(name)
	}
	if err != nil {
		return secrets.Scope{}, fmt.Errorf("list acls: %w", err)
	}
	if auth.Effective(r.id, acls) < need {
		return secrets.Scope{}, denied("User %s does not have %s permission on scope %s", r.id.User.UserName, need, sc.Name)
	}
	return sc, nil
}

// audited records an audit event for the outcome of a handler, unless
// auditAhead recorded it already and the change was applied. When the
// event cannot be stored, the request is answered 503 with nothing of its
// result (see serve).
func (s *Server) audited(r *request, action, scope, key string, err error) {
	if r.auditedAhead && err == nil {
		return
	}
	code := ""
	allowed := true
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) {
			code = ae.code
			allowed = ae.code != dbapi.CodePermissionDenied
		} else {
			code = dbapi.CodeInternalError
		}
	}
	if rerr := s.audit.record(r.Context(), store.Event{
		Time: s.now(), Actor: r.id.User.UserName, Action: action, Scope: scope, Key: key,
		Remote: r.remote, Allowed: allowed, ErrorCode: code,
	}); rerr != nil {
		r.auditErr = rerr
	}
}

// auditAhead stores the audit record of an allowed change before it is
// applied, so that a change whose record cannot be stored is never
// applied. If applying then fails, audited stores a second record with the
// error code.
func (s *Server) auditAhead(r *request, action, scope, key string) error {
	err := s.audit.record(r.Context(), store.Event{
		Time: s.now(), Actor: r.id.User.UserName, Action: action, Scope: scope, Key: key,
		Remote: r.remote, Allowed: true,
	})
	if err != nil {
		r.auditErr = err
		return unavailable("The audit log cannot be written, so the request was not served; try again later.")
	}
	r.auditedAhead = true
	return nil
}

func (s *Server) createScope(r *request) (out any, err error) {
	var req dbapi.CreateScopeRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if err := checkLengths("scope", req.Scope); err != nil {
		return nil, err
	}
	defer func() { s.audited(r, actScopeCreate, req.Scope, "", err) }()
	if err := required("scope", req.Scope); err != nil {
		return nil, err
	}
	if err := secrets.ValidateName("scope", req.Scope); err != nil {
		return nil, invalidParam("%s", capitalize(err.Error()))
	}
	sc := secrets.Scope{Name: req.Scope, Backend: secrets.BackendDatabricks, CreatedAt: s.now()}
	switch req.ScopeBackendType {
	case "", string(secrets.BackendDatabricks):
		if req.BackendFiles != nil {
			return nil, invalidParam("backend_files is only allowed with scope_backend_type FILES")
		}
	case "AZURE_KEYVAULT":
		return nil, invalidParam("Azure Key Vault-backed scopes are not supported by hush; use scope_backend_type DATABRICKS, or FILES for a read-only directory of secret files")
	case string(secrets.BackendFiles):
		if !r.id.IsAdmin() {
			return nil, denied("Only admins can create FILES-backed scopes")
		}
		if s.cfg.Files == nil {
			return nil, invalidParam("FILES-backed scopes are not enabled on this server (start hush serve with --files-root)")
		}
		if req.BackendFiles == nil || req.BackendFiles.Path == "" {
			return nil, invalidParam("Missing required field: backend_files.path")
		}
		if _, err := s.cfg.Files.List(r.Context(), req.BackendFiles.Path); err != nil {
			return nil, invalidParam("backend_files.path %q is not a readable directory under the server's files root", req.BackendFiles.Path)
		}
		sc.Backend = secrets.BackendFiles
		sc.FilesPath = req.BackendFiles.Path
	default:
		return nil, invalidParam("Invalid scope_backend_type %q: must be DATABRICKS or FILES", req.ScopeBackendType)
	}
	acl := secrets.ACL{Principal: r.id.User.UserName, Permission: secrets.Manage}
	switch req.InitialManagePrincipal {
	case "":
	case auth.GroupUsers:
		acl.Principal = auth.GroupUsers
	default:
		return nil, invalidParam("initial_manage_principal must be \"users\" (or omitted to grant MANAGE to the creator), got %q", req.InitialManagePrincipal)
	}
	if err := s.auditAhead(r, actScopeCreate, req.Scope, ""); err != nil {
		return nil, err
	}
	err = s.st.CreateScope(r.Context(), sc, []secrets.ACL{acl}, s.cfg.MaxScopes)
	switch {
	case errors.Is(err, store.ErrExists):
		return nil, errf(http.StatusBadRequest, dbapi.CodeResourceAlreadyExists, "Scope %s already exists!", req.Scope)
	case errors.Is(err, store.ErrLimit):
		return nil, errf(http.StatusBadRequest, dbapi.CodeResourceLimitExceeded, "Maximum number of scopes (%d) reached in this workspace.", s.cfg.MaxScopes)
	case err != nil:
		return nil, fmt.Errorf("create scope: %w", err)
	}
	return dbapi.Empty{}, nil
}

func (s *Server) deleteScope(r *request) (out any, err error) {
	var req dbapi.DeleteScopeRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if err := checkLengths("scope", req.Scope); err != nil {
		return nil, err
	}
	defer func() { s.audited(r, actScopeDelete, req.Scope, "", err) }()
	sc, err := s.scopeAccess(r, req.Scope, secrets.Manage)
	if err != nil {
		return nil, err
	}
	if err := s.auditAhead(r, actScopeDelete, req.Scope, ""); err != nil {
		return nil, err
	}
	if err := s.st.DeleteScope(r.Context(), sc.Name); errors.Is(err, store.ErrNotFound) {
		return nil, scopeNotFound(req.Scope)
	} else if err != nil {
		return nil, fmt.Errorf("delete scope: %w", err)
	}
	return dbapi.Empty{}, nil
}

func (s *Server) listScopes(r *request) (any, error) {
	scopes, err := s.st.ListScopes(r.Context())
	if err != nil {
		return nil, fmt.Errorf("list scopes: %w", err)
	}
	var resp dbapi.ListScopesResponse
	for _, sc := range scopes {
		e := dbapi.SecretScope{Name: sc.Name, BackendType: string(sc.Backend)}
		if sc.Backend == secrets.BackendFiles {
			e.Files = &dbapi.FilesMetadata{Path: sc.FilesPath}
		}
		resp.Scopes = append(resp.Scopes, e)
	}
	return resp, nil
}

func (s *Server) putSecret(r *request) (out any, err error) {
	var req dbapi.PutSecretRequest
	body, err := decodeBody(r, &req)
	if err != nil {
		return nil, err
	}
	if err := checkLengths("scope", req.Scope, "key", req.Key); err != nil {
		return nil, err
	}
	defer func() { s.audited(r, actSecretPut, req.Scope, req.Key, err) }()
	if err := required("scope", req.Scope); err != nil {
		return nil, err
	}
	if err := required("key", req.Key); err != nil {
		return nil, err
	}
	if err := secrets.ValidateName("key", req.Key); err != nil {
		return nil, invalidParam("%s", capitalize(err.Error()))
	}
	var value []byte
	switch {
	case req.StringValue != nil && req.BytesValue != nil:
		return nil, errf(http.StatusBadRequest, dbapi.CodeMalformedRequest, "Only one of string_value and bytes_value can be specified.")
	case req.StringValue != nil:
		if ae := checkStringValue(body); ae != nil {
			return nil, ae
		}
		value = []byte(*req.StringValue)
	case req.BytesValue != nil:
		value, err = base64.StdEncoding.DecodeString(*req.BytesValue)
		if err != nil {
			return nil, invalidParam("bytes_value must be standard base64")
		}
	default:
		return nil, invalidParam("Missing required field: string_value or bytes_value")
	}
	if len(value) > secrets.MaxValueBytes {
		return nil, invalidParam("Secret value is %d bytes; the limit is %d bytes (128 KiB).", len(value), secrets.MaxValueBytes)
	}
	sc, err := s.scopeAccess(r, req.Scope, secrets.Write)
	if err != nil {
		return nil, err
	}
	if sc.ReadOnly() {
		return nil, errf(http.StatusBadRequest, dbapi.CodeBadRequest, "Cannot write secrets to %s-backed scope %s: it is read-only.", sc.Backend, sc.Name)
	}
	sealed, err := s.seal.Seal(sc.Name, req.Key, value)
	if err != nil {
		return nil, fmt.Errorf("seal value: %w", err)
	}
	if err := s.auditAhead(r, actSecretPut, req.Scope, req.Key); err != nil {
		return nil, err
	}
	err = s.st.PutSecret(r.Context(), store.Secret{Scope: secrets.ScopeKey(sc.Name), Key: req.Key, Sealed: sealed, UpdatedAt: s.now()}, s.cfg.MaxSecretsPerScope)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, scopeNotFound(req.Scope)
	case errors.Is(err, store.ErrLimit):
		return nil, errf(http.StatusBadRequest, dbapi.CodeResourceLimitExceeded, "Maximum number of secrets (%d) reached in scope %s.", s.cfg.MaxSecretsPerScope, sc.Name)
	case err != nil:
		return nil, fmt.Errorf("put secret: %w", err)
	}
	return dbapi.Empty{}, nil
}

func secretNotFound(scope, key string) *apiError {
	return notFound("Secret does not exist with scope: %s and key: %s", scope, key)
}

func (s *Server) deleteSecret(r *request) (out any, err error) {
	var req dbapi.DeleteSecretRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if err := checkLengths("scope", req.Scope, "key", req.Key); err != nil {
		return nil, err
	}
	defer func() { s.audited(r, actSecretDelete, req.Scope, req.Key, err) }()
	if err := required("key", req.Key); err != nil && req.Scope != "" {
		return nil, err
	}
	sc, err := s.scopeAccess(r, req.Scope, secrets.Write)
	if err != nil {
		return nil, err
	}
	if sc.ReadOnly() {
		return nil, errf(http.StatusBadRequest, dbapi.CodeBadRequest, "Cannot delete secrets from %s-backed scope %s: it is read-only.", sc.Backend, sc.Name)
	}
	if err := s.auditAhead(r, actSecretDelete, req.Scope, req.Key); err != nil {
		return nil, err
	}
	if err := s.st.DeleteSecret(r.Context(), sc.Name, req.Key); errors.Is(err, store.ErrNotFound) {
		return nil, secretNotFound(req.Scope, req.Key)
	} else if err != nil {
		return nil, fmt.Errorf("delete secret: %w", err)
	}
	return dbapi.Empty{}, nil
}

func (s *Server) listSecrets(r *request) (any, error) {
	name := r.URL.Query().Get("scope")
	sc, err := s.scopeAccess(r, name, secrets.Read)
	if err != nil {
		return nil, err
	}
	var metas []secrets.SecretMeta
	if sc.Backend == secrets.BackendFiles {
		if s.cfg.Files == nil {
			return nil, errf(http.StatusBadRequest, dbapi.CodeBadRequest, "FILES-backed scopes are not enabled on this server")
		}
		metas, err = s.cfg.Files.List(r.Context(), sc.FilesPath)
	} else {
		metas, err = s.st.ListSecrets(r.Context(), sc.Name)
	}
	if errors.Is(err, store.ErrNotFound) && sc.Backend != secrets.BackendFiles {
		return nil, scopeNotFound(name)
	}
	if err != nil {
		return nil, filesError(sc, "", fmt.Errorf("list secrets: %w", err))
	}
	var resp dbapi.ListSecretsResponse
	for _, m := range metas {
		resp.Secrets = append(resp.Secrets, dbapi.SecretMetadata{Key: m.Key, LastUpdatedTimestamp: m.UpdatedAt.UnixMilli()})
	}
	return resp, nil
}

func (s *Server) getSecret(r *request) (out any, err error) {
	q := r.URL.Query()
	name, key := q.Get("scope"), q.Get("key")
	if err := checkLengths("scope", name, "key", key); err != nil {
		return nil, err
	}
	defer func() { s.audited(r, actSecretGet, name, key, err) }()
	if err := required("key", key); err != nil && name != "" {
		return nil, err
	}
	sc, err := s.scopeAccess(r, name, secrets.Read)
	if err != nil {
		return nil, err
	}
	var value []byte
	if sc.Backend == secrets.BackendFiles {
		if s.cfg.Files == nil {
			return nil, errf(http.StatusBadRequest, dbapi.CodeBadRequest, "FILES-backed scopes are not enabled on this server")
		}
		if secrets.ValidateName("key", key) != nil {
			return nil, secretNotFound(name, key) // never a path outside the scope's directory
		}
		value, err = s.cfg.Files.Read(r.Context(), sc.FilesPath, key)
		if errors.Is(err, store.ErrNotFound) {
			return nil, secretNotFound(name, key)
		}
		if err != nil {
			return nil, filesError(sc, key, fmt.Errorf("read secret file: %w", err))
		}
	} else {
		sec, err := s.st.GetSecret(r.Context(), sc.Name, key)
		if errors.Is(err, store.ErrNotFound) {
			return nil, secretNotFound(name, key)
		}
		if err != nil {
			return nil, fmt.Errorf("get secret: %w", err)
		}
		value, err = s.seal.Open(sc.Name, key, sec.Sealed)
		if err != nil {
			return nil, fmt.Errorf("open secret %s/%s: %w", sc.Name, key, err)
		}
	}
	return dbapi.GetSecretResponse{Key: key, Value: base64.StdEncoding.EncodeToString(value)}, nil
}

func (s *Server) putACL(r *request) (out any, err error) {
	var req dbapi.PutACLRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if err := checkLengths("scope", req.Scope, "principal", req.Principal); err != nil {
		return nil, err
	}
	defer func() { s.audited(r, actACLPut, req.Scope, req.Principal, err) }()
	if err := required("scope", req.Scope); err != nil {
		return nil, err
	}
	if err := required("principal", req.Principal); err != nil {
		return nil, err
	}
	perm, err := secrets.ParsePermission(req.Permission)
	if err != nil {
		return nil, invalidParam("Invalid permission %q: must be one of READ, WRITE, MANAGE.", req.Permission)
	}
	sc, err := s.scopeAccess(r, req.Scope, secrets.Manage)
	if err != nil {
		return nil, err
	}
	if err := s.auditAhead(r, actACLPut, req.Scope, req.Principal); err != nil {
		return nil, err
	}
	// The principal's existence is checked in the write's transaction, so a
	// principal deleted at the same moment cannot keep (and pass on) an ACL.
	err = s.st.GrantACL(r.Context(), sc.Name, secrets.ACL{Principal: req.Principal, Permission: perm})
	if errors.Is(err, store.ErrNoPrincipal) {
		return nil, invalidParam("Principal %s does not exist: it must be a user name, a service principal's application ID, a group name, or users.", req.Principal)
	} else if errors.Is(err, store.ErrNotFound) {
		return nil, scopeNotFound(req.Scope)
	} else if err != nil {
		return nil, fmt.Errorf("put acl: %w", err)
	}
	return dbapi.Empty{}, nil
}

func aclNotFound(scope, principal string) *apiError {
	return notFound("Failed to get secret acl for principal %s in scope %s.", principal, scope)
}

func (s *Server) deleteACL(r *request) (out any, err error) {
	var req dbapi.DeleteACLRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if err := checkLengths("scope", req.Scope, "principal", req.Principal); err != nil {
		return nil, err
	}
	defer func() { s.audited(r, actACLDelete, req.Scope, req.Principal, err) }()
	if err := required("principal", req.Principal); err != nil && req.Scope != "" {
		return nil, err
	}
	sc, err := s.scopeAccess(r, req.Scope, secrets.Manage)
	if err != nil {
		return nil, err
	}
	if err := s.auditAhead(r, actACLDelete, req.Scope, req.Principal); err != nil {
		return nil, err
	}
	if err := s.st.DeleteACL(r.Context(), sc.Name, req.Principal); errors.Is(err, store.ErrNotFound) {
		return nil, aclNotFound(req.Scope, req.Principal)
	} else if err != nil {
		return nil, fmt.Errorf("delete acl: %w", err)
	}
	return dbapi.Empty{}, nil
}

func (s *Server) getACL(r *request) (any, error) {
	q := r.URL.Query()
	name, principal := q.Get("scope"), q.Get("principal")
	if err := required("principal", principal); err != nil && name != "" {
		return nil, err
	}
	sc, err := s.scopeAccess(r, name, secrets.Manage)
	if err != nil {
		return nil, err
	}
	acl, err := s.st.GetACL(r.Context(), sc.Name, principal)
	if errors.Is(err, store.ErrNotFound) {
		return nil, aclNotFound(name, principal)
	}
	if err != nil {
		return nil, fmt.Errorf("get acl: %w", err)
	}
	return dbapi.ACLItem{Principal: acl.Principal, Permission: acl.Permission.String()}, nil
}

func (s *Server) listACLs(r *request) (any, error) {
	name := r.URL.Query().Get("scope")
	sc, err := s.scopeAccess(r, name, secrets.Manage)
	if err != nil {
		return nil, err
	}
	acls, err := s.st.ListACLs(r.Context(), sc.Name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, scopeNotFound(name)
	}
	if err != nil {
		return nil, fmt.Errorf("list acls: %w", err)
	}
	var resp dbapi.ListACLsResponse
	for _, a := range acls {
		resp.Items = append(resp.Items, dbapi.ACLItem{Principal: a.Principal, Permission: a.Permission.String()})
	}
	return resp, nil
}

// capitalize upper-cases the first letter of a validation message.
func capitalize(s string) string {
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	if r >= 'a' && r <= 'z' {
		return string(r-'a'+'A') + s[n:]
	}
	return s
}

// filesError turns the errors of a FILES scope the operator can act on
// into clear answers: a key file over the value limit, and a scope
// directory (or key) that resolves outside the files root, which is never
// read. Other errors are returned as they are (500).
func filesError(sc secrets.Scope, key string, err error) error {
	switch {
	case errors.Is(err, files.ErrTooLarge):
		return errf(http.StatusBadRequest, dbapi.CodeResourceLimitExceeded, "The file of key %s in FILES-backed scope %s is larger than the secret value limit of %d bytes (128 KiB); it was not read.", key, sc.Name, secrets.MaxValueBytes)
	case errors.Is(err, files.ErrEscapesRoot):
		return errf(http.StatusBadRequest, dbapi.CodeBadRequest, "The directory of FILES-backed scope %s (%s) now resolves outside the server's files root (a symbolic link?); nothing outside the files root is read. An admin must fix the directory or delete the scope.", sc.Name, sc.FilesPath)
	}
	return err
}
