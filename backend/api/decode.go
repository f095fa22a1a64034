package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ErrTrailingData is returned by DecodeStrict when something follows the JSON value.
var ErrTrailingData = errors.New("trailing data after the JSON value")

// DecodeStrict reads exactly one JSON value from r into v, the way both sides of the protocol
// read what the other sent: an unknown object field is an error (a misspelt field silently
// ignored would run a command with a default nobody asked for), and so is anything after the
// value but white space (ErrTrailingData). Errors are encoding/json's, so a caller can name the
// offending field; an error reading r after the value is returned wrapped.
func DecodeStrict(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	var extra json.RawMessage
	var syntax *json.SyntaxError
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
		return nil
	case err == nil, errors.Is(err, io.ErrUnexpectedEOF), errors.As(err, &syntax):
		return ErrTrailingData
	default:
		return fmt.Errorf("read after the JSON value: %w", err)
	}
}
