package e2e

import (
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/autosched"
	"github.com/talos-gs/talos/backend/catalog"
	"github.com/talos-gs/talos/backend/observations"
	"github.com/talos-gs/talos/backend/server"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/orbit"
	"github.com/talos-gs/talos/satellite/config"
	"github.com/talos-gs/talos/satellite/runner"
)

// scheduleMinEl is the stations' minimum elevation in this test: a pass above 70° of a
// spacecraft flying close to the station lasts about a minute, so real passes run in real time.
const scheduleMinEl = 70

// beside is a point on the ground 2.4° (about 270 km) across the track of the spacecraft at
// t: its pass there culminates near 75° at about t (a pass straight overhead would swing the
// azimuth through 180° at the zenith, which no az/el rotator follows).
func beside(t *testing.T, prop orbit.Ephemeris, at time.Time) orbit.Geodetic {
	t.Helper()
	a, err := orbit.SubSatellitePoint(prop, at, 0)
	require.NoError(t, err)
	b, err := orbit.SubSatellitePoint(prop, at.Add(10*time.Second), 0)
	require.NoError(t, err)
	cosLat := math.Cos(a.LatitudeDeg * math.Pi / 180)
	north, east := b.LatitudeDeg-a.LatitudeDeg, (b.LongitudeDeg-a.LongitudeDeg)*cosLat
	n := math.Hypot(north, east)
	a.LatitudeDeg += 2.4 * -east / n
	a.LongitudeDeg += 2.4 * north / n / cosLat
	a.AltitudeKm = 0
	return a
}

// bookedView is an observation as the user API answers it.
type bookedView struct {
	ID             string    `json:"id"`
	SatelliteID    string    `json:"satellite_id"`
	Source         string    `json:"source"`
	State          string    `json:"state"`
	AOS            time.Time `json:"aos"`
	TCA            time.Time `json:"tca"`
	LOS            time.Time `json:"los"`
	CommandID      string    `json:"command_id"`
	Verdict        string    `json:"verdict"`
	VerdictReasons []string  `json:"verdict_reasons"`
	DispatchedAt   time.Time `json:"dispatched_at"`
	// Summary is the station's report of the pass.
	Summary json.RawMessage `json:"summary"`
}

