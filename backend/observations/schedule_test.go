package observations_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/observations"
	"github.com/talos-gs/talos/backend/planner"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
	"github.com/talos-gs/talos/orbit"
)

// refusal returns err's *observations.Error, failing the test when it is none.
func refusal(t *testing.T, err error) *observations.Error {
	t.Helper()
	var e *observations.Error
	require.True(t, errors.As(err, &e), "not a refusal: %v", err)
	return e
}

// TestScheduleBooksThePlannersPass: a booking of a real pass (times within the tolerance) is
// stored as scheduled with the planner's pass, the element set and transmitter used, and a
// history line; a dry run answers the same observation and stores nothing.
func TestScheduleBooksThePlannersPass(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		w := newWorld(t, st)
		ctx := t.Context()
		p := w.passes(t, w.station, 24)[0]
		in := w.input(p)
		in.AOS, in.LOS = p.AOS.Add(3*time.Second), p.LOS.Add(-2*time.Second)
		in.DryRun = true
		dry, err := w.svc.Schedule(ctx, in)
		require.NoError(t, err)
		assert.Empty(t, dry.ID)
		busy, err := w.svc.Busy(ctx, w.station.ID, p.AOS.Add(-time.Hour), p.LOS.Add(time.Hour))
		require.NoError(t, err)
		assert.Empty(t, busy, "a dry run books nothing")

		in.DryRun = false
		o, err := w.svc.Schedule(ctx, in)
		require.NoError(t, err)
		assert.NotEmpty(t, o.ID)
		assert.Equal(t, store.ObsScheduled, o.State)
		assert.WithinDuration(t, p.AOS, o.AOS, 50*time.Millisecond, "the planner's AOS is booked, not the 3 s later one asked")
		assert.WithinDuration(t, p.LOS, o.LOS, 50*time.Millisecond)
		assert.InDelta(t, p.MaxElevationDeg, o.MaxEl, 0.01)
		assert.Equal(t, w.txID, o.TransmitterID)
		assert.NotEmpty(t, o.ElementSetID)
		assert.Equal(t, observations.SourceUser, o.Source)

		busy, err = w.svc.Busy(ctx, w.station.ID, p.AOS.Add(-time.Hour), p.LOS.Add(time.Hour))
		require.NoError(t, err)
		require.Len(t, busy, 1)
		assert.Equal(t, o.ID, busy[0].ObservationID)
		assert.InDelta(t, p.AOSAzimuthDeg, busy[0].AOSPointing.AzDeg, 0.01)
		assert.InDelta(t, p.LOSAzimuthDeg, busy[0].LOSPointing.AzDeg, 0.01)
		assert.True(t, busy[0].AOS.Equal(o.AOS), "stored as returned: %s vs %s", busy[0].AOS, o.AOS)

		hist, err := w.svc.History(ctx, w.team, o.ID)
		require.NoError(t, err)
		require.Len(t, hist, 1)
		assert.Equal(t, store.ObsScheduled, hist[0].ToState)
	})
}

