package command

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/talos-gs/talos/backend/api"
)

// DecodePayload decodes cmd's payload into v strictly: an unknown field or data after the JSON
// value is an error, because a misspelt field silently ignored would run the command with a
// default the operator did not ask for. An absent payload is an error. Errors name the command
// type.
func DecodePayload(cmd api.Command, v any) error {
	if isAbsent(cmd.Payload) {
		return fmt.Errorf("%s: payload is missing", cmd.Type)
	}
	if err := decodeStrict(cmd.Payload, v); err != nil {
		return fmt.Errorf("%s %w", cmd.Type, err)
	}
	return nil
}

// DecodeOptionalPayload is DecodePayload for commands whose payload may be left out: an absent
// or null payload leaves v as it is.
func DecodeOptionalPayload(raw json.RawMessage, v any) error {
	if isAbsent(raw) {
		return nil
	}
	return decodeStrict(raw, v)
}

func isAbsent(raw json.RawMessage) bool {
	trimmed := bytes.TrimSpace(raw)
	return len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null"))
}

func decodeStrict(raw json.RawMessage, v any) error {
	if err := api.DecodeStrict(bytes.NewReader(raw), v); err != nil {
		return fmt.Errorf("payload: %w", err)
	}
	return nil
}
