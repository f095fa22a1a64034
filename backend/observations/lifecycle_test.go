package observations_test

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/commands"
	"github.com/talos-gs/talos/backend/observations"
	"github.com/talos-gs/talos/backend/planner"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

func (w *world) book(t *testing.T, p planner.Pass) *store.Observation {
	t.Helper()
	o, err := w.svc.Schedule(t.Context(), w.input(p))
	require.NoError(t, err)
	return o
}

func (w *world) get(t *testing.T, id string) *store.Observation {
	t.Helper()
	o, err := w.st.TeamObservation(t.Context(), w.team, id)
	require.NoError(t, err)
	return o
}

func (w *world) tick(t *testing.T) {
	t.Helper()
	require.NoError(t, w.svc.Tick(t.Context()))
}

func schedulePayload(t *testing.T, c store.Command) api.ObservationSchedulePayload {
	t.Helper()
	require.NotNil(t, c.Payload)
	var p api.ObservationSchedulePayload
	require.NoError(t, json.Unmarshal([]byte(*c.Payload), &p))
	return p
}

// event makes a station event about observation id.
func event(typ, id string, data map[string]any) api.Event {
	if data == nil {
		data = map[string]any{}
	}
	data["observation_id"] = id
	raw, _ := json.Marshal(data)
	return api.Event{ID: uuid.NewString(), Type: typ, Severity: api.SeverityInfo, Time: time.Now(), Data: raw}
}

func goodSummary() map[string]any {
	return map[string]any{"tracked_ticks": 1200, "max_pointing_error_deg": 1.2, "mean_pointing_error_deg": 0.4,
		"pointing_commands": 300, "pointing_accepted": 300, "faults": 0}
}

// TestDispatchAheadOfAOSOnceAcrossReplicas: nothing is sent before AOS−1 h; then two replicas
// ticking at once queue exactly one observation.schedule carrying the element set, transmitter
// and pass, correlated with the observation; later ticks send nothing more.
func TestDispatchAheadOfAOSOnceAcrossReplicas(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		w := newWorld(t, st)
		p := w.passes(t, w.station, 24)[0]
		o := w.book(t, p)
		w.clk.Set(p.AOS.Add(-61 * time.Minute))
		w.tick(t)
		assert.Empty(t, w.commandsOf(t, w.station.ID, api.CommandObservationSchedule), "not yet due")

		w.clk.Set(p.AOS.Add(-59 * time.Minute))
		replicas := []*observations.Service{w.svc, w.newService(t, observations.Settings{})}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for _, r := range replicas {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				assert.NoError(t, r.Tick(t.Context()))
			}()
		}
		close(start)
		wg.Wait()
		w.tick(t)
		cmds := w.commandsOf(t, w.station.ID, api.CommandObservationSchedule)
		require.Len(t, cmds, 1, "one claim per observation")
		got := w.get(t, o.ID)
		assert.Equal(t, store.ObsDispatched, got.State)
		assert.Equal(t, cmds[0].ID, got.CommandID)
		assert.Equal(t, o.ID, cmds[0].CorrelationID)
		assert.Equal(t, api.PriorityNormal, cmds[0].Priority)
		pl := schedulePayload(t, cmds[0])
		assert.Equal(t, o.ID, pl.ObservationID)
		assert.Equal(t, issNORAD, pl.NoradID)
		assert.Equal(t, issLine1, pl.ElementSet.Line1)
		assert.Equal(t, issLine2, pl.ElementSet.Line2)
		assert.InDelta(t, 145.8e6, pl.Transmitter.DownlinkHz, 1)
		assert.Equal(t, "FM", pl.Transmitter.Mode)
		assert.True(t, pl.AOS.Equal(o.AOS) && pl.LOS.Equal(o.LOS))
		require.NotNil(t, cmds[0].ExpiresAt, "an undelivered pass expires")
	})
}

