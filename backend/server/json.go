package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/talos-gs/talos/backend/api"
)

// validator is implemented by request bodies; validate returns nil or an *Error naming a field.
type validator interface {
	validate() error
}

// codeUnsupportedMediaType answers a body that is not declared as JSON.
const codeUnsupportedMediaType = "unsupported_media_type"

var errNotJSON = &Error{http.StatusUnsupportedMediaType, codeUnsupportedMediaType,
	"the body must be sent with Content-Type: application/json", ""}

// bind decodes c's JSON body strictly into v, checks its text (text.go) and, when v has a
// validate method, validates it. On failure it answers the request (415 when the body is not
// declared as JSON, 400 naming the field, or 413) and returns false.
func (s *Server) bind(c *gin.Context, v any) bool {
	if !isJSON(c.GetHeader("Content-Type")) {
		s.fail(c, errNotJSON)
		return false
	}
	if err := decodeJSON(c.Request.Body, v); err != nil {
		s.fail(c, err)
		return false
	}
	if err := checkBodyText(v); err != nil {
		s.fail(c, err)
		return false
	}
	if val, ok := v.(validator); ok {
		if err := val.validate(); err != nil {
			s.fail(c, err)
			return false
		}
	}
	return true
}

// isJSON reports whether a Content-Type header declares JSON (parameters such as charset
// allowed). Requiring it is what stops a cross-site HTML form from posting a JSON body: a form
// can send only application/x-www-form-urlencoded, multipart/form-data or text/plain, and
// anything else makes the browser ask first (CORS preflight), which Talos never grants. Without
// it a form with enctype=text/plain could log a victim into the attacker's account.
func isJSON(contentType string) bool {
	mediaType, _, err := mime.ParseMediaType(contentType)
	return err == nil && mediaType == "application/json"
}

// decodeJSON reads exactly one JSON object from r into v (api.DecodeStrict: unknown fields, a
// second value or trailing garbage are errors), and every error names the field where one is
// known.
func decodeJSON(r io.Reader, v any) error {
	err := api.DecodeStrict(r, v)
	if errors.Is(err, api.ErrTrailingData) {
		return errInvalid("", "the body must hold a single JSON object and nothing after it")
	}
	if err != nil {
		return jsonError(err)
	}
	return nil
}

func jsonError(err error) error {
	var (
		syntax  *json.SyntaxError
		typeErr *json.UnmarshalTypeError
		tooBig  *http.MaxBytesError
	)
	switch {
	case errors.As(err, &tooBig):
		return &Error{http.StatusRequestEntityTooLarge, api.ErrBodyTooLarge,
			fmt.Sprintf("the body exceeds %d bytes", tooBig.Limit), ""}
	case errors.Is(err, io.EOF):
		return errInvalid("", "a JSON object body is required")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errInvalid("", "the JSON body is truncated")
	case errors.As(err, &syntax):
		return errInvalid("", "malformed JSON at byte %d", syntax.Offset)
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return errInvalid("", "the body must be a JSON object, not %s", typeErr.Value)
		}
		return errInvalid(typeErr.Field, "%s must be %s, not %s", typeErr.Field, typeName(typeErr), typeErr.Value)
	}
	if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		field = strings.Trim(field, `"`)
		return errInvalid(field, "unknown field %q", field)
	}
	return errInvalid("", "invalid JSON: %v", err)
}

func typeName(e *json.UnmarshalTypeError) string {
	if e.Type == nil {
		return "another type"
	}
	return "a " + e.Type.String()
}

// writeJSON answers with status and v as JSON.
func writeJSON(c *gin.Context, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Response types are ours and always encodable; reaching this is a programming error.
		c.AbortWithStatus(http.StatusInternalServerError)
		return
	}
	c.Data(status, "application/json; charset=utf-8", buf.Bytes())
}
