package command

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
)

func TestDecodePayload(t *testing.T) {
	t.Parallel()
	type payload struct {
		Name string `json:"name"`
	}
	cases := []struct {
		name, raw, wantErr string
	}{
		{"valid", `{"name":"x"}`, ""},
		{"absent", ``, "process.start: payload is missing"},
		{"null", `null`, "process.start: payload is missing"},
		{"unknown field", `{"title":"x"}`, `process.start payload: json: unknown field "title"`},
		{"trailing data", `{"name":"x"} {}`, "process.start payload: trailing data"},
		{"wrong type", `{"name":1}`, "process.start payload: json: cannot unmarshal number"},
		{"not json", `{`, "process.start payload: unexpected EOF"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var p payload
			err := DecodePayload(api.Command{Type: api.CommandProcessStart, Payload: json.RawMessage(tc.raw)}, &p)
			if tc.wantErr == "" {
				require.NoError(t, err)
				require.Equal(t, "x", p.Name)
				return
			}
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
}

func TestDecodeOptionalPayload(t *testing.T) {
	t.Parallel()
	p := struct {
		Reason string `json:"reason"`
	}{Reason: "kept"}
	require.NoError(t, DecodeOptionalPayload(nil, &p))
	require.NoError(t, DecodeOptionalPayload(json.RawMessage(" null "), &p))
	require.Equal(t, "kept", p.Reason)
	require.NoError(t, DecodeOptionalPayload(json.RawMessage(`{"reason":"new"}`), &p))
	require.Equal(t, "new", p.Reason)
	require.ErrorContains(t, DecodeOptionalPayload(json.RawMessage(`{"why":"x"}`), &p), `payload: json: unknown field "why"`)
}
