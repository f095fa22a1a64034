package commands_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/commands"
	"github.com/talos-gs/talos/backend/notify"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

// newSatellite registers a satellite of teamID (nil: none) straight in the store.
func newSatellite(t *testing.T, st *store.Store, teamID *string) *store.Satellite {
	t.Helper()
	tok := &store.RegistrationToken{ID: store.NewID(), TeamID: teamID, ExpiresAt: st.Now().Add(time.Hour), UsesAllowed: 1}
	require.NoError(t, st.CreateRegistrationToken(t.Context(), tok))
	sat, err := st.RegisterSatellite(t.Context(), store.Registration{TokenID: tok.ID, Name: "roof",
		APIKeyID: uuid.NewString()[:16], APIKeyHash: "hash", HeartbeatSeconds: 30})
	require.NoError(t, err)
	return sat
}

func newTeam(t *testing.T, st *store.Store) *string {
	t.Helper()
	team, err := st.CreateTeam(t.Context(), "Lab "+uuid.NewString()[:8], "")
	require.NoError(t, err)
	return &team.ID
}

// refusal returns err's *commands.Error, failing the test when it is none.
func refusal(t *testing.T, err error) *commands.Error {
	t.Helper()
	var e *commands.Error
	require.True(t, errors.As(err, &e), "not a *commands.Error: %v", err)
	return e
}

// TestServiceLifecycle drives the queue the way the planner will, without HTTP: create,
// deliver, report and cancel, on both dialects.
func TestServiceLifecycle(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		ctx := t.Context()
		n := notify.NewLocal()
		svc := commands.New(commands.Options{Store: st, Notifier: n, Logger: zaptest.NewLogger(t), Lease: 20 * time.Second})
		sat := newSatellite(t, st, newTeam(t, st))
		woken, unsub := n.Subscribe(sat.ID)
		defer unsub()

		park, err := svc.Create(ctx, commands.CreateInput{SatelliteID: sat.ID, Type: api.CommandRotatorPark,
			Priority: api.PriorityHigh, CorrelationID: "storm", CreatedBy: "planner"})
		require.NoError(t, err)
		assert.Equal(t, api.CommandPending, park.Status)
		assert.Equal(t, api.PriorityHigh.Rank(), park.PriorityRank, "the rank follows the priority")
		select {
		case <-woken:
		default:
			t.Fatal("creating a command did not wake the satellite's long-polls")
		}
		ping, err := svc.Create(ctx, commands.CreateInput{SatelliteID: sat.ID, Type: api.CommandPing})
		require.NoError(t, err)
		assert.Equal(t, api.PriorityNormal, ping.Priority, "normal by default")

		d, err := svc.Deliver(ctx, sat)
		require.NoError(t, err)
		require.Len(t, d.Commands, 2)
		assert.Equal(t, park.ID, d.Commands[0].ID, "high before normal")
		assert.Equal(t, api.PollingHigh, d.PollingMode)
		assert.Equal(t, api.PollingHigh.Seconds(), d.NextPollSeconds)
		d, err = svc.Deliver(ctx, sat)
		require.NoError(t, err)
		assert.Empty(t, d.Commands, "leased")
		assert.Equal(t, api.PollingIdle, d.PollingMode)

		c, err := svc.Report(ctx, sat.ID, park.ID, commands.Report{Status: api.CommandAcknowledged})
		require.NoError(t, err)
		assert.Equal(t, api.CommandAcknowledged, c.Status)
		_, err = svc.Report(ctx, sat.ID, park.ID, commands.Report{Status: api.CommandAcknowledged})
		require.NoError(t, err, "a repeat is a no-op")
		c, err = svc.Report(ctx, sat.ID, park.ID, commands.Report{Status: api.CommandSucceeded, Result: json.RawMessage(`{"ok":true}`)})
		require.NoError(t, err)
		assert.Equal(t, api.CommandSucceeded, c.Status)
		require.NotNil(t, c.FinishedAt)
		_, err = svc.Report(ctx, sat.ID, park.ID, commands.Report{Status: api.CommandRunning})
		assert.Equal(t, commands.Conflict, refusal(t, err).Kind, "no going back")
		_, err = svc.Report(ctx, sat.ID, park.ID, commands.Report{Status: api.CommandCancelled})
		assert.Equal(t, "status", refusal(t, err).Field, "a satellite does not report cancelled")

		_, err = svc.Cancel(ctx, sat.ID, park.ID)
		assert.Equal(t, commands.Conflict, refusal(t, err).Kind, "a finished command cannot be cancelled")
		c, err = svc.Cancel(ctx, sat.ID, ping.ID)
		require.NoError(t, err, "a delivered one can")
		assert.Equal(t, api.CommandCancelled, c.Status)
		_, err = svc.Report(ctx, sat.ID, ping.ID, commands.Report{Status: api.CommandAcknowledged})
		assert.Equal(t, commands.Conflict, refusal(t, err).Kind, "the satellite learns it was cancelled")

		other := newSatellite(t, st, nil)
		_, err = svc.Cancel(ctx, other.ID, ping.ID)
		assert.ErrorIs(t, err, store.ErrNotFound, "another satellite's command does not exist for it")
		_, err = svc.Report(ctx, sat.ID, "not-an-id", commands.Report{Status: api.CommandRunning})
		assert.ErrorIs(t, err, store.ErrNotFound)

		hist, err := svc.History(ctx, commands.HistoryQuery{SatelliteID: sat.ID, Limit: 10})
		require.NoError(t, err)
		require.Len(t, hist, 2)
		assert.Equal(t, ping.ID, hist[0].ID, "newest first")
		_, err = svc.History(ctx, commands.HistoryQuery{SatelliteID: sat.ID, Status: "done", Limit: 10})
		assert.Equal(t, "status", refusal(t, err).Field)
	})
}

