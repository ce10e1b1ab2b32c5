package dbapi

import "fmt"

// Error codes of the Databricks REST API that hush sends and understands.
const (
	CodeResourceAlreadyExists = "RESOURCE_ALREADY_EXISTS" // 400
	CodeResourceDoesNotExist  = "RESOURCE_DOES_NOT_EXIST" // 404
	CodeInvalidParameterValue = "INVALID_PARAMETER_VALUE" // 400
	CodeResourceLimitExceeded = "RESOURCE_LIMIT_EXCEEDED" // 400, never retried by the SDKs
	CodePermissionDenied      = "PERMISSION_DENIED"       // 403
	CodeUnauthenticated       = "UNAUTHENTICATED"         // 401
	CodeMalformedRequest      = "MALFORMED_REQUEST"       // 400
	CodeBadRequest            = "BAD_REQUEST"             // 400
	CodeEndpointNotFound      = "ENDPOINT_NOT_FOUND"      // 404
	CodeInternalError         = "INTERNAL_ERROR"          // 500
)

// ErrorResponse is the JSON body of every error answer:
// {"error_code": "...", "message": "..."}.
type ErrorResponse struct {
	ErrorCode string `json:"error_code"`
	Message   string `json:"message"`
}

// APIError is an error answered by a Databricks-compatible server. It
// matches the sentinels below with errors.Is by its code, so callers can
// write errors.Is(err, dbapi.ErrResourceDoesNotExist).
type APIError struct {
	StatusCode int
	ErrorCode  string
	Message    string
	// Host is the server that answered, so users can tell which one failed.
	Host string
}

// Error returns the server's message, as the Databricks SDKs do.
func (e *APIError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("%s (HTTP %d)", e.ErrorCode, e.StatusCode)
	}
	return e.Message
}

// Is reports whether target is the sentinel of e's error code.
func (e *APIError) Is(target error) bool {
	s, ok := target.(*sentinel)
	return ok && s.code == e.ErrorCode
}

type sentinel struct{ code string }

func (s *sentinel) Error() string { return s.code }

// Sentinels for errors.Is, one per error code.
var (
	ErrResourceAlreadyExists error = &sentinel{CodeResourceAlreadyExists}
	ErrResourceDoesNotExist  error = &sentinel{CodeResourceDoesNotExist}
	ErrInvalidParameterValue error = &sentinel{CodeInvalidParameterValue}
	ErrResourceLimitExceeded error = &sentinel{CodeResourceLimitExceeded}
	ErrPermissionDenied      error = &sentinel{CodePermissionDenied}
	ErrUnauthenticated       error = &sentinel{CodeUnauthenticated}
	ErrMalformedRequest      error = &sentinel{CodeMalformedRequest}
	ErrBadRequest            error = &sentinel{CodeBadRequest}
)