// TestRedispatchOnNewElementSet: a newer set that moves the pass by less than 1 s is not sent;
// one that moves it by ~8 s is sent again under the same observation id, and the history says
// why.
func TestRedispatchOnNewElementSet(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		w := newWorld(t, st)
		p := w.passes(t, w.station, 24)[0]
		o := w.book(t, p)
		w.clk.Set(p.AOS.Add(-59 * time.Minute))
		w.tick(t)
		require.Len(t, w.commandsOf(t, w.station.ID, api.CommandObservationSchedule), 1)

		w.importSet(t, shiftedEpoch(t, 50*time.Millisecond))
		w.tick(t)
		require.Len(t, w.commandsOf(t, w.station.ID, api.CommandObservationSchedule), 1, "a pass moved by 50 ms is not re-sent")
		same := w.get(t, o.ID)
		assert.Equal(t, o.ElementSetID, same.ElementSetID)
		assert.NotEqual(t, o.ElementSetID, same.CheckedSetID, "the newer set was compared")

		w.importSet(t, shiftedEpoch(t, 8*time.Second))
		w.tick(t)
		cmds := w.commandsOf(t, w.station.ID, api.CommandObservationSchedule)
		require.Len(t, cmds, 2, "a pass moved by seconds is re-sent")
		pl := schedulePayload(t, cmds[1])
		assert.Equal(t, o.ID, pl.ObservationID, "the station replaces the observation with the same id")
		assert.Equal(t, shiftedEpoch(t, 8*time.Second), pl.ElementSet.Line1)
		moved := w.get(t, o.ID)
		assert.Equal(t, store.ObsDispatched, moved.State)
		assert.Equal(t, cmds[1].ID, moved.CommandID)
		assert.InDelta(t, 8, moved.AOS.Sub(o.AOS).Seconds(), 2, "the new pass is booked")
		hist, err := w.svc.History(t.Context(), w.team, o.ID)
		require.NoError(t, err)
		last := hist[len(hist)-1]
		assert.Contains(t, last.Reason, "re-dispatched")
		assert.Contains(t, last.Reason, "moves AOS by +")
		w.tick(t)
		assert.Len(t, w.commandsOf(t, w.station.ID, api.CommandObservationSchedule), 2, "nothing more to send")
	})
}

// TestOfflineStationGetsEverythingDueInAOSOrderAtHigh: for a station offline at dispatch, every
// due observation is queued at high priority and delivered on its first poll in AOS order.
func TestOfflineStationGetsEverythingDueInAOSOrderAtHigh(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		w := newWorld(t, st, func(s *observations.Settings) { s.DispatchAhead = 4 * time.Hour })
		passes := w.passes(t, w.station, 24)
		second := w.book(t, passes[1])
		first := w.book(t, passes[0])
		setSeen(t, st, w.station.ID, "offline", w.clk.Now())
		w.clk.Set(passes[0].AOS.Add(-30 * time.Minute))
		w.tick(t)
		sat, err := st.SatelliteByID(t.Context(), w.station.ID)
		require.NoError(t, err)
		d, err := w.cmds.Deliver(t.Context(), sat)
		require.NoError(t, err)
		require.Len(t, d.Commands, 2)
		for _, c := range d.Commands {
			assert.Equal(t, api.PriorityHigh, c.Priority)
		}
		assert.Equal(t, first.ID, d.Commands[0].CorrelationID, "AOS order")
		assert.Equal(t, second.ID, d.Commands[1].CorrelationID)
	})
}

