package server_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/talos-gs/talos/backend/accounts"
	"github.com/talos-gs/talos/backend/autosched"
	"github.com/talos-gs/talos/backend/catalog"
	"github.com/talos-gs/talos/backend/server"
	"github.com/talos-gs/talos/backend/server/servertest"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

// autoschedFixture: the catalog users' team owns a station in Munich and two spacecraft of its
// own catalog (on the ISS's orbit), each with a transmitter; the auto-scheduler books into
// memory on a clock fixed at the element sets' epoch.
type autoschedFixture struct {
	*catalogUsers
	booker             *autosched.Memory
	station            string
	norads             []int
	transmitters       []string
	teamPath, satPaths []string
}

func newAutoschedFixture(t *testing.T, st *store.Store) *autoschedFixture {
	f := &autoschedFixture{booker: autosched.NewMemory()}
	now := func() time.Time { return time.Date(2026, 6, 26, 12, 0, 0, 0, time.UTC) }
	f.catalogUsers = newCatalogUsers(t, st, func(o *server.Options) {
		o.AutoSchedule = &autosched.Job{Log: zaptest.NewLogger(t), Runner: &autosched.Runner{Store: st,
			Catalog: &catalog.Catalog{Store: st, Log: zaptest.NewLogger(t), Now: now}, Booker: f.booker, Now: now}}
	})
	team := "/api/teams/" + f.team.ID
	f.teamPath = []string{team}
	r := importTLE(t, f.admin, team+"/catalog/import", catTLE("ONE", "90001")+catTLE("TWO", "90002"))
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	for _, n := range []int{90001, 90002} {
		scs, err := st.VisibleSpacecraft(t.Context(), f.team.ID, store.SpacecraftQuery{NORADIDs: []int{n}, Limit: 1})
		require.NoError(t, err)
		tx := &store.Transmitter{SpacecraftID: scs[0].ID, Description: "downlink", Alive: true, Status: "active"}
		require.NoError(t, st.CreateTransmitter(t.Context(), tx))
		f.norads, f.transmitters = append(f.norads, n), append(f.transmitters, tx.ID)
	}
	tok := &store.RegistrationToken{ID: store.NewID(), TeamID: &f.team.ID, ExpiresAt: st.Now().Add(time.Hour), UsesAllowed: 1}
	require.NoError(t, st.CreateRegistrationToken(t.Context(), tok))
	sat, err := st.RegisterSatellite(t.Context(), store.Registration{TokenID: tok.ID, Name: "roof", Lat: 48.15, Lon: 11.57,
		APIKeyID: uuid.NewString()[:16], APIKeyHash: "hash", HeartbeatSeconds: 30})
	require.NoError(t, err)
	f.station = sat.ID
	f.satPaths = []string{team + "/satellites/" + sat.ID + "/autoschedule", "/api/satellites/" + sat.ID + "/autoschedule"}
	return f
}

func (f *autoschedFixture) targetBody(i, priority int) map[string]any {
	return map[string]any{"norad": f.norads[i], "priority": priority, "transmitter_id": f.transmitters[i], "decoder": "satnogs-fm"}
}