// TestScheduleRules: each rule refuses with its name and the field, on both dialects.
func TestScheduleRules(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		w := newWorld(t, st)
		ctx := t.Context()
		passes := w.passes(t, w.station, 24)
		p := passes[0]

		other, err := st.CreateTeam(ctx, "Other lab", "")
		require.NoError(t, err)
		foreign := w.newStation(t, other.ID, 48.15, 11.57)

		cases := []struct {
			name  string
			edit  func(in *observations.ScheduleInput)
			setup func()
			rule  string
			field string
			kind  observations.Kind
		}{
			{name: "bad norad", edit: func(in *observations.ScheduleInput) { in.NORAD = 0 },
				rule: observations.RuleInvalid, field: "norad", kind: observations.Invalid},
			{name: "los before aos", edit: func(in *observations.ScheduleInput) { in.LOS = in.AOS.Add(-time.Second) },
				rule: observations.RuleInvalid, field: "los", kind: observations.Invalid},
			{name: "lead time", setup: func() { w.clk.Set(p.AOS.Add(-9 * time.Minute)) },
				rule: observations.RuleLeadTime, field: "aos", kind: observations.Refused},
			{name: "min duration", edit: func(in *observations.ScheduleInput) { in.LOS = in.AOS.Add(119 * time.Second) },
				rule: observations.RuleMinDuration, field: "los", kind: observations.Refused},
			{name: "no such pass", edit: func(in *observations.ScheduleInput) {
				in.AOS, in.LOS = in.AOS.Add(11*time.Second), in.LOS.Add(11*time.Second)
			}, rule: observations.RuleNoPass, field: "aos", kind: observations.Refused},
			{name: "not in catalog", edit: func(in *observations.ScheduleInput) { in.NORAD = 99999 },
				rule: observations.RuleSpacecraft, field: "norad", kind: observations.Refused},
			{name: "unknown transmitter", edit: func(in *observations.ScheduleInput) { in.TransmitterID = store.NewID() },
				rule: observations.RuleTransmitter, field: "transmitter_id", kind: observations.Refused},
			{name: "decoder not allowed", edit: func(in *observations.ScheduleInput) { in.Decoder = "bash" },
				setup: func() { setCapabilities(t, st, w.station.ID, "rotator", "program.noaa-apt") },
				rule:  observations.RuleDecoder, field: "decoder", kind: observations.Refused},
			{name: "station offline for days", setup: func() { setSeen(t, st, w.station.ID, "offline", w.clk.Now().Add(-49*time.Hour)) },
				rule: observations.RuleStationOffline, field: "satellite_id", kind: observations.Refused},
		}
		for _, tc := range cases {
			w.clk.Set(time.Date(2026, 6, 26, 18, 0, 0, 0, time.UTC))
			setCapabilities(t, st, w.station.ID)
			setSeen(t, st, w.station.ID, "online", w.clk.Now())
			if tc.setup != nil {
				tc.setup()
			}
			in := w.input(p)
			if tc.edit != nil {
				tc.edit(&in)
			}
			_, err := w.svc.Schedule(ctx, in)
			e := refusal(t, err)
			assert.Equal(t, tc.rule, e.Rule, "%s: %v", tc.name, e)
			assert.Equal(t, tc.field, e.Field, tc.name)
			assert.Equal(t, tc.kind, e.Kind, tc.name)
		}
		w.clk.Set(time.Date(2026, 6, 26, 18, 0, 0, 0, time.UTC))
		setCapabilities(t, st, w.station.ID, "program.noaa-apt")
		setSeen(t, st, w.station.ID, "offline", w.clk.Now().Add(-30*time.Minute))

		in := w.input(p)
		in.SatelliteID = foreign.ID
		_, err = w.svc.Schedule(ctx, in)
		require.ErrorIs(t, err, store.ErrNotFound, "another team's station is not found")

		in = w.input(p)
		in.Decoder = "noaa-apt"
		o, err := w.svc.Schedule(ctx, in)
		require.NoError(t, err, "an allowed decoder on a station seen 30 min ago")
		assert.Equal(t, "noaa-apt", o.Decoder)

		high := w.newService(t, observations.Settings{MinElevationDeg: 89.9})
		_, err = high.Schedule(ctx, w.input(passes[1]))
		assert.Equal(t, observations.RuleMinElevation, refusal(t, err).Rule)

		_, refusals, err := w.svc.Preview(ctx, observations.ScheduleInput{TeamID: w.team, SatelliteID: w.station.ID,
			NORAD: issNORAD, AOS: p.AOS, LOS: p.AOS.Add(time.Minute), Decoder: "bash", CreatedBy: "tester"})
		require.NoError(t, err)
		var rules []string
		for _, r := range refusals {
			rules = append(rules, r.Rule)
		}
		assert.Subset(t, rules, []string{observations.RuleMinDuration, observations.RuleDecoder, observations.RuleNoPass},
			"a preview lists every refusal")
	})
}