// TestMissed: a pass that ended before dispatch is marked missed and never sent; a dispatched
// pass the station stays silent about is missed after the grace period, with a failed verdict;
// the station's late report still completes it.
func TestMissed(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		w := newWorld(t, st)
		passes := w.passes(t, w.station, 24)
		unsent := w.book(t, passes[0])
		silent := w.book(t, passes[1])
		w.clk.Set(passes[0].LOS.Add(time.Second))
		w.tick(t)
		got := w.get(t, unsent.ID)
		assert.Equal(t, store.ObsMissed, got.State)
		assert.Equal(t, observations.VerdictFailed, got.Verdict)
		assert.Empty(t, got.CommandID)
		for _, c := range w.commandsOf(t, w.station.ID, api.CommandObservationSchedule) {
			assert.NotEqual(t, unsent.ID, c.CorrelationID, "an ended pass is not sent")
		}

		w.clk.Set(passes[1].AOS.Add(-30 * time.Minute))
		w.tick(t)
		require.Equal(t, store.ObsDispatched, w.get(t, silent.ID).State)
		w.clk.Set(passes[1].LOS.Add(59 * time.Second))
		w.tick(t)
		assert.Empty(t, w.get(t, silent.ID).Verdict, "the station may still report")
		w.clk.Set(passes[1].LOS.Add(61 * time.Second))
		w.tick(t)
		got = w.get(t, silent.ID)
		assert.Equal(t, observations.VerdictFailed, got.Verdict, "a verdict within 60 s of LOS")
		assert.Contains(t, got.VerdictReasons, "within 1m0s of LOS")
		w.clk.Set(passes[1].LOS.Add(9 * time.Minute))
		w.tick(t)
		require.Equal(t, store.ObsDispatched, w.get(t, silent.ID).State, "within the grace period")
		w.clk.Set(passes[1].LOS.Add(11 * time.Minute))
		w.tick(t)
		got = w.get(t, silent.ID)
		assert.Equal(t, store.ObsMissed, got.State)
		assert.Equal(t, observations.VerdictFailed, got.Verdict)
		assert.Contains(t, got.VerdictReasons, "no report from the station")

		require.NoError(t, w.svc.Ingest(t.Context(), w.station.ID,
			[]api.Event{event(api.EventObservationCompleted, silent.ID, goodSummary())}))
		got = w.get(t, silent.ID)
		assert.Equal(t, store.ObsCompleted, got.State, "a late report wins over missed")
		assert.Equal(t, observations.VerdictGood, got.Verdict)
	})
}

// TestEventsDriveTheLifecycleAndTheVerdict: prepared, aos and completed move an observation
// along; the summary decides good or degraded; a failure is failed; a decoder in trouble makes
// a pass degraded; events of another station or repeated change nothing.
func TestEventsDriveTheLifecycleAndTheVerdict(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		w := newWorld(t, st)
		ctx := t.Context()
		passes := w.passes(t, w.station, 24)
		good, faulty, failed := w.book(t, passes[0]), w.book(t, passes[1]), w.book(t, passes[2])
		other := w.newStation(t, w.team, 52.5, 13.4)

		require.NoError(t, w.svc.Ingest(ctx, other.ID, []api.Event{event(api.EventAOS, good.ID, nil)}))
		assert.Equal(t, store.ObsScheduled, w.get(t, good.ID).State, "another station's event is ignored")

		require.NoError(t, w.svc.Ingest(ctx, w.station.ID, []api.Event{event(api.EventObservationPrepared, good.ID, nil)}))
		assert.Equal(t, store.ObsPrepared, w.get(t, good.ID).State)
		aos := event(api.EventAOS, good.ID, nil)
		require.NoError(t, w.svc.Ingest(ctx, w.station.ID, []api.Event{aos}))
		assert.Equal(t, store.ObsRunning, w.get(t, good.ID).State)
		done := event(api.EventObservationCompleted, good.ID, goodSummary())
		require.NoError(t, w.svc.Ingest(ctx, w.station.ID, []api.Event{done}))
		got := w.get(t, good.ID)
		assert.Equal(t, store.ObsCompleted, got.State)
		assert.Equal(t, observations.VerdictGood, got.Verdict)
		require.NotNil(t, got.VerdictAt)
		hist, err := w.svc.History(ctx, w.team, good.ID)
		require.NoError(t, err)
		require.NoError(t, w.svc.Ingest(ctx, w.station.ID, []api.Event{aos, done}))
		again, err := w.svc.History(ctx, w.team, good.ID)
		require.NoError(t, err)
		assert.Len(t, again, len(hist), "a batch sent twice moves nothing")

		sum := goodSummary()
		sum["rotator_errors"], sum["mean_pointing_error_deg"] = 3, 3.5
		require.NoError(t, w.svc.Ingest(ctx, w.station.ID, []api.Event{event(api.EventObservationCompleted, faulty.ID, sum)}))
		got = w.get(t, faulty.ID)
		assert.Equal(t, observations.VerdictDegraded, got.Verdict)
		assert.Contains(t, got.VerdictReasons, "3 rotator faults")
		assert.Contains(t, got.VerdictReasons, "mean pointing error 3.5")

		crash := api.Event{ID: uuid.NewString(), Type: api.EventProcessExited, Severity: api.SeverityWarning, Time: time.Now(),
			Message: "process failed", CorrelationID: good.ID}
		require.NoError(t, w.svc.Ingest(ctx, w.station.ID, []api.Event{crash}))
		got = w.get(t, good.ID)
		assert.Equal(t, observations.VerdictDegraded, got.Verdict, "a crashed decoder degrades a judged pass")
		assert.Contains(t, got.VerdictReasons, "decoder exited: process failed")

		require.NoError(t, w.svc.Ingest(ctx, w.station.ID, []api.Event{event(api.EventObservationFailed, failed.ID,
			map[string]any{"reason": "rotator never accepted a pointing command"})}))
		got = w.get(t, failed.ID)
		assert.Equal(t, store.ObsFailed, got.State)
		assert.Equal(t, observations.VerdictFailed, got.Verdict)
	})
}