// TestAutoscheduleTargetsAPI: any member reads the team's list; team admins (owners, global
// administrators) change it; members and viewers get 403, outsiders 404; every bad field is
// named; personal tokens need the admin scope to change it.
func TestAutoscheduleTargetsAPI(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		f := newAutoschedFixture(t, st)
		base := f.teamPath[0] + "/autoschedule/targets"
		for _, tc := range []struct {
			name        string
			c           *servertest.Client
			read, write int
		}{
			{"owner", f.owner, http.StatusOK, http.StatusCreated},
			{"admin", f.admin, http.StatusOK, http.StatusCreated},
			{"global admin", f.global, http.StatusOK, http.StatusCreated},
			{"member", f.member, http.StatusOK, http.StatusForbidden},
			{"viewer", f.viewer, http.StatusOK, http.StatusForbidden},
			{"outsider", f.outsider, http.StatusNotFound, http.StatusNotFound},
		} {
			assert.Equal(t, tc.read, tc.c.Do(t, http.MethodGet, base, nil).Status, "%s lists", tc.name)
			r := tc.c.Do(t, http.MethodPost, base, f.targetBody(0, 5))
			require.Equal(t, tc.write, r.Status, "%s creates: %s", tc.name, r.Body)
			if r.Status == http.StatusCreated {
				var got struct{ ID string }
				r.JSON(t, &got)
				assert.Equal(t, http.StatusNoContent, tc.c.Do(t, http.MethodDelete, base+"/"+got.ID, nil).Status, tc.name)
			}
		}

		r := f.admin.Do(t, http.MethodPost, base, f.targetBody(0, 5))
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		var created struct {
			ID, TransmitterID, Decoder string
			NORAD, Priority            int
		}
		r.JSON(t, &created)
		assert.Equal(t, 5, created.Priority)
		assert.Equal(t, http.StatusConflict, f.admin.Do(t, http.MethodPost, base, f.targetBody(0, 5)).Status, "a second entry for one spacecraft")
		for _, tc := range []struct {
			field string
			body  map[string]any
		}{
			{"priority", map[string]any{"norad": 90002, "priority": 0, "transmitter_id": f.transmitters[1]}},
			{"priority", map[string]any{"norad": 90002, "priority": 101, "transmitter_id": f.transmitters[1]}},
			{"priority", map[string]any{"norad": 90002, "transmitter_id": f.transmitters[1]}},
			{"norad", map[string]any{"norad": "not a number", "priority": 1, "transmitter_id": f.transmitters[1]}},
			{"norad", map[string]any{"norad": 12345, "priority": 1, "transmitter_id": f.transmitters[1]}},
			{"transmitter_id", map[string]any{"norad": 90002, "priority": 1}},
			{"transmitter_id", map[string]any{"norad": 90002, "priority": 1, "transmitter_id": f.transmitters[0]}},
			{"transmitter_id", map[string]any{"norad": 90002, "priority": 1, "transmitter_id": "nope"}},
			{"decoder", map[string]any{"norad": 90002, "priority": 1, "transmitter_id": f.transmitters[1], "decoder": "../bin/sh"}},
			{"color", map[string]any{"norad": 90002, "priority": 1, "transmitter_id": f.transmitters[1], "color": "red"}},
		} {
			r := f.admin.Do(t, http.MethodPost, base, tc.body)
			assert.Equal(t, http.StatusBadRequest, r.Status, "%v: %s", tc.body, r.Body)
			assert.Equal(t, tc.field, r.Error(t).Field, "%v", tc.body)
		}

		one := base + "/" + created.ID
		r = f.admin.Do(t, http.MethodPatch, one, map[string]any{"priority": 9})
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		assert.Contains(t, string(r.Body), `"priority":9`)
		assert.Equal(t, "priority", f.admin.Do(t, http.MethodPatch, one, map[string]any{"priority": 101}).Error(t).Field)
		assert.Equal(t, "transmitter_id", f.admin.Do(t, http.MethodPatch, one, map[string]any{"transmitter_id": f.transmitters[1]}).Error(t).Field)
		assert.Equal(t, http.StatusForbidden, f.member.Do(t, http.MethodPatch, one, map[string]any{"priority": 1}).Status)
		assert.Equal(t, http.StatusNotFound, f.outsider.Do(t, http.MethodGet, one, nil).Status)
		otherTeam := "/api/teams/" + f.other.ID + "/autoschedule/targets/" + created.ID
		assert.Equal(t, http.StatusNotFound, f.outsider.Do(t, http.MethodGet, otherTeam, nil).Status, "another team's target")

		adminUser := f.h.CreateUser(t, "scoped@example.org", false)
		f.h.AddMember(t, f.team, adminUser, store.RoleAdmin)
		for _, scope := range []accounts.Scope{accounts.ScopeRead, accounts.ScopeOperate} {
			c := f.h.ScopedTokenClient(t, adminUser, scope)
			r := c.Do(t, http.MethodPost, base, f.targetBody(1, 1))
			assert.Equal(t, http.StatusForbidden, r.Status, "%s token", scope)
			assert.Equal(t, "insufficient_scope", r.Error(t).Code)
			assert.Equal(t, http.StatusOK, c.Do(t, http.MethodGet, base, nil).Status)
		}
	})
}

