package commands_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/commands"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

// taggedSatellite registers a satellite of teamID with tags and capabilities.
func taggedSatellite(t *testing.T, st *store.Store, teamID *string, name string, tags map[string]string, caps ...string) *store.Satellite {
	t.Helper()
	tok := &store.RegistrationToken{ID: store.NewID(), TeamID: teamID, ExpiresAt: st.Now().Add(time.Hour), UsesAllowed: 1}
	require.NoError(t, st.CreateRegistrationToken(t.Context(), tok))
	sat, err := st.RegisterSatellite(t.Context(), store.Registration{TokenID: tok.ID, Name: name, Tags: tags,
		Capabilities: caps, APIKeyID: uuid.NewString()[:16], APIKeyHash: "hash", HeartbeatSeconds: 30})
	require.NoError(t, err)
	return sat
}

// TestFanOut: a command sent to a tag query reaches every matching station of the team and no
// other, through the same checks as a single command; the parent reports each child and a
// summary; cancelling the parent cancels the children not yet acknowledged.
func TestFanOut(t *testing.T) {
	t.Parallel()
	storetest.ForEachClocked(t, func(t *testing.T, st *store.Store, _ *storetest.Clock) {
		ctx := t.Context()
		svc := commands.New(commands.Options{Store: st, Logger: zaptest.NewLogger(t)})
		team, other := newTeam(t, st), newTeam(t, st)
		a := taggedSatellite(t, st, team, "a", map[string]string{"band": "uhf", "rotator": "az-el"}, "rotator", "radio")
		b := taggedSatellite(t, st, team, "b", map[string]string{"band": "uhf"}, "radio")
		taggedSatellite(t, st, team, "c", map[string]string{"band": "vhf"}, "radio")
		taggedSatellite(t, st, other, "d", map[string]string{"band": "uhf", "rotator": "az-el"}, "rotator")

		park := commands.CreateInput{Type: api.CommandRotatorPark, Priority: api.PriorityHigh, CreatedBy: "op"}
		f, err := svc.FanOut(ctx, commands.FanOutInput{TeamID: *team, Target: "band=uhf AND rotator=az-el", Command: park})
		require.NoError(t, err)
		require.Len(t, f.Children, 1, "one station of this team matches; the other team's does not")
		assert.Equal(t, a.ID, f.Children[0].SatelliteID)
		assert.Equal(t, f.Parent.ID, *f.Children[0].ParentID)

		f, err = svc.FanOut(ctx, commands.FanOutInput{TeamID: *team, Target: " capability:radio AND band!=vhf ",
			Command: commands.CreateInput{Type: api.CommandPing, CorrelationID: "sweep"}})
		require.NoError(t, err)
		require.Len(t, f.Children, 2)
		assert.Equal(t, "capability:radio AND band!=vhf", f.Parent.Target)
		assert.Equal(t, api.PriorityNormal, f.Parent.Priority, "the default priority, as for one command")
		assert.Equal(t, commands.Summary{Total: 2, Queued: 2}, f.Summary())

		d, err := svc.Deliver(ctx, a)
		require.NoError(t, err)
		require.Len(t, d.Commands, 2, "the park and the ping")
		var pingA string
		for _, c := range d.Commands {
			if c.Type == api.CommandPing {
				pingA = c.ID
			}
		}
		_, err = svc.Report(ctx, a.ID, pingA, commands.Report{Status: api.CommandSucceeded})
		require.NoError(t, err)
		got, err := svc.Fanout(ctx, *team, f.Parent.ID)
		require.NoError(t, err)
		assert.Equal(t, commands.Summary{Total: 2, Queued: 1, Succeeded: 1}, got.Summary())

		got, n, err := svc.CancelFanout(ctx, *team, f.Parent.ID)
		require.NoError(t, err)
		assert.Equal(t, int64(1), n, "b's pending ping is cancelled; a's finished one is not")
		assert.Equal(t, commands.Summary{Total: 2, Succeeded: 1, Cancelled: 1}, got.Summary())
		require.NotNil(t, got.Parent.CancelledAt)
		d, err = svc.Deliver(ctx, b)
		require.NoError(t, err)
		assert.Empty(t, d.Commands, "a cancelled child is never delivered")
		_, n, err = svc.CancelFanout(ctx, *team, f.Parent.ID)
		require.NoError(t, err, "cancelling again is not an error")
		assert.Zero(t, n)

		_, err = svc.Fanout(ctx, *other, f.Parent.ID)
		require.ErrorIs(t, err, store.ErrNotFound, "another team's fan-out does not exist for it")
		_, _, err = svc.CancelFanout(ctx, *other, f.Parent.ID)
		require.ErrorIs(t, err, store.ErrNotFound)
	})
}

