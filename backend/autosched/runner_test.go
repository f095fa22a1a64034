package autosched_test

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/autosched"
	"github.com/talos-gs/talos/backend/catalog"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

// network is a store with the real 571-object catalog imported, two teams, and the first
// team's two stations shared with the second.
type network struct {
	st                 *store.Store
	cat                *catalog.Catalog
	ground, cubesat    string // team ids
	station1, station2 string
	booker             *autosched.Memory
	runner             *autosched.Runner
	clock              *fixedClock
}

type fixedClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fixedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fixedClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newNetwork(t *testing.T, st *store.Store) *network {
	t.Helper()
	ctx := t.Context()
	n := &network{st: st, booker: autosched.NewMemory(), clock: &fixedClock{t: epoch}}
	n.cat = &catalog.Catalog{Store: st, Log: zaptest.NewLogger(t), Now: n.clock.Now}
	data, err := os.ReadFile("../../orbit/testdata/celestrak-active-2026-177.tle")
	require.NoError(t, err)
	_, err = n.cat.Import(ctx, catalog.ImportRequest{Source: "celestrak-active", Data: data})
	require.NoError(t, err)
	for _, name := range []string{"Ground", "Cubesat"} {
		u := &store.User{Email: name + "@example.org", PasswordHash: "x"}
		require.NoError(t, st.CreateUser(ctx, u))
		team, err := st.CreateTeam(ctx, name, u.ID)
		require.NoError(t, err)
		if name == "Ground" {
			n.ground = team.ID
		} else {
			n.cubesat = team.ID
		}
	}
	n.station1 = n.register(t, 48.1, 11.6)
	n.station2 = n.register(t, -33.9, 18.4)
	require.NoError(t, st.PutAutoschedStation(ctx, &store.AutoschedStation{SatelliteID: n.station1, SlewAzDegS: 6,
		SlewElDegS: 3, MinElevationDeg: 10, Shares: []store.AutoschedShare{{TeamID: n.ground, Weight: 1}, {TeamID: n.cubesat, Weight: 1}}}))
	require.NoError(t, st.PutAutoschedStation(ctx, &store.AutoschedStation{SatelliteID: n.station2, SlewAzDegS: 2,
		SlewElDegS: 2, MinElevationDeg: 5, Shares: []store.AutoschedShare{{TeamID: n.ground, Weight: 3}, {TeamID: n.cubesat, Weight: 1}}}))
	leo := loadLEO(t)
	for i, es := range leo[:12] {
		team := n.ground
		if i%2 == 1 {
			team = n.cubesat
		}
		n.target(t, team, es.NORADID, 1+i%4)
	}
	n.runner = &autosched.Runner{Store: st, Catalog: n.cat, Booker: n.booker, Log: zaptest.NewLogger(t), Now: n.clock.Now}
	return n
}

func (n *network) register(t *testing.T, lat, lon float64) string {
	t.Helper()
	tok := &store.RegistrationToken{ID: store.NewID(), TeamID: &n.ground, ExpiresAt: n.st.Now().Add(time.Hour), UsesAllowed: 1}
	require.NoError(t, n.st.CreateRegistrationToken(t.Context(), tok))
	sat, err := n.st.RegisterSatellite(t.Context(), store.Registration{TokenID: tok.ID, Name: "roof", Lat: lat, Lon: lon,
		APIKeyID: uuid.NewString()[:16], APIKeyHash: "hash", HeartbeatSeconds: 30})
	require.NoError(t, err)
	return sat.ID
}

// target puts a spacecraft of the global catalog on a team's list, with a new transmitter.
func (n *network) target(t *testing.T, teamID string, norad, priority int) *store.AutoschedTarget {
	t.Helper()
	scs, err := n.st.VisibleSpacecraft(t.Context(), teamID, store.SpacecraftQuery{NORADIDs: []int{norad}, Limit: 1})
	require.NoError(t, err)
	require.Len(t, scs, 1)
	tx := &store.Transmitter{SpacecraftID: scs[0].ID, Description: "downlink", Alive: true, Status: "active"}
	require.NoError(t, n.st.CreateTransmitter(t.Context(), tx))
	tg := &store.AutoschedTarget{TeamID: teamID, NORADID: norad, Priority: priority, TransmitterID: tx.ID}
	require.NoError(t, n.st.CreateAutoschedTarget(t.Context(), tg))
	return tg
}