// TestCancelBeforeAndDuringAPass: a scheduled observation is cancelled without telling the
// station; a running one is cancelled, its pending schedule withdrawn and observation.cancel
// queued at immediate priority; the station's "cancelled" failure keeps it cancelled; a
// finished observation cannot be cancelled.
func TestCancelBeforeAndDuringAPass(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		w := newWorld(t, st)
		ctx := t.Context()
		passes := w.passes(t, w.station, 24)
		early, running := w.book(t, passes[0]), w.book(t, passes[1])

		got, err := w.svc.Cancel(ctx, w.team, early.ID, "tester")
		require.NoError(t, err)
		assert.Equal(t, store.ObsCancelled, got.State)
		assert.Empty(t, w.commandsOf(t, w.station.ID, api.CommandObservationCancel), "nothing was sent")

		w.clk.Set(passes[1].AOS.Add(-30 * time.Minute))
		w.tick(t)
		require.Equal(t, store.ObsDispatched, w.get(t, running.ID).State)
		require.NoError(t, w.svc.Ingest(ctx, w.station.ID, []api.Event{event(api.EventAOS, running.ID, nil)}))
		got, err = w.svc.Cancel(ctx, w.team, running.ID, "tester")
		require.NoError(t, err)
		assert.Equal(t, store.ObsCancelled, got.State)
		cancels := w.commandsOf(t, w.station.ID, api.CommandObservationCancel)
		require.Len(t, cancels, 1)
		assert.Equal(t, api.PriorityImmediate, cancels[0].Priority)
		assert.JSONEq(t, `{"observation_id":"`+running.ID+`"}`, *cancels[0].Payload)
		sched, err := st.CommandOf(ctx, w.station.ID, got.CommandID)
		require.NoError(t, err)
		assert.Equal(t, api.CommandCancelled, sched.Status, "the undelivered schedule is withdrawn")

		require.NoError(t, w.svc.Ingest(ctx, w.station.ID, []api.Event{event(api.EventObservationFailed, running.ID,
			map[string]any{"reason": "cancelled", "partial": goodSummary()})}))
		got = w.get(t, running.ID)
		assert.Equal(t, store.ObsCancelled, got.State)
		assert.NotNil(t, got.Summary, "what the pass did before the cancel is kept")

		// A cancel the station reports for an observation still live here (queued by hand).
		byHand := w.book(t, passes[3])
		require.NoError(t, w.svc.Ingest(ctx, w.station.ID, []api.Event{event(api.EventObservationFailed, byHand.ID,
			map[string]any{"reason": "cancelled"})}))
		assert.Equal(t, store.ObsCancelled, w.get(t, byHand.ID).State)

		done := w.book(t, passes[2])
		require.NoError(t, w.svc.Ingest(ctx, w.station.ID, []api.Event{event(api.EventObservationCompleted, done.ID, goodSummary())}))
		_, err = w.svc.Cancel(ctx, w.team, done.ID, "tester")
		e := refusal(t, err)
		assert.Equal(t, observations.Conflict, e.Kind)
		assert.Equal(t, observations.RuleState, e.Rule)

		_, err = w.svc.Cancel(ctx, store.NewID(), done.ID, "tester")
		assert.ErrorIs(t, err, store.ErrNotFound, "another team's observation")
	})
}

