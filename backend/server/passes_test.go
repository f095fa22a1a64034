package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
	"github.com/talos-gs/talos/orbit"
)

type passesAnswer struct {
	Passes []struct {
		SatelliteID  string    `json:"satellite_id"`
		SpacecraftID string    `json:"spacecraft_id"`
		NORAD        int       `json:"norad"`
		Name         string    `json:"name"`
		AOS          time.Time `json:"aos"`
		TCA          time.Time `json:"tca"`
		LOS          time.Time `json:"los"`
		MaxEl        float64   `json:"max_el"`
		AOSAz        float64   `json:"aos_az"`
		LOSAz        float64   `json:"los_az"`
		InProgress   string    `json:"in_progress"`
	} `json:"passes"`
}

// TestPassesOfTheTeamsCatalogOverItsStations: the passes API plans the team's visible catalog
// (global and own spacecraft) over the team's stations, answers the documented fields in AOS
// order, filters by station and NORAD id, agrees with orbit.FindPasses, and lets viewers read.
func TestPassesOfTheTeamsCatalogOverItsStations(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		p := newProtocol(t, st)
		a, b := p.newStation(t, "munich"), p.newStation(t, "munich-2")
		root := p.admin
		r := importTLE(t, root, "/api/catalog/import", catTLE("ISS (ZARYA)", "25544"))
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		own := catTLE("CUBE-1", "A0001")
		r = importTLE(t, p.owner, "/api/teams/"+p.team.ID+"/catalog/import", own)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))

		viewerUser := p.CreateUser(t, "viewer@example.org", false)
		p.AddMember(t, p.team, viewerUser, store.RoleViewer)
		viewer := p.TokenClient(t, viewerUser)
		base := "/api/teams/" + p.team.ID + "/passes?from=2026-06-26T12:00:00Z&hours=24"
		r = viewer.Do(t, http.MethodGet, base, nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		var all passesAnswer
		r.JSON(t, &all)
		norads := map[int]int{}
		stations := map[string]int{}
		for i, ps := range all.Passes {
			norads[ps.NORAD]++
			stations[ps.SatelliteID]++
			if i > 0 {
				assert.False(t, ps.AOS.Before(all.Passes[i-1].AOS), "passes are in AOS order")
			}
			assert.NotEmpty(t, ps.SpacecraftID)
		}
		assert.Equal(t, map[string]int{a.SatelliteID: len(all.Passes) / 2, b.SatelliteID: len(all.Passes) / 2}, stations)
		require.Contains(t, norads, 25544)
		require.Contains(t, norads, 100001, "the team's own Alpha-5 spacecraft is planned")

		r = viewer.Do(t, http.MethodGet, base+"&norad=25544&satellite_id="+a.SatelliteID, nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		var one passesAnswer
		r.JSON(t, &one)
		sets, err := orbit.ParseTLEs(strings.NewReader(catTLE("ISS (ZARYA)", "25544")))
		require.NoError(t, err)
		prop, err := orbit.NewPropagator(sets[0])
		require.NoError(t, err)
		obs, err := orbit.NewObserver(48.1, 11.6, 520)
		require.NoError(t, err)
		from := time.Date(2026, 6, 26, 12, 0, 0, 0, time.UTC)
		want, err := orbit.FindPasses(prop, obs, from, from.Add(24*time.Hour), orbit.PassOptions{})
		require.NoError(t, err)
		require.Len(t, one.Passes, len(want))
		for i, w := range want {
			got := one.Passes[i]
			assert.Equal(t, a.SatelliteID, got.SatelliteID)
			assert.Equal(t, "ISS (ZARYA)", got.Name)
			assert.WithinDuration(t, w.AOS, got.AOS, time.Second)
			assert.WithinDuration(t, w.LOS, got.LOS, time.Second)
			assert.InDelta(t, w.MaxElevationDeg, got.MaxEl, 0.05)
		}
	})
}

// TestPassesQueryIsChecked: every bad query parameter is a 400 naming it.
func TestPassesQueryIsChecked(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		p := newProtocol(t, st)
		base := "/api/teams/" + p.team.ID + "/passes?"
		for query, field := range map[string]string{
			"from=tomorrow":      "from",
			"hours=0":            "hours",
			"hours=169":          "hours",
			"hours=NaN":          "hours",
			"min_el=90":          "min_el",
			"norad=ISS":          "norad",
			"satellite_id=x%00y": "satellite_id",
			"spacecraft_id=nope": "spacecraft_id",
		} {
			r := p.owner.Do(t, http.MethodGet, base+query, nil)
			require.Equal(t, http.StatusBadRequest, r.Status, "%s: %s", query, r.Body)
			assert.Equal(t, field, r.Error(t).Field, query)
		}
	})
}