// TestOverlapAndSlewGap: a booking overlapping another is a conflict naming it; one that ends
// too shortly before the next pass for the rotator to turn is a slew_gap conflict naming it;
// with time enough to slew it is booked.
func TestOverlapAndSlewGap(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		w := newWorld(t, st)
		ctx := t.Context()
		p := w.passes(t, w.station, 24)[0]
		first, err := w.svc.Schedule(ctx, w.input(p))
		require.NoError(t, err)
		_, err = w.svc.Schedule(ctx, w.input(p))
		e := refusal(t, err)
		assert.Equal(t, observations.RuleOverlap, e.Rule)
		assert.Equal(t, observations.Conflict, e.Kind)
		assert.Equal(t, first.ID, e.ConflictID)
		assert.Contains(t, e.Message, first.ID)
		require.NoError(t, st.DB().Model(&store.Observation{}).Where("id = ?", first.ID).Update("state", store.ObsCancelled).Error)

		// A pass of another spacecraft ending 30 s before this AOS, on the opposite azimuth:
		// 180° at 2°/s needs 90 s.
		rate := w.svc.Settings().SlewRate
		need := observations.SlewTime(observations.Pointing{AzDeg: p.AOSAzimuthDeg + 180}, observations.Pointing{AzDeg: p.AOSAzimuthDeg}, rate)
		require.Equal(t, 90*time.Second, need)
		before := bookRaw(t, st, w, p.AOS.Add(-10*time.Minute), p.AOS.Add(-30*time.Second), p.AOSAzimuthDeg+180)
		_, err = w.svc.Schedule(ctx, w.input(p))
		e = refusal(t, err)
		assert.Equal(t, observations.RuleSlewGap, e.Rule, e.Message)
		assert.Equal(t, before.ID, e.ConflictID)

		require.NoError(t, st.DB().Model(&store.Observation{}).Where("id = ?", before.ID).Update("los", p.AOS.Add(-91*time.Second)).Error)
		_, err = w.svc.Schedule(ctx, w.input(p))
		require.NoError(t, err, "91 s is time enough to slew 180°")
	})
}

// bookRaw stores an observation of another spacecraft straight in the store, pointing at az at
// both ends, without any rule.
func bookRaw(t *testing.T, st *store.Store, w *world, aos, los time.Time, az float64) *store.Observation {
	t.Helper()
	o := &store.Observation{TeamID: w.team, SatelliteID: w.station.ID, SpacecraftID: store.NewID(), NORADID: 43017,
		AOS: aos, TCA: aos, LOS: los, MaxEl: 40, AOSAz: az, LOSAz: az, ElementSetID: store.NewID(), ElementSetEpoch: aos,
		Source: observations.SourceUser}
	require.NoError(t, st.BookObservation(t.Context(), o, 0, func([]store.Observation) error { return nil }))
	return o
}

// TestConcurrentBookingsOneWins: goroutines booking the same pass at once, released together by
// a barrier: exactly one wins, every other gets the overlap naming the winner.
func TestConcurrentBookingsOneWins(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		w := newWorld(t, st)
		p := w.passes(t, w.station, 24)[0]
		const n = 6
		var wg sync.WaitGroup
		start := make(chan struct{})
		results := make([]*store.Observation, n)
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				results[i], errs[i] = w.svc.Schedule(t.Context(), w.input(p))
			}()
		}
		close(start)
		wg.Wait()
		var winner string
		for i := range n {
			if errs[i] == nil {
				require.Empty(t, winner, "two bookings of one pass won")
				winner = results[i].ID
			}
		}
		require.NotEmpty(t, winner)
		for i := range n {
			if errs[i] != nil {
				e := refusal(t, errs[i])
				assert.Equal(t, observations.RuleOverlap, e.Rule)
				assert.Equal(t, winner, e.ConflictID)
			}
		}
	})
}

func TestSlewTime(t *testing.T) {
	t.Parallel()
	rate := observations.SlewRate{AzDegS: 2, ElDegS: 1}
	cases := []struct {
		a, b observations.Pointing
		want time.Duration
	}{
		{observations.Pointing{AzDeg: 10}, observations.Pointing{AzDeg: 350}, 10 * time.Second}, // the short way round
		{observations.Pointing{AzDeg: 0}, observations.Pointing{AzDeg: 180}, 90 * time.Second},
		{observations.Pointing{AzDeg: 0, ElDeg: 0}, observations.Pointing{AzDeg: 20, ElDeg: 30}, 30 * time.Second}, // the slower axis
		{observations.Pointing{AzDeg: 5, ElDeg: 5}, observations.Pointing{AzDeg: 5, ElDeg: 5}, 0},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, observations.SlewTime(c.a, c.b, rate), "%+v -> %+v", c.a, c.b)
	}
}

