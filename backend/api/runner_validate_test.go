package api

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func intp(v int) *int { return &v }

func TestConfigUpdatePayloadValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		p     ConfigUpdatePayload
		field string // "" with ok false: the payload as a whole
		ok    bool
	}{
		{"all at their lower bounds", ConfigUpdatePayload{HeartbeatSeconds: intp(5), EventsSeconds: intp(1), LongPollSeconds: intp(0)}, "", true},
		{"all at their upper bounds", ConfigUpdatePayload{HeartbeatSeconds: intp(3600), EventsSeconds: intp(300), LongPollSeconds: intp(MaxLongPollSeconds)}, "", true},
		{"log level only", ConfigUpdatePayload{LogLevel: "warn"}, "", true},
		{"nothing to change", ConfigUpdatePayload{}, "", false},
		{"heartbeat too short", ConfigUpdatePayload{HeartbeatSeconds: intp(4)}, "heartbeat_seconds", false},
		{"heartbeat too long", ConfigUpdatePayload{HeartbeatSeconds: intp(3601)}, "heartbeat_seconds", false},
		{"events zero", ConfigUpdatePayload{EventsSeconds: intp(0)}, "events_seconds", false},
		{"events too long", ConfigUpdatePayload{EventsSeconds: intp(301)}, "events_seconds", false},
		{"long poll negative", ConfigUpdatePayload{LongPollSeconds: intp(-1)}, "long_poll_seconds", false},
		{"long poll too long", ConfigUpdatePayload{LongPollSeconds: intp(MaxLongPollSeconds + 1)}, "long_poll_seconds", false},
		{"unknown log level", ConfigUpdatePayload{LogLevel: "trace"}, "log_level", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.p.Validate()
			if tc.ok {
				assert.NoError(t, err)
				return
			}
			var fe *RunnerPayloadError
			require.True(t, errors.As(err, &fe), "%v", err)
			assert.Equal(t, tc.field, fe.Field)
			assert.NotEmpty(t, fe.Message)
		})
	}
}

func TestMaintenancePayloadValidate(t *testing.T) {
	t.Parallel()
	assert.NoError(t, (&MaintenancePayload{}).Validate())
	assert.NoError(t, (&MaintenancePayload{Reason: strings.Repeat("x", MaxMaintenanceReasonBytes)}).Validate())
	err := (&MaintenancePayload{Reason: strings.Repeat("é", 251)}).Validate() // 502 bytes
	var fe *RunnerPayloadError
	require.True(t, errors.As(err, &fe), "%v", err)
	assert.Equal(t, "reason", fe.Field)
	assert.Contains(t, fe.Error(), "invalid reason")
}

// FuzzConfigUpdatePayloadValidate: any decodable payload validates without panicking, and an
// accepted one has every setting within its bounds.
func FuzzConfigUpdatePayloadValidate(f *testing.F) {
	for _, seed := range []string{`{"heartbeat_seconds":30}`, `{"log_level":"debug","long_poll_seconds":0}`,
		`{}`, `{"events_seconds":-1}`, `{"heartbeat_seconds":99999999999}`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		var p ConfigUpdatePayload
		if json.Unmarshal([]byte(raw), &p) != nil {
			return
		}
		if p.Validate() != nil {
			return
		}
		in := func(v *int, lo, hi int) bool { return v == nil || (*v >= lo && *v <= hi) }
		if !in(p.HeartbeatSeconds, 5, 3600) || !in(p.EventsSeconds, 1, 300) || !in(p.LongPollSeconds, 0, MaxLongPollSeconds) {
			t.Fatalf("accepted out-of-range payload %s", raw)
		}
		if p == (ConfigUpdatePayload{}) {
			t.Fatalf("accepted an empty payload %s", raw)
		}
	})
}