// TestFanOutRefusals: the query and the command are checked before anything is queued, with
// the same rules and field names as a single command.
func TestFanOutRefusals(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t, store.SQLite)
	svc := commands.New(commands.Options{Store: st, Logger: zaptest.NewLogger(t)})
	team := newTeam(t, st)
	sat := taggedSatellite(t, st, team, "a", map[string]string{"band": "uhf"})
	for _, tc := range []struct {
		target  string
		in      commands.CreateInput
		kind    commands.Kind
		field   string
		message string
	}{
		{"band=uhf AND", commands.CreateInput{Type: api.CommandPing}, commands.Invalid, "target", "at position 12"},
		{"band=vhf", commands.CreateInput{Type: api.CommandPing}, commands.NoMatch, "target", `"band=vhf"`},
		{"band=uhf", commands.CreateInput{Type: "Ping"}, commands.Invalid, "type", ""},
		{"band=uhf", commands.CreateInput{Type: api.CommandPing, Priority: "urgent"}, commands.Invalid, "priority", ""},
		{"band=uhf", commands.CreateInput{Type: api.CommandObservationCancel}, commands.Invalid, "payload", ""},
		{"band=uhf", commands.CreateInput{Type: api.CommandPing, Payload: json.RawMessage(`{"pong":1}`)}, commands.Invalid, "payload.pong", ""},
	} {
		_, err := svc.FanOut(t.Context(), commands.FanOutInput{TeamID: *team, Target: tc.target, Command: tc.in})
		e := refusal(t, err)
		assert.Equal(t, tc.kind, e.Kind, "%s %+v", tc.target, tc.in)
		assert.Equal(t, tc.field, e.Field, "%s %+v", tc.target, tc.in)
		assert.Contains(t, e.Message, tc.message)
	}
	hist, err := svc.History(t.Context(), commands.HistoryQuery{SatelliteID: sat.ID, Limit: 10})
	require.NoError(t, err)
	assert.Empty(t, hist, "nothing was queued")
}

// TestPause: a paused satellite takes and is handed only the commands allowed while paused;
// its other commands wait; the pause ends by itself at its end time; resume ends it at once.
func TestPause(t *testing.T) {
	t.Parallel()
	storetest.ForEachClocked(t, func(t *testing.T, st *store.Store, clk *storetest.Clock) {
		ctx := t.Context()
		svc := commands.New(commands.Options{Store: st, Logger: zaptest.NewLogger(t)})
		team := newTeam(t, st)
		sat := taggedSatellite(t, st, team, "a", map[string]string{"band": "uhf"})
		held, err := svc.Create(ctx, commands.CreateInput{SatelliteID: sat.ID, Type: api.CommandMaintenanceEnter, Priority: api.PriorityImmediate})
		require.NoError(t, err)

		until := clk.Now().Add(time.Hour)
		p, err := svc.Pause(ctx, commands.PauseInput{TeamID: *team, SatelliteID: sat.ID, Note: " mast repair ", Until: &until, By: "user-1"})
		require.NoError(t, err)
		assert.True(t, p.Satellite.Paused(clk.Now()))
		assert.Equal(t, "mast repair", p.Satellite.PauseNote)
		assert.Equal(t, store.PauseFinish, p.Satellite.PauseRunning, "finish by default")
		assert.Equal(t, "user-1", p.Satellite.PausedBy)
		assert.Zero(t, p.Cancelled)

		_, err = svc.Create(ctx, commands.CreateInput{SatelliteID: sat.ID, Type: api.CommandProcessRestart, Payload: json.RawMessage(`{"name":"x"}`)})
		e := refusal(t, err)
		assert.Equal(t, commands.Conflict, e.Kind)
		assert.Contains(t, e.Message, "mast repair")
		_, err = svc.FanOut(ctx, commands.FanOutInput{TeamID: *team, Target: "band=uhf", Command: commands.CreateInput{Type: api.CommandConfigUpdate,
			Payload: json.RawMessage(`{"heartbeat_seconds":60}`)}})
		assert.Equal(t, commands.Conflict, refusal(t, err).Kind, "the only match is paused")
		park, err := svc.Create(ctx, commands.CreateInput{SatelliteID: sat.ID, Type: api.CommandRotatorPark, Priority: api.PriorityLow})
		require.NoError(t, err, "parking is allowed while paused")

		d, err := svc.Deliver(ctx, sat)
		require.NoError(t, err)
		require.Len(t, d.Commands, 1)
		assert.Equal(t, park.ID, d.Commands[0].ID, "the maintenance.enter queued before the pause waits")
		assert.Equal(t, api.PollingNormal, d.PollingMode, "paced by the low park: the held immediate command does not speed up polling")
		_, err = svc.Report(ctx, sat.ID, park.ID, commands.Report{Status: api.CommandSucceeded})
		require.NoError(t, err)

		clk.Advance(time.Hour) // the pause ends by itself at until
		sat, err = st.SatelliteByID(ctx, sat.ID)
		require.NoError(t, err)
		assert.False(t, sat.Paused(clk.Now()))
		d, err = svc.Deliver(ctx, sat)
		require.NoError(t, err)
		require.Len(t, d.Commands, 1)
		assert.Equal(t, held.ID, d.Commands[0].ID, "held work is handed out once the pause is over")

		_, err = svc.Pause(ctx, commands.PauseInput{TeamID: *team, SatelliteID: sat.ID, Note: "storm"})
		require.NoError(t, err, "no end: until resumed")
		clk.Advance(400 * 24 * time.Hour)
		_, err = svc.Create(ctx, commands.CreateInput{SatelliteID: sat.ID, Type: api.CommandMaintenanceExit})
		assert.Equal(t, commands.Conflict, refusal(t, err).Kind, "a pause without an end lasts")
		sat, was, err := svc.Resume(ctx, *team, sat.ID)
		require.NoError(t, err)
		assert.True(t, was)
		assert.Nil(t, sat.PausedAt)
		_, err = svc.Create(ctx, commands.CreateInput{SatelliteID: sat.ID, Type: api.CommandMaintenanceExit})
		require.NoError(t, err, "resumed")
		_, was, err = svc.Resume(ctx, *team, sat.ID)
		require.NoError(t, err)
		assert.False(t, was, "resuming a running station changes nothing")

		_, err = svc.Pause(ctx, commands.PauseInput{TeamID: *newTeam(t, st), SatelliteID: sat.ID, Note: "x"})
		require.ErrorIs(t, err, store.ErrNotFound, "another team's satellite")
	})
}

