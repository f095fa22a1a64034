package executor

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/internal/clock"
)

type fakeSettings struct{ got api.ConfigUpdatePayload }

func (s *fakeSettings) ApplyConfig(p api.ConfigUpdatePayload) (api.ConfigUpdateResult, error) {
	s.got = p
	return api.ConfigUpdateResult{HeartbeatSeconds: *p.HeartbeatSeconds, LogLevel: p.LogLevel}, nil
}

type fakeMaintenance struct{ on bool }

func (m *fakeMaintenance) SetMaintenance(on bool, _ string) error { m.on = on; return nil }
func (m *fakeMaintenance) Status() api.SatelliteStatus {
	if m.on {
		return api.StatusMaintenance
	}
	return api.StatusOnline
}

func TestBuiltins(t *testing.T) {
	t.Parallel()
	s, m := &fakeSettings{}, &fakeMaintenance{}
	b := Builtins{Clock: clock.NewFake(t0), Settings: s, Maintenance: m,
		Diagnostics: func(context.Context) (api.DiagnosticsResult, error) { return api.DiagnosticsResult{OS: "linux"}, nil }}
	h := b.Handlers()
	ctx := context.Background()

	raw, err := h[api.CommandPing](ctx, api.Command{})
	require.NoError(t, err)
	var pong api.PingResult
	require.NoError(t, json.Unmarshal(raw, &pong))
	assert.True(t, pong.Pong)
	assert.Equal(t, t0, pong.Time)

	raw, err = h[api.CommandConfigUpdate](ctx, api.Command{Payload: json.RawMessage(`{"heartbeat_seconds":15,"log_level":"debug"}`)})
	require.NoError(t, err)
	assert.JSONEq(t, `{"heartbeat_seconds":15,"events_seconds":0,"long_poll_seconds":0,"log_level":"debug"}`, string(raw))
	assert.Equal(t, 15, *s.got.HeartbeatSeconds)

	raw, err = h[api.CommandMaintenanceEnter](ctx, api.Command{Payload: json.RawMessage(`{"reason":"new feed"}`)})
	require.NoError(t, err)
	assert.JSONEq(t, `{"status":"maintenance"}`, string(raw))
	raw, err = h[api.CommandMaintenanceExit](ctx, api.Command{})
	require.NoError(t, err)
	assert.JSONEq(t, `{"status":"online"}`, string(raw))
	_, err = h[api.CommandMaintenanceEnter](ctx, api.Command{Payload: json.RawMessage(`{"why":1}`)})
	assert.ErrorContains(t, err, `unknown field "why"`)

	raw, err = h[api.CommandDiagnosticsCollect](ctx, api.Command{})
	require.NoError(t, err)
	assert.Contains(t, string(raw), `"os":"linux"`)
}

func TestParseConfigUpdate(t *testing.T) {
	t.Parallel()
	tests := []struct{ payload, err string }{
		{`{"heartbeat_seconds": 60}`, ""},
		{`{"events_seconds": 1, "long_poll_seconds": 0}`, ""},
		{`{"log_level": "warn"}`, ""},
		{`{"heartbeat_seconds": 4}`, "payload.heartbeat_seconds: must be 5 to 3600, got 4"},
		{`{"events_seconds": 301}`, "payload.events_seconds"},
		{`{"long_poll_seconds": 31}`, "payload.long_poll_seconds"},
		{`{"log_level": "loud"}`, "payload.log_level"},
		{`{"poll_seconds": 5}`, `unknown field "poll_seconds"`},
		{`{"heartbeat_seconds": "5"}`, "payload:"},
		{`{}`, "nothing to change"},
		{``, "nothing to change"},
		{`{"log_level":"info"} {}`, "trailing data"},
		// The allow-list of programs and allow_unisolated are the station owner's: the backend
		// cannot change them (docs/processes.md).
		{`{"programs": {"sh": {"path": "/bin/sh"}}}`, `unknown field "programs"`},
		{`{"proc": {"allow_unisolated": true}}`, `unknown field "proc"`},
		{`{"allow_unisolated": true}`, `unknown field "allow_unisolated"`},
	}
	for _, tc := range tests {
		_, err := ParseConfigUpdate(json.RawMessage(tc.payload))
		if tc.err == "" {
			assert.NoError(t, err, tc.payload)
			continue
		}
		assert.ErrorContains(t, err, tc.err, tc.payload)
	}
}

func FuzzParseConfigUpdate(f *testing.F) {
	for _, s := range []string{`{"heartbeat_seconds": 60}`, `{"log_level":"debug","events_seconds":3}`, `null`, `[]`, `{"long_poll_seconds":-1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := ParseConfigUpdate(raw)
		if err != nil {
			return
		}
		if p.HeartbeatSeconds != nil {
			require.GreaterOrEqual(t, *p.HeartbeatSeconds, 5)
		}
		if p.LongPollSeconds != nil {
			require.LessOrEqual(t, *p.LongPollSeconds, api.MaxLongPollSeconds)
		}
	})
}
