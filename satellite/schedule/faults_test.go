package schedule

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
)

// TestRotatorFaultsDecideTheOutcome: a rotator that answers nothing during the pass fails the
// observation; one that answers part of it completes it at severity warning with the faults
// counted; a healthy one completes it at severity info.
func TestRotatorFaultsDecideTheOutcome(t *testing.T) {
	t.Parallel()
	p := payloadFor(t, "obs-a")
	mid := p.AOS.Add(p.LOS.Sub(p.AOS) / 2)
	cases := []struct {
		name     string
		down     func(time.Time) bool
		typ      string
		severity api.Severity
	}{
		{"never answers", func(time.Time) bool { return true }, api.EventObservationFailed, api.SeverityError},
		{"down from AOS", func(now time.Time) bool { return !now.Before(p.AOS) }, api.EventObservationFailed, api.SeverityError},
		{"down for the second half", func(now time.Time) bool { return !now.Before(mid) }, api.EventObservationCompleted, api.SeverityWarning},
		{"healthy", nil, api.EventObservationCompleted, api.SeverityInfo},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fx := newFixture(t, t.TempDir(), p.AOS.Add(-10*time.Minute))
			fx.rot.down = tc.down
			_, err := fx.s.Schedule(Record{Payload: p, CommandID: "cmd-1"})
			require.NoError(t, err)
			ended := func() bool {
				return fx.has(api.EventObservationCompleted)() || fx.has(api.EventObservationFailed)()
			}
			fx.runUntil(t, ended)

			ev, ok := fx.ev.find(tc.typ)
			require.True(t, ok, "events %v", fx.ev.types())
			assert.Equal(t, tc.severity, ev.Severity)
			var data map[string]any
			require.NoError(t, json.Unmarshal(ev.Data, &data))
			switch {
			case tc.typ == api.EventObservationFailed:
				assert.Contains(t, data["reason"], "rotator never accepted a pointing command")
				partial, ok := data["partial"].(map[string]any)
				require.True(t, ok, "the summary is the partial record: %v", data)
				assert.Positive(t, partial["faults"])
				assert.Zero(t, partial["pointing_accepted"])
			case tc.down != nil:
				assert.Positive(t, data["faults"])
				assert.Positive(t, data["pointing_accepted"])
				assert.Regexp(t, `^observation completed with \d+ device faults \(\d+ rotator, 0 radio\)$`, ev.Message)
			default:
				assert.Zero(t, data["faults"])
			}
		})
	}
}