// TestOverrideVerdictAndSuccessRates: a member overrides a verdict with a note (required); the
// rates count verdicts per station and spacecraft over the window.
func TestOverrideVerdictAndSuccessRates(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		w := newWorld(t, st)
		ctx := t.Context()
		passes := w.passes(t, w.station, 24)
		a, b := w.book(t, passes[0]), w.book(t, passes[1])
		bad := goodSummary()
		bad["tracked_ticks"] = 0
		require.NoError(t, w.svc.Ingest(ctx, w.station.ID, []api.Event{
			event(api.EventObservationCompleted, a.ID, goodSummary()), event(api.EventObservationCompleted, b.ID, bad)}))
		assert.Equal(t, observations.VerdictFailed, w.get(t, b.ID).Verdict)

		_, err := w.svc.OverrideVerdict(ctx, w.team, a.ID, observations.VerdictDegraded, " ", "tester")
		assert.Equal(t, "note", refusal(t, err).Field)
		_, err = w.svc.OverrideVerdict(ctx, w.team, a.ID, "meh", "noisy", "tester")
		assert.Equal(t, "verdict", refusal(t, err).Field)
		got, err := w.svc.OverrideVerdict(ctx, w.team, a.ID, observations.VerdictDegraded, "waterfall shows nothing", "tester")
		require.NoError(t, err)
		assert.Equal(t, observations.VerdictDegraded, got.Verdict)
		assert.Equal(t, "waterfall shows nothing", got.OverrideNote)
		assert.Equal(t, "tester", got.OverrideBy)

		w.clk.Set(passes[1].LOS.Add(time.Hour))
		r, err := w.svc.SuccessRates(ctx, w.team, 7)
		require.NoError(t, err)
		require.Len(t, r.Stations, 1)
		assert.Equal(t, observations.Rate{Degraded: 1, Failed: 1, Total: 2}, r.Stations[0].Rate)
		require.Len(t, r.Spacecraft, 1)
		assert.Equal(t, issNORAD, r.Spacecraft[0].NORAD)
		other, err := w.svc.SuccessRates(ctx, store.NewID(), 7)
		require.NoError(t, err)
		assert.Empty(t, other.Stations, "team scope")
	})
}

// TestStationRefusalFailsTheObservation: a station that refuses observation.schedule (its own
// allow-list, an observation booked there by hand) fails the observation with its error.
func TestStationRefusalFailsTheObservation(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		w := newWorld(t, st)
		p := w.passes(t, w.station, 24)[0]
		o := w.book(t, p)
		w.clk.Set(p.AOS.Add(-30 * time.Minute))
		w.tick(t)
		cmd := w.get(t, o.ID).CommandID
		require.NotEmpty(t, cmd)
		_, err := w.cmds.Report(t.Context(), w.station.ID, cmd, commands.Report{Status: api.CommandFailed,
			Error: "invalid process: program: \"x\" is not allowed", CorrelationID: o.ID})
		require.NoError(t, err)
		w.tick(t)
		got := w.get(t, o.ID)
		assert.Equal(t, store.ObsFailed, got.State)
		assert.Equal(t, observations.VerdictFailed, got.Verdict)
		assert.Contains(t, got.VerdictReasons, "the station refused observation.schedule: invalid process")
	})
}