func counter(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	require.NoError(t, c.Write(&m))
	return m.GetCounter().GetValue()
}

func (n *network) job(t *testing.T) *autosched.Job {
	return &autosched.Job{Runner: n.runner, Log: zaptest.NewLogger(t)}
}

// TestRunBooksWhatThePreviewShows: on both dialects, with the real catalog, a run books exactly
// what the preview showed, keeps clear of an observation booked by hand, and a second run finds
// nothing more to book.
func TestRunBooksWhatThePreviewShows(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		n := newNetwork(t, st)
		ctx := t.Context()
		at := epoch.Add(4 * time.Hour)
		n.booker.Add(n.station1, autosched.Booking{ID: "by-hand", TeamID: n.cubesat, AOS: at, LOS: at.Add(2 * time.Hour)})
		preview, err := n.runner.Preview(ctx, n.ground)
		require.NoError(t, err)
		assert.True(t, preview.DryRun)
		require.NotEmpty(t, preview.Chosen)
		assert.Len(t, n.booker.Bookings(n.station1), 1, "a preview books nothing")

		j := n.job(t)
		j.Metrics = autosched.NewMetrics(prometheus.NewRegistry())
		rep, err := j.RunNow(ctx, n.ground)
		require.NoError(t, err)
		assert.Equal(t, render(preview.Result), render(rep.Result))
		assert.InDelta(t, 1, counter(t, j.Metrics.Runs.WithLabelValues("ok")), 0)
		assert.InDelta(t, len(rep.Chosen), counter(t, j.Metrics.Passes.WithLabelValues("booked")), 0)
		booked := n.booker.Bookings(n.station1)
		assert.Greater(t, len(booked), 1)
		for _, b := range booked {
			if b.ID != "by-hand" {
				assert.False(t, b.AOS.Before(at.Add(2*time.Hour)) && at.Before(b.LOS), "%s overlaps the booking by hand", b.ID)
			}
		}
		teams := map[string]bool{}
		for _, c := range rep.Chosen {
			teams[c.TeamID] = true
			assert.False(t, c.Pass.AOS.Before(epoch.Add(autosched.DefaultMinLead)), "lead time")
		}
		assert.Len(t, teams, 2, "both teams get passes")

		again, err := n.job(t).RunNow(ctx, n.ground)
		require.NoError(t, err)
		assert.Empty(t, again.Chosen, "everything was booked by the first run")
		run, err := st.AutoschedRunOf(ctx, n.ground)
		require.NoError(t, err)
		assert.Equal(t, "ok", run.LastStatus)
		assert.Nil(t, run.LeaseUntil)
	})
}

// TestRunReportsUnplannableTargets: a target whose transmitter belongs to another spacecraft,
// and one the team's catalog does not have, are reported and left out.
func TestRunReportsUnplannableTargets(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		n := newNetwork(t, st)
		ctx := t.Context()
		good := n.target(t, n.cubesat, loadLEO(t)[20].NORADID, 1)
		other := n.target(t, n.cubesat, loadLEO(t)[21].NORADID, 1)
		_, err := st.UpdateAutoschedTarget(ctx, n.cubesat, other.ID, store.AutoschedTargetUpdate{TransmitterID: &good.TransmitterID})
		require.NoError(t, err)
		require.NoError(t, st.CreateAutoschedTarget(ctx, &store.AutoschedTarget{TeamID: n.cubesat, NORADID: 99999, Priority: 1, TransmitterID: good.TransmitterID}))
		rep, err := n.runner.Preview(ctx, n.ground)
		require.NoError(t, err)
		assert.ElementsMatch(t, []autosched.TargetProblem{
			{TeamID: n.cubesat, NORAD: other.NORADID, Problem: autosched.ProblemTransmitterMissing},
			{TeamID: n.cubesat, NORAD: 99999, Problem: autosched.ProblemNotInCatalog},
		}, rep.Targets)
	})
}