// TestCreateChecksEveryPayload: each command type's payload is checked strictly at queueing
// (issue 11, item 10): the wrong JSON type where an object is expected is refused naming the
// payload, for the built-in types and for any other.
func TestCreateChecksEveryPayload(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t, store.SQLite)
	svc := commands.New(commands.Options{Store: st, Logger: zaptest.NewLogger(t)})
	sat := newSatellite(t, st, newTeam(t, st))
	for _, tc := range []struct {
		typ, payload, field string
	}{
		{api.CommandRotatorPark, `"str"`, "payload"},
		{api.CommandPing, `[1,2]`, "payload"},
		{api.CommandPing, `{"pong":true}`, "payload.pong"},
		{api.CommandDiagnosticsCollect, `5`, "payload"},
		{api.CommandProcessList, `true`, "payload"},
		{api.CommandRotatorPark, `{"reason":5}`, "payload.reason"},
		{api.CommandMaintenanceEnter, `"str"`, "payload"},
		{api.CommandProcessStop, `[]`, "payload"},
		{api.CommandConfigUpdate, `"x"`, "payload"},
		{"custom.thing", `"str"`, "payload"},
		{"custom.thing", `[1]`, "payload"},
	} {
		_, err := svc.Create(t.Context(), commands.CreateInput{SatelliteID: sat.ID, Type: tc.typ, Payload: json.RawMessage(tc.payload)})
		e := refusal(t, err)
		assert.Equal(t, commands.Invalid, e.Kind, "%s %s", tc.typ, tc.payload)
		assert.Equal(t, tc.field, e.Field, "%s %s: %s", tc.typ, tc.payload, e.Message)
	}
	for _, tc := range []struct{ typ, payload string }{
		{api.CommandRotatorPark, ``},
		{api.CommandRotatorPark, `null`},
		{api.CommandRotatorPark, `{}`},
		{api.CommandRotatorPark, `{"reason":"wind"}`},
		{api.CommandPing, ``},
		{"custom.thing", `{"any":[1,2]}`},
	} {
		_, err := svc.Create(t.Context(), commands.CreateInput{SatelliteID: sat.ID, Type: tc.typ, Payload: json.RawMessage(tc.payload)})
		assert.NoError(t, err, "%s %s", tc.typ, tc.payload)
	}
	_, err := svc.Create(t.Context(), commands.CreateInput{SatelliteID: store.NewID(), Type: api.CommandPing})
	assert.ErrorIs(t, err, store.ErrNotFound, "no such satellite")
}

// TestDeliverCarriesAtMostMaxCommandsPerPoll: however long the queue, one delivery hands out at
// most api.MaxCommandsPerPoll commands, and paces by what is left.
func TestDeliverCarriesAtMostMaxCommandsPerPoll(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t, store.SQLite)
	svc := commands.New(commands.Options{Store: st, Logger: zaptest.NewLogger(t)})
	sat := newSatellite(t, st, nil)
	for range api.MaxCommandsPerPoll + 3 {
		_, err := svc.Create(t.Context(), commands.CreateInput{SatelliteID: sat.ID, Type: api.CommandPing, Priority: api.PriorityLow})
		require.NoError(t, err)
	}
	d, err := svc.Deliver(t.Context(), sat)
	require.NoError(t, err)
	assert.Len(t, d.Commands, api.MaxCommandsPerPoll)
	assert.Equal(t, api.PollingNormal, d.PollingMode, "low commands still wait")
	d, err = svc.Deliver(t.Context(), sat)
	require.NoError(t, err)
	assert.Len(t, d.Commands, 3)
}