// TestPauseCancel: pausing with running=cancel cancels the queued commands a paused station
// would not take and cancels, on the station, the observations it holds whose pass is not over.
func TestPauseCancel(t *testing.T) {
	t.Parallel()
	storetest.ForEachClocked(t, func(t *testing.T, st *store.Store, clk *storetest.Clock) {
		ctx := t.Context()
		svc := commands.New(commands.Options{Store: st, Logger: zaptest.NewLogger(t)})
		team := newTeam(t, st)
		sat := taggedSatellite(t, st, team, "a", nil)
		enter, err := svc.Create(ctx, commands.CreateInput{SatelliteID: sat.ID, Type: api.CommandMaintenanceEnter})
		require.NoError(t, err)
		ping, err := svc.Create(ctx, commands.CreateInput{SatelliteID: sat.ID, Type: api.CommandPing})
		require.NoError(t, err)
		observation := func(id string, los time.Time, status api.CommandStatus) {
			payload := `{"observation_id":"` + id + `","los":"` + los.Format(time.RFC3339) + `"}`
			c := &store.Command{SatelliteID: sat.ID, TeamID: *team, Type: api.CommandObservationSchedule, Priority: api.PriorityNormal, Payload: &payload}
			require.NoError(t, st.CreateCommand(ctx, c))
			_, _, err := st.MoveCommand(ctx, sat.ID, c.ID, []api.CommandStatus{api.CommandPending}, store.StatusUpdate{Status: status})
			require.NoError(t, err)
		}
		observation("obs-future", clk.Now().Add(2*time.Hour), api.CommandSucceeded)
		observation("obs-now", clk.Now().Add(5*time.Minute), api.CommandRunning)
		observation("obs-over", clk.Now().Add(-time.Minute), api.CommandSucceeded)

		p, err := svc.Pause(ctx, commands.PauseInput{TeamID: *team, SatelliteID: sat.ID, Note: "RF interference", Running: store.PauseCancel, By: "user-1"})
		require.NoError(t, err)
		assert.Equal(t, int64(1), p.Cancelled, "maintenance.enter is cancelled; the ping stays")
		var stopped []string
		for _, c := range p.Stops {
			var cp api.ObservationCancelPayload
			require.NoError(t, json.Unmarshal([]byte(*c.Payload), &cp))
			stopped = append(stopped, cp.ObservationID)
			assert.Equal(t, api.PriorityImmediate, c.Priority)
		}
		assert.ElementsMatch(t, []string{"obs-future", "obs-now"}, stopped, "a pass that is over is left alone")

		c, err := st.CommandOf(ctx, sat.ID, enter.ID)
		require.NoError(t, err)
		assert.Equal(t, api.CommandCancelled, c.Status)
		assert.Contains(t, c.Error, "RF interference")
		d, err := svc.Deliver(ctx, sat)
		require.NoError(t, err)
		ids := []string{}
		for _, c := range d.Commands {
			ids = append(ids, c.Type)
		}
		assert.ElementsMatch(t, []string{api.CommandPing, api.CommandObservationCancel, api.CommandObservationCancel}, ids)
		assert.Equal(t, ping.ID, d.Commands[len(d.Commands)-1].ID, "the immediate stops first, the ping last")

		_, err = svc.Pause(ctx, commands.PauseInput{TeamID: *team, SatelliteID: sat.ID, Note: "x", Running: "abort"})
		assert.Equal(t, "running", refusal(t, err).Field)
		_, err = svc.Pause(ctx, commands.PauseInput{TeamID: *team, SatelliteID: sat.ID, Note: "  "})
		assert.Equal(t, "note", refusal(t, err).Field)
		past := clk.Now().Add(-time.Second)
		_, err = svc.Pause(ctx, commands.PauseInput{TeamID: *team, SatelliteID: sat.ID, Note: "x", Until: &past})
		assert.Equal(t, "until", refusal(t, err).Field)
	})
}