// TestPassesHonourTheStationsSky: a station's minimum elevation and horizon mask, set with
// PATCH, shape its passes exactly as orbit.FindPasses with the same mask does; bad values are
// 400s naming the field, and viewers may not set them.
func TestPassesHonourTheStationsSky(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		p := newProtocol(t, st)
		a := p.newStation(t, "munich")
		r := importTLE(t, p.admin, "/api/catalog/import", catTLE("ISS (ZARYA)", "25544"))
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		satPath := "/api/teams/" + p.team.ID + "/satellites/" + a.SatelliteID

		points := []map[string]float64{{"az_deg": 0, "el_deg": 5}, {"az_deg": 90, "el_deg": 25},
			{"az_deg": 180, "el_deg": 2}, {"az_deg": 270, "el_deg": 12}}
		r = p.owner.Do(t, http.MethodPatch, satPath, map[string]any{"min_elevation_deg": 3, "horizon_mask": points})
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		var sat struct {
			MinElevationDeg float64 `json:"min_elevation_deg"`
			HorizonMask     []struct {
				Az float64 `json:"az_deg"`
				El float64 `json:"el_deg"`
			} `json:"horizon_mask"`
		}
		r.JSON(t, &sat)
		assert.InDelta(t, 3.0, sat.MinElevationDeg, 0)
		require.Len(t, sat.HorizonMask, 4)

		r = p.owner.Do(t, http.MethodGet, "/api/teams/"+p.team.ID+"/passes?from=2026-06-26T12:00:00Z&hours=24", nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		var got passesAnswer
		r.JSON(t, &got)

		sets, err := orbit.ParseTLEs(strings.NewReader(catTLE("ISS (ZARYA)", "25544")))
		require.NoError(t, err)
		prop, err := orbit.NewPropagator(sets[0])
		require.NoError(t, err)
		mask, err := orbit.NewHorizonMask([]orbit.MaskPoint{{AzimuthDeg: 0, ElevationDeg: 5},
			{AzimuthDeg: 90, ElevationDeg: 25}, {AzimuthDeg: 180, ElevationDeg: 2}, {AzimuthDeg: 270, ElevationDeg: 12}})
		require.NoError(t, err)
		obs, err := orbit.NewObserver(48.1, 11.6, 520, orbit.WithHorizonMask(mask))
		require.NoError(t, err)
		from := time.Date(2026, 6, 26, 12, 0, 0, 0, time.UTC)
		want, err := orbit.FindPasses(prop, obs, from, from.Add(24*time.Hour), orbit.PassOptions{MinElevationDeg: 3})
		require.NoError(t, err)
		flat, err := orbit.NewObserver(48.1, 11.6, 520)
		require.NoError(t, err)
		unmasked, err := orbit.FindPasses(prop, flat, from, from.Add(24*time.Hour), orbit.PassOptions{})
		require.NoError(t, err)
		require.NotEqual(t, len(unmasked), len(want), "the mask must change the passes for the test to mean anything")
		require.Len(t, got.Passes, len(want))
		for i, w := range want {
			assert.WithinDuration(t, w.AOS, got.Passes[i].AOS, time.Second)
			assert.WithinDuration(t, w.LOS, got.Passes[i].LOS, time.Second)
			assert.InDelta(t, w.MaxElevationDeg, got.Passes[i].MaxEl, 0.05)
		}

		for body, field := range map[string]string{
			`{"min_elevation_deg": 90}`:                          "min_elevation_deg",
			`{"min_elevation_deg": -6}`:                          "min_elevation_deg",
			`{"horizon_mask": null}`:                             "", // null is "not given": nothing to change
			`{"horizon_mask": [{"az_deg": 360, "el_deg": 1}]}`:   "horizon_mask",
			`{"horizon_mask": [{"az_deg": 10, "el_deg": 91}]}`:   "horizon_mask",
			`{"horizon_mask": [{"az_deg": 10}, {"az_deg": 10}]}`: "horizon_mask",
			`{"horizon_mask": [{"az_deg": 10, "elevation": 3}]}`: "",
		} {
			r = p.owner.Do(t, http.MethodPatch, satPath, json.RawMessage(body))
			require.Equal(t, http.StatusBadRequest, r.Status, "%s: %s", body, r.Body)
			if field != "" {
				assert.Equal(t, field, r.Error(t).Field, body)
			}
		}
		r = p.owner.Do(t, http.MethodPatch, satPath, map[string]any{"horizon_mask": []any{}})
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		r.JSON(t, &sat)
		assert.Empty(t, sat.HorizonMask, "an empty list makes the horizon flat")

		viewerUser := p.CreateUser(t, "sky-viewer@example.org", false)
		p.AddMember(t, p.team, viewerUser, store.RoleViewer)
		r = p.TokenClient(t, viewerUser).Do(t, http.MethodPatch, satPath, map[string]any{"min_elevation_deg": 10})
		require.Equal(t, http.StatusForbidden, r.Status, string(r.Body))
	})
}