// TestJobRunsWhenDueOrChanged: a tick runs the team once; the next tick, with nothing changed,
// does not; a catalog change, a settings change and the hour passing each make it run again.
func TestJobRunsWhenDueOrChanged(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		n := newNetwork(t, st)
		ctx := t.Context()
		j := n.job(t)
		tick := func() []string {
			ran, err := j.Tick(ctx)
			require.NoError(t, err)
			return ran
		}
		assert.Equal(t, []string{n.ground}, tick(), "first tick")
		assert.Empty(t, tick(), "nothing changed")

		sc, err := st.VisibleSpacecraft(ctx, n.ground, store.SpacecraftQuery{NORADIDs: []int{loadLEO(t)[0].NORADID}, Limit: 1})
		require.NoError(t, err)
		require.NoError(t, st.CreateTransmitter(ctx, &store.Transmitter{SpacecraftID: sc[0].ID, Alive: true, Status: "active"}))
		assert.Equal(t, []string{n.ground}, tick(), "a new transmitter in the catalog")
		assert.Empty(t, tick())

		n.target(t, n.cubesat, loadLEO(t)[30].NORADID, 2)
		assert.Equal(t, []string{n.ground}, tick(), "a team's list changed")
		assert.Empty(t, tick())

		require.NoError(t, st.PutAutoschedStation(ctx, &store.AutoschedStation{SatelliteID: n.station1, SlewAzDegS: 6,
			SlewElDegS: 3, MinElevationDeg: 10, Shares: []store.AutoschedShare{{TeamID: n.ground, Weight: 2}}}))
		assert.Equal(t, []string{n.ground}, tick(), "a station's shares changed")
		assert.Empty(t, tick())
		all, err := st.AutoschedStations(ctx, []string{n.station1})
		require.NoError(t, err)
		assert.Equal(t, []store.AutoschedShare{{SatelliteID: n.station1, TeamID: n.ground, Weight: 2}}, all[n.station1].Shares,
			"the shares were replaced, not added to")

		n.clock.add(autosched.DefaultEvery)
		assert.Equal(t, []string{n.ground}, tick(), "an hour later")
	})
}

// TestOneRunPerTeamAcrossReplicas: several replicas tick at the same moment; exactly one runs
// the team, and a manual run while one is under way is refused.
func TestOneRunPerTeamAcrossReplicas(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		n := newNetwork(t, st)
		ctx := t.Context()
		const replicas = 4
		var (
			start = make(chan struct{})
			wg    sync.WaitGroup
			mu    sync.Mutex
			ran   []string
		)
		for range replicas {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				got, err := n.job(t).Tick(ctx)
				assert.NoError(t, err)
				mu.Lock()
				ran = append(ran, got...)
				mu.Unlock()
			}()
		}
		close(start)
		wg.Wait()
		assert.Equal(t, []string{n.ground}, ran)

		// A run under way: the lease is held until it finishes.
		ok, err := st.ClaimAutoschedRun(ctx, store.AutoschedClaim{TeamID: n.ground, Holder: "other replica", Force: true,
			Now: n.clock.Now(), Until: n.clock.Now().Add(time.Minute)})
		require.NoError(t, err)
		require.True(t, ok)
		_, err = n.job(t).RunNow(ctx, n.ground)
		require.ErrorIs(t, err, autosched.ErrRunning)
		require.NoError(t, st.FinishAutoschedRun(ctx, n.ground, "other replica", store.AutoschedOutcome{Status: "ok"}))
		_, err = n.job(t).RunNow(ctx, n.ground)
		require.NoError(t, err)
	})
}

// TestRefusedPassIsReported: a pass the observations service refuses is skipped with its
// refusal, and the others are still booked.
func TestRefusedPassIsReported(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		n := newNetwork(t, st)
		preview, err := n.runner.Preview(t.Context(), n.ground)
		require.NoError(t, err)
		require.Greater(t, len(preview.Chosen), 2)
		first := preview.Chosen[0]
		// Someone books the first chosen pass between the preview and the run, unseen by Busy.
		n.runner.Booker = &lateBooker{Memory: n.booker, station: first.StationID, aos: first.Pass.AOS, los: first.Pass.LOS}
		rep, err := n.runner.Run(context.Background(), n.ground)
		require.NoError(t, err)
		assert.Len(t, rep.Chosen, len(preview.Chosen)-1)
		skip := findSkip(rep.Skipped, first)
		require.NotNil(t, skip)
		assert.Equal(t, autosched.ReasonRefused, skip.Reason)
		assert.Contains(t, skip.Detail, autosched.ErrOverlap.Error())
	})
}

