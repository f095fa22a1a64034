package server

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/accounts"
	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/commands"
	"github.com/talos-gs/talos/backend/store"
)

// Error codes of the user API, beside the protocol's codes in backend/api.
const (
	codeInvalidCredentials = "invalid_credentials" //nolint:gosec // an error code, not a credential
	codeCSRF               = "csrf_failed"
	codeForbidden          = "forbidden"
	codeInternal           = "internal"
	codeMethodNotAllowed   = "method_not_allowed"
	codeUnavailable        = "unavailable"
	codeLastOwner          = "last_owner"
	codeNoMatch            = "no_match"
)

// Error is an HTTP error answer: a status and the api.ErrorDetail sent as the body.
type Error struct {
	Status  int
	Code    string
	Message string
	Field   string
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

var (
	errNotFound         = &Error{http.StatusNotFound, api.ErrNotFound, "not found", ""}
	errUnauthorized     = &Error{http.StatusUnauthorized, api.ErrUnauthorized, "authentication required", ""}
	errForbidden        = &Error{http.StatusForbidden, codeForbidden, "your role does not allow this", ""}
	errMethodNotAllowed = &Error{http.StatusMethodNotAllowed, codeMethodNotAllowed, "method not allowed", ""}
	errMissingOption    = errors.New("server: Store, Logger and a SecretKey of at least 32 bytes are required")
)

// errInvalid is a 400 naming the offending field.
func errInvalid(field, format string, args ...any) *Error {
	return &Error{http.StatusBadRequest, api.ErrInvalidRequest, fmt.Sprintf(format, args...), field}
}

// fail answers c with err as the JSON error envelope and stops the handler chain. Known errors
// map to their status; anything else is a 500 whose detail goes to the log, not the client.
func (s *Server) fail(c *gin.Context, err error) {
	e := s.classify(err)
	if e.Status >= 500 {
		s.log.Error("request failed", zap.String("request_id", requestIDOf(c)), zap.Error(err))
	}
	c.AbortWithStatusJSON(e.Status, api.ErrorBody{Error: api.ErrorDetail{Code: e.Code, Message: e.Message, Field: e.Field,
		ConflictID: conflictID(err)}})
}

func (s *Server) classify(err error) *Error {
	var e *Error
	var fe *accounts.FieldError
	var ce *commands.Error
	if oe, ok := observationError(err); ok {
		return oe
	}
	switch {
	case errors.As(err, &e):
		return e
	case errors.As(err, &fe):
		return errInvalid(fe.Field, "%s %s", fe.Field, fe.Message)
	case errors.As(err, &ce) && ce.Kind == commands.Conflict:
		return &Error{http.StatusConflict, api.ErrConflict, ce.Message, ce.Field}
	case errors.As(err, &ce) && ce.Kind == commands.NoMatch:
		return &Error{http.StatusUnprocessableEntity, codeNoMatch, ce.Message, ce.Field}
	case errors.As(err, &ce):
		return errInvalid(ce.Field, "%s", ce.Message)
	case errors.Is(err, store.ErrNotFound):
		return errNotFound
	case errors.Is(err, store.ErrLastOwner):
		return &Error{http.StatusConflict, codeLastOwner, store.ErrLastOwner.Error(), ""}
	case errors.Is(err, store.ErrConflict):
		return &Error{http.StatusConflict, api.ErrConflict, "already exists", ""}
	}
	return &Error{http.StatusInternalServerError, codeInternal, "internal error", ""}
}
