package commands

import "fmt"

// Kind says why the queue's rules refused something.
type Kind string

// Kinds of refusal.
const (
	// Invalid: the input is wrong; Error.Field names it ("payload.team_id", "status", ...).
	Invalid Kind = "invalid"
	// Conflict: the command's current state does not allow the change.
	Conflict Kind = "conflict"
)

// Error is a refusal by the queue's rules. The server answers Invalid with 400 and Conflict
// with 409, with Message as the text.
type Error struct {
	Kind    Kind
	Field   string
	Message string
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("commands: %s: %s", e.Field, e.Message)
	}
	return "commands: " + e.Message
}

// invalid is an Invalid error naming field.
func invalid(field, format string, args ...any) *Error {
	return &Error{Kind: Invalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

func conflict(format string, args ...any) *Error {
	return &Error{Kind: Conflict, Message: fmt.Sprintf(format, args...)}
}