// TestScheduledObservationsRunThroughABackendOutage books real passes of CALSPHERE 1 for two
// real in-process runners (assembled as `talos-satellite run`, simulated rotator and radio),
// each placed beside the spacecraft's track a few minutes ahead so the pass above 70° lasts
// seconds. The backend's own job dispatches them ahead of AOS; the backend is then stopped
// across the first AOS; both passes still run on the stations' clocks, and once the backend is
// back every observation ends completed or failed, with a verdict.
//
// The passes are booked by the auto-scheduler: each station shares its time with the team and
// takes passes above 70°, CALSPHERE 1 is the team's one target, and a run books them through the
// observations service, under the same rules as a user's booking.
func TestScheduledObservationsRunThroughABackendOutage(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect, dbURL string) {
		b := startBackend(t, d, dbURL, func(o *server.Options) {
			o.Observations = observations.Settings{MinLead: 5 * time.Second, MinDuration: 10 * time.Second,
				MinElevationDeg: scheduleMinEl, Interval: 200 * time.Millisecond}
			o.AutoSchedule = &autosched.Job{Log: zap.NewNop(), Runner: &autosched.Runner{Store: o.Store,
				Catalog: &catalog.Catalog{Store: o.Store, Log: zap.NewNop()}, Log: zap.NewNop(),
				Horizon: time.Hour, MinLead: 5 * time.Second, MinDuration: 10 * time.Second}}
		})
		c := seed(t, b)
		teamPath := "/api/teams/" + c.team.ID
		r := c.operator.Do(t, http.MethodPost, teamPath+"/catalog/import?source=e2e",
			obsTLEName+"\n"+obsTLELine1+"\n"+obsTLELine2+"\n", "Content-Type", "text/plain")
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))

		es, err := orbit.ParseTLE(obsTLEName, obsTLELine1, obsTLELine2)
		require.NoError(t, err)
		prop, err := orbit.NewPropagator(es)
		require.NoError(t, err)
		start := time.Now()
		type site struct {
			id      string
			tca     time.Time
			station *runner.Runner
		}
		var sites []site
		for i, ahead := range []time.Duration{130 * time.Second, 170 * time.Second} {
			tca := start.Add(ahead)
			under := beside(t, prop, tca)
			dir, id := register(t, b.URL, c.registrationToken(t), "Station "+string(rune('A'+i)))
			require.NoError(t, b.store().DB().Model(&store.Satellite{}).Where("id = ?", id).
				Updates(map[string]any{"lat": under.LatitudeDeg, "lon": under.LongitudeDeg, "alt_m": 0}).Error)
			station := runAssembledStation(t, dir, func(cfg *config.Config) {
				cfg.Station.OverrideLocation, cfg.Station.Lat, cfg.Station.Lon, cfg.Station.AltM = true, under.LatitudeDeg, under.LongitudeDeg, 0
				cfg.Station.PrepareLead = time.Minute // time to slew up to 70° before AOS
			})
			sites = append(sites, site{id, tca, station})
		}

		var txID string
		for _, s := range sites {
			q := url.Values{"from": {start.UTC().Format(time.RFC3339)}, "hours": {"1"}, "min_el": {"70"},
				"satellite_id": {s.id}, "norad": {"900"}}
			r = c.operator.Do(t, http.MethodGet, teamPath+"/passes?"+q.Encode(), nil)
			require.Equal(t, http.StatusOK, r.Status, string(r.Body))
			var passes struct {
				Passes []struct {
					SpacecraftID string    `json:"spacecraft_id"`
					TCA          time.Time `json:"tca"`
				} `json:"passes"`
			}
			r.JSON(t, &passes)
			require.NotEmpty(t, passes.Passes, "CALSPHERE 1 passes overhead")
			p := passes.Passes[0]
			require.WithinDuration(t, s.tca, p.TCA, 5*time.Second, "the pass the station was placed under")
			if txID == "" {
				r = c.operator.Do(t, http.MethodPost, teamPath+"/spacecraft/"+p.SpacecraftID+"/transmitters",
					map[string]any{"description": "beacon", "downlink_low": 145_800_000, "mode": "FM"})
				require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
				var tx struct{ ID string }
				r.JSON(t, &tx)
				txID = tx.ID
			}
			r = c.operator.Do(t, http.MethodPut, teamPath+"/satellites/"+s.id+"/autoschedule", map[string]any{
				"min_elevation_deg": scheduleMinEl, "shares": []map[string]any{{"team_id": c.team.ID, "weight": 1}}})
			require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		}
		r = c.operator.Do(t, http.MethodPost, teamPath+"/autoschedule/targets",
			map[string]any{"norad": 900, "priority": 1, "transmitter_id": txID})
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		r = c.operator.Do(t, http.MethodPost, teamPath+"/autoschedule/run", nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))

		r = c.operator.Do(t, http.MethodGet, teamPath+"/observations", nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		var list struct{ Observations []bookedView }
		r.JSON(t, &list)
		require.Len(t, list.Observations, len(sites), "the run booked one pass per station: %s", r.Body)
		booked := make([]bookedView, len(sites))
		for _, o := range list.Observations {
			for i, s := range sites {
				if o.SatelliteID == s.id {
					require.WithinDuration(t, s.tca, o.TCA, 5*time.Second, "the pass the station was placed under")
					booked[i] = o
				}
			}
		}
		for i := range booked {
			require.NotEmpty(t, booked[i].ID, "station %d got its pass", i)
			assert.Equal(t, observations.SourceAuto, booked[i].Source)
		}

		get := func(id string) bookedView {
			r := c.operator.Do(t, http.MethodGet, teamPath+"/observations/"+id, nil)
			require.Equal(t, http.StatusOK, r.Status, string(r.Body))
			var o bookedView
			r.JSON(t, &o)
			return o
		}
		// Dispatched by the job, and taken by the stations.
		for i, o := range booked {
			eventually(t, func() bool { return get(o.ID).CommandID != "" }, "observation %d dispatched", i)
			cmdID := get(o.ID).CommandID
			eventually(t, func() bool {
				return commandIn(c.history(t, c.operator, sites[i].id), cmdID).Status == "succeeded"
			}, "station %d stored observation %d", i, i)
		}
		require.True(t, time.Now().Before(booked[0].AOS), "the first AOS is still ahead: the outage covers it")

		b.stop()
		// The passes are physics on the stations' clocks: wait until the first station is tracking
		// its pass, with the backend down.
		require.Eventually(t, func() bool {
			ts := sites[0].station.Snapshot().Tracking
			return ts != nil && ts.ObservationID == booked[0].ID && ts.State == "tracking"
		}, time.Until(booked[0].AOS)+time.Minute, tick, "the first station tracks its pass while the backend is down")
		b.start()

		for i, o := range booked {
			eventually(t, func() bool {
				got := get(o.ID)
				return got.Verdict != "" && (got.State == "completed" || got.State == "failed")
			}, "observation %d ended with a verdict", i)
			got := get(o.ID)
			t.Logf("observation %d: %s, verdict %s: %v (AOS %s, dispatched %s before; station's summary %s)", i, got.State,
				got.Verdict, got.VerdictReasons, got.AOS.Format(time.RFC3339), got.AOS.Sub(got.DispatchedAt).Round(time.Second), got.Summary)
			assert.NotEmpty(t, got.VerdictReasons)
		}
		r = c.operator.Do(t, http.MethodGet, teamPath+"/observations/stats?days=7", nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		var stats struct {
			Windows []struct {
				Stations []json.RawMessage `json:"stations"`
			} `json:"windows"`
		}
		r.JSON(t, &stats)
		require.Len(t, stats.Windows, 1)
		assert.Len(t, stats.Windows[0].Stations, 2, "both stations have a success rate")
	})
}