func setCapabilities(t *testing.T, st *store.Store, id string, caps ...string) {
	t.Helper()
	if caps == nil {
		caps = []string{}
	}
	require.NoError(t, st.DB().Model(&store.Satellite{ID: id}).Select("capabilities").Updates(&store.Satellite{Capabilities: caps}).Error)
}

func setSeen(t *testing.T, st *store.Store, id, status string, seen time.Time) {
	t.Helper()
	require.NoError(t, st.DB().Model(&store.Satellite{}).Where("id = ?", id).
		Updates(map[string]any{"status": status, "last_seen_at": seen.UTC()}).Error)
}

// TestBookingFollowsTheStationsSkyAndMinEl: a pass listed with min_el=10 is booked as listed
// (its AOS and LOS lie on 10°); once the station's own mask is set, the pass is the part above
// the mask, and the 0° pass no longer matches; the station's slew rate (its auto-scheduler
// settings) decides the gap between passes.
func TestBookingFollowsTheStationsSkyAndMinEl(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		w := newWorld(t, st)
		ctx := t.Context()
		es, err := orbit.ParseTLE(issName, issLine1, issLine2)
		require.NoError(t, err)
		plan := func(minEl float64, mask *orbit.HorizonMask) []planner.Pass {
			from := w.clk.Now()
			res, err := planner.Plan(ctx, planner.Request{Spacecraft: []planner.Spacecraft{{NORAD: issNORAD, Elements: es}},
				Stations: []planner.Station{{ID: w.station.ID, LatDeg: w.station.Lat, LonDeg: w.station.Lon,
					AltM: w.station.AltM, Mask: mask}},
				From: from, To: from.Add(24 * time.Hour), MinElevationDeg: minEl})
			require.NoError(t, err)
			var out []planner.Pass
			for _, p := range res.Passes {
				if !p.InProgressAtStart && !p.InProgressAtEnd && p.AOS.After(from.Add(time.Hour)) {
					out = append(out, p)
				}
			}
			require.NotEmpty(t, out)
			return out
		}
		at10 := plan(10, nil)[0]
		in := w.input(at10)
		in.DryRun = true
		_, err = w.svc.Schedule(ctx, in)
		require.Error(t, err, "at 0° the pass has other AOS and LOS")
		in.MinElevationDeg = 10
		o, err := w.svc.Schedule(ctx, in)
		require.NoError(t, err)
		assert.WithinDuration(t, at10.AOS, o.AOS, 50*time.Millisecond)
		assert.InDelta(t, 10, o.HorizonEl, 0)

		points := []api.HorizonPoint{{AzimuthDeg: 0, ElevationDeg: 20}, {AzimuthDeg: 180, ElevationDeg: 25}}
		_, err = st.UpdateSatellite(ctx, w.team, w.station.ID, store.SatelliteUpdate{HorizonMask: &points})
		require.NoError(t, err)
		mask, err := planner.StationMask(points)
		require.NoError(t, err)
		masked := plan(0, mask)[0]
		flat := w.input(plan(0, nil)[0])
		flat.DryRun = true
		_, err = w.svc.Schedule(ctx, flat)
		require.Error(t, err, "the flat-horizon pass is not the station's pass any more")
		in = w.input(masked)
		in.DryRun = true
		o, err = w.svc.Schedule(ctx, in)
		require.NoError(t, err, "the pass above the station's mask is booked")
		assert.WithinDuration(t, masked.AOS, o.AOS, 50*time.Millisecond)

		require.NoError(t, st.PutAutoschedStation(ctx, &store.AutoschedStation{SatelliteID: w.station.ID,
			SlewAzDegS: 0.5, SlewElDegS: 0.25}))
		rate, err := w.svc.SlewRateOf(ctx, w.station.ID)
		require.NoError(t, err)
		assert.Equal(t, observations.SlewRate{AzDegS: 0.5, ElDegS: 0.25}, rate, "the station's own rate, not the default")

		_, err = st.PauseSatellite(ctx, w.team, w.station.ID, store.Pause{PauseNote: "new feed horn", PauseRunning: store.PauseFinish})
		require.NoError(t, err)
		_, err = w.svc.Schedule(ctx, in)
		var refusal *observations.Error
		require.ErrorAs(t, err, &refusal)
		assert.Equal(t, observations.RuleStationPaused, refusal.Rule)
		assert.Contains(t, refusal.Message, "new feed horn")
	})
}