// TestAutoscheduleStationSettingsAPI: the station's team admins set which teams may use it and
// how much, on both of its paths; members may read them; other teams see nothing; every bad
// field is named.
func TestAutoscheduleStationSettingsAPI(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		f := newAutoschedFixture(t, st)
		body := map[string]any{"slew_az_deg_s": 6, "slew_el_deg_s": 3, "min_elevation_deg": 15,
			"shares": []map[string]any{{"team_id": f.team.ID, "weight": 3}, {"team_id": f.other.ID, "weight": 1}}}
		r := f.viewer.Do(t, http.MethodGet, f.satPaths[1], nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		assert.Contains(t, string(r.Body), `"shares":[]`, "no settings yet: the defaults, no shares")
		for _, path := range f.satPaths {
			assert.Equal(t, http.StatusForbidden, f.member.Do(t, http.MethodPut, path, body).Status)
			assert.Equal(t, http.StatusForbidden, f.viewer.Do(t, http.MethodPut, path, body).Status)
			assert.Equal(t, http.StatusNotFound, f.outsider.Do(t, http.MethodGet, path, nil).Status)
			assert.Equal(t, http.StatusNotFound, f.outsider.Do(t, http.MethodPut, path, body).Status)
			r = f.admin.Do(t, http.MethodPut, path, body)
			require.Equal(t, http.StatusOK, r.Status, string(r.Body))
			var got struct {
				MinElevationDeg float64 `json:"min_elevation_deg"`
				Shares          []struct {
					TeamID string `json:"team_id"`
					Weight int
				}
			}
			r = f.member.Do(t, http.MethodGet, path, nil)
			r.JSON(t, &got)
			assert.Equal(t, 15.0, got.MinElevationDeg)
			assert.Len(t, got.Shares, 2)
		}
		path := f.satPaths[0]
		for _, tc := range []struct {
			field string
			body  map[string]any
		}{
			{"shares", map[string]any{"slew_az_deg_s": 6}},
			{"slew_az_deg_s", map[string]any{"slew_az_deg_s": -1, "shares": []any{}}},
			{"slew_el_deg_s", map[string]any{"slew_el_deg_s": 1000, "shares": []any{}}},
			{"min_elevation_deg", map[string]any{"min_elevation_deg": 90, "shares": []any{}}},
			{"shares.weight", map[string]any{"shares": []map[string]any{{"team_id": f.team.ID, "weight": 0}}}},
			{"shares.team_id", map[string]any{"shares": []map[string]any{{"team_id": f.team.ID, "weight": 1}, {"team_id": f.team.ID, "weight": 2}}}},
			{"shares.team_id", map[string]any{"shares": []map[string]any{{"team_id": store.NewID(), "weight": 1}}}},
			{"shares.team_id", map[string]any{"shares": []map[string]any{{"team_id": "x", "weight": 1}}}},
		} {
			r := f.admin.Do(t, http.MethodPut, path, tc.body)
			assert.Equal(t, http.StatusBadRequest, r.Status, "%v: %s", tc.body, r.Body)
			assert.Equal(t, tc.field, r.Error(t).Field, "%v", tc.body)
		}
		scoped := f.h.CreateUser(t, "scoped@example.org", false)
		f.h.AddMember(t, f.team, scoped, store.RoleAdmin)
		operate := f.h.ScopedTokenClient(t, scoped, accounts.ScopeOperate)
		assert.Equal(t, http.StatusForbidden, operate.Do(t, http.MethodPut, path, body).Status, "settings need the admin scope")
	})
}

