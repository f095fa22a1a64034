package store_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
	"github.com/talos-gs/talos/backend/tagquery"
)

// TestTagsFromRegistrationAndHeartbeats: tags registered are stored; a heartbeat replaces them
// only when they differ (riding on the satellite update every heartbeat makes), leaves them
// when it carries none, and clears them with an empty set; SatellitesMatching selects by them
// and by capabilities within one team.
func TestTagsFromRegistrationAndHeartbeats(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		ctx := t.Context()
		team, err := st.CreateTeam(ctx, "Lab "+uuid.NewString()[:8], "")
		require.NoError(t, err)
		other, err := st.CreateTeam(ctx, "Lab "+uuid.NewString()[:8], "")
		require.NoError(t, err)
		register := func(teamID, name string, tags map[string]string, caps ...string) *store.Satellite {
			tok := &store.RegistrationToken{ID: store.NewID(), TeamID: &teamID, ExpiresAt: st.Now().Add(time.Hour), UsesAllowed: 1}
			require.NoError(t, st.CreateRegistrationToken(ctx, tok))
			sat, err := st.RegisterSatellite(ctx, store.Registration{TokenID: tok.ID, Name: name, Tags: tags,
				Capabilities: caps, APIKeyID: uuid.NewString()[:16], APIKeyHash: "hash", HeartbeatSeconds: 30})
			require.NoError(t, err)
			return sat
		}
		a := register(team.ID, "a", map[string]string{"band": "uhf", "site": "roof"}, "rotator")
		register(team.ID, "b", nil, "radio")
		register(other.ID, "c", map[string]string{"band": "uhf"}, "rotator")
		got, err := st.SatelliteByID(ctx, a.ID)
		require.NoError(t, err)
		assert.Equal(t, map[string]string{"band": "uhf", "site": "roof"}, got.Tags)

		beat := func(tags map[string]string) store.HeartbeatResult {
			res, err := st.RecordHeartbeat(ctx, &store.Heartbeat{SatelliteID: a.ID, Status: "online", Report: "{}", Tags: tags})
			require.NoError(t, err)
			return res
		}
		assert.False(t, beat(map[string]string{"site": "roof", "band": "uhf"}).TagsChanged, "the same tags are not written again")
		assert.False(t, beat(nil).TagsChanged, "no tags reported: kept")
		res := beat(map[string]string{"band": "vhf"})
		assert.True(t, res.TagsChanged)
		assert.Equal(t, map[string]string{"band": "vhf"}, res.Satellite.Tags)
		got, err = st.SatelliteByID(ctx, a.ID)
		require.NoError(t, err)
		assert.Equal(t, map[string]string{"band": "vhf"}, got.Tags)

		match := func(query string) []string {
			q, err := tagquery.Parse(query)
			require.NoError(t, err)
			sats, err := st.SatellitesMatching(ctx, team.ID, q)
			require.NoError(t, err)
			names := []string{}
			for _, s := range sats {
				names = append(names, s.Name)
			}
			return names
		}
		assert.Equal(t, []string{"a"}, match("band=vhf"))
		assert.Empty(t, match("band=uhf"), "the other team's station is not selected")
		assert.Equal(t, []string{"a", "b"}, match("capability:rotator OR capability:radio"))
		assert.Equal(t, []string{"b"}, match("NOT has(band)"))

		assert.True(t, beat(map[string]string{}).TagsChanged, "an empty set clears them")
		got, err = st.SatelliteByID(ctx, a.ID)
		require.NoError(t, err)
		assert.Empty(t, got.Tags)
		assert.Equal(t, []string{"a", "b"}, match("band!=vhf"))
	})
}