// lateBooker hides one booking from Busy, as one made after the run asked would be.
type lateBooker struct {
	*autosched.Memory
	station  string
	aos, los time.Time
	once     sync.Once
}

func (l *lateBooker) Book(ctx context.Context, c autosched.Choice) error {
	l.once.Do(func() { l.Add(l.station, autosched.Booking{ID: "late", AOS: l.aos, LOS: l.los}) })
	return l.Memory.Book(ctx, c)
}

// TestJobRunLoop: the loop runs the due team on its first check and stops with its context.
func TestJobRunLoop(t *testing.T) {
	t.Parallel()
	n := newNetwork(t, storetest.Open(t, store.SQLite))
	ran := make(chan string, 10)
	j := &autosched.Job{Runner: n.runner, Log: zaptest.NewLogger(t), Check: 10 * time.Millisecond,
		OnRun: func(team string, rep *autosched.Report, err error) {
			assert.NoError(t, err)
			assert.NotEmpty(t, rep.Chosen)
			ran <- team
		}}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- j.Run(ctx) }()
	select {
	case team := <-ran:
		assert.Equal(t, n.ground, team)
	case err := <-done:
		t.Fatalf("the job stopped: %v", err)
	}
	cancel()
	require.NoError(t, <-done)
	assert.Empty(t, ran, "nothing changed: no second run")
}

// TestRunHonoursTheStationsSky: the station's own sky, set on the satellite (minimum elevation
// and horizon mask), bounds what the auto-scheduler books, above its own minimum.
func TestRunHonoursTheStationsSky(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		n := newNetwork(t, st)
		ctx := t.Context()
		before, err := n.runner.Preview(ctx, n.ground)
		require.NoError(t, err)
		require.NotEmpty(t, before.Chosen)

		minEl := 40.0
		mask := []api.HorizonPoint{{AzimuthDeg: 0, ElevationDeg: 45}, {AzimuthDeg: 180, ElevationDeg: 50}}
		_, err = st.UpdateSatellite(ctx, n.ground, n.station1, store.SatelliteUpdate{MinElevationDeg: &minEl, HorizonMask: &mask})
		require.NoError(t, err)
		after, err := n.runner.Preview(ctx, n.ground)
		require.NoError(t, err)
		require.NotEmpty(t, after.Chosen)
		var low int
		for _, c := range before.Chosen {
			if c.StationID == n.station1 && c.Pass.MaxElevationDeg < 45 {
				low++
			}
		}
		require.Positive(t, low, "the sky must exclude some pass for the test to mean anything")
		for _, c := range after.Chosen {
			if c.StationID != n.station1 {
				continue
			}
			assert.GreaterOrEqual(t, c.Pass.MaxElevationDeg, 45.0, "a pass below the mask is not booked")
			assert.GreaterOrEqual(t, c.Start.ElevationDeg, 45.0, "the antenna waits on the mask at AOS")
		}
	})
}

// TestRunSkipsPausedStations: a paused station takes no new observations from the
// auto-scheduler, and the observations service refuses to book it, naming the pause.
func TestRunSkipsPausedStations(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		n := newNetwork(t, st)
		ctx := t.Context()
		onStation1 := func(r *autosched.Report) int {
			k := 0
			for _, c := range r.Chosen {
				if c.StationID == n.station1 {
					k++
				}
			}
			return k
		}
		before, err := n.runner.Preview(ctx, n.ground)
		require.NoError(t, err)
		require.Positive(t, onStation1(before), "the station gets passes before the pause")
		_, err = st.PauseSatellite(ctx, n.ground, n.station1, store.Pause{PauseNote: "new feed horn", PauseRunning: store.PauseFinish})
		require.NoError(t, err)
		after, err := n.runner.Preview(ctx, n.ground)
		require.NoError(t, err)
		assert.Zero(t, onStation1(after), "a paused station is skipped")
	})
}