// TestAutoschedulePreviewAndRun: a preview answers what would be booked and books nothing; a
// run (members, operate scope) books it; viewers may preview but not run; a backend without an
// observations service answers 503.
func TestAutoschedulePreviewAndRun(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		f := newAutoschedFixture(t, st)
		base := f.teamPath[0] + "/autoschedule"
		require.Equal(t, http.StatusCreated, f.admin.Do(t, http.MethodPost, base+"/targets", f.targetBody(0, 5)).Status)
		require.Equal(t, http.StatusCreated, f.admin.Do(t, http.MethodPost, base+"/targets", f.targetBody(1, 1)).Status)
		require.Equal(t, http.StatusOK, f.admin.Do(t, http.MethodPut, f.satPaths[0],
			map[string]any{"shares": []map[string]any{{"team_id": f.team.ID, "weight": 1}}}).Status)

		var preview struct {
			DryRun bool `json:"dry_run"`
			Booked []struct {
				SatelliteID string `json:"satellite_id"`
				NORAD       int
				Priority    int
			}
			SkippedByReason map[string]int `json:"skipped_by_reason"`
			Skipped         []struct {
				NORAD    int
				Reason   string
				Conflict *struct {
					NORAD int
				}
			}
		}
		r := f.viewer.Do(t, http.MethodGet, base+"/preview", nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		r.JSON(t, &preview)
		assert.True(t, preview.DryRun)
		require.NotEmpty(t, preview.Booked)
		for _, b := range preview.Booked {
			assert.Equal(t, f.station, b.SatelliteID)
			assert.Equal(t, 90001, b.NORAD, "both spacecraft fly the same orbit: the higher priority wins every pass")
		}
		assert.Equal(t, len(preview.Booked), preview.SkippedByReason["overlaps_choice"])
		assert.Empty(t, f.booker.Bookings(f.station))

		assert.Equal(t, http.StatusForbidden, f.viewer.Do(t, http.MethodPost, base+"/run", nil).Status)
		member := f.h.CreateUser(t, "scoped@example.org", false)
		f.h.AddMember(t, f.team, member, store.RoleMember)
		assert.Equal(t, http.StatusForbidden, f.h.ScopedTokenClient(t, member, accounts.ScopeRead).
			Do(t, http.MethodPost, base+"/run", nil).Status)
		r = f.h.ScopedTokenClient(t, member, accounts.ScopeOperate).Do(t, http.MethodPost, base+"/run", nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		assert.Contains(t, string(r.Body), `"dry_run":false`)
		assert.Len(t, f.booker.Bookings(f.station), len(preview.Booked))

		r = f.viewer.Do(t, http.MethodGet, base, nil)
		require.Equal(t, http.StatusOK, r.Status)
		assert.Contains(t, string(r.Body), `"last_status":"ok"`)
		assert.Equal(t, http.StatusNotFound, f.outsider.Do(t, http.MethodGet, base+"/preview", nil).Status)

		// A backend built without a job of its own books through its observations service.
		plain := servertest.New(t, st)
		admin := plain.TokenClient(t, plain.CreateUser(t, "root2@example.org", true))
		r = admin.Do(t, http.MethodGet, base+"/preview", nil)
		assert.Equal(t, http.StatusOK, r.Status, string(r.Body))
	})
}

// TestSharedStationsArePlanned: a team with a share of another team's station sees that
// station's passes in its own passes API, and loses them with the share; the station itself
// stays the owner's (the other team still gets 404 on it).
func TestSharedStationsArePlanned(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		f := newAutoschedFixture(t, st)
		r := importTLE(t, f.global, "/api/catalog/import", catTLE("ISS (ZARYA)", "25544"))
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		passes := "/api/teams/" + f.other.ID + "/passes?from=2026-06-26T12:00:00Z&hours=24"
		stations := func() map[string]int {
			r := f.outsider.Do(t, http.MethodGet, passes, nil)
			require.Equal(t, http.StatusOK, r.Status, string(r.Body))
			var got passesAnswer
			r.JSON(t, &got)
			out := map[string]int{}
			for _, p := range got.Passes {
				out[p.SatelliteID]++
			}
			return out
		}
		assert.Empty(t, stations(), "the other team has no station of its own and no share")

		share := map[string]any{"shares": []map[string]any{{"team_id": f.team.ID, "weight": 3}, {"team_id": f.other.ID, "weight": 1}}}
		r = f.admin.Do(t, http.MethodPut, f.satPaths[0], share)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		got := stations()
		assert.Positive(t, got[f.station], "the shared station's passes are planned for the team with a share")
		assert.Len(t, got, 1)
		assert.Equal(t, http.StatusNotFound, f.outsider.Do(t, http.MethodGet, "/api/satellites/"+f.station, nil).Status,
			"a share lends time, not the station")

		r = f.admin.Do(t, http.MethodPut, f.satPaths[0], map[string]any{"shares": []map[string]any{{"team_id": f.team.ID, "weight": 1}}})
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		assert.Empty(t, stations(), "without the share the station is gone from the team's passes")
	})
}
