package store_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

// TestReRegistrationScope: which credential may re-register which satellite. A global token may
// adopt only a satellite of no team; a team's satellite needs a token of that team or its own
// key, so a global token's holder cannot take over a team's station.
func TestReRegistrationScope(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		ctx := t.Context()
		owner := &store.User{Email: "owner@example.com", DisplayName: "Owner", PasswordHash: "x"}
		require.NoError(t, st.CreateUser(ctx, owner))
		teamX, err := st.CreateTeam(ctx, "x", owner.ID)
		require.NoError(t, err)
		teamY, err := st.CreateTeam(ctx, "y", owner.ID)
		require.NoError(t, err)

		token := func(team *string) string {
			tok := &store.RegistrationToken{ID: store.NewID(), TeamID: team, ExpiresAt: st.Now().Add(time.Hour), UsesAllowed: 1}
			require.NoError(t, st.CreateRegistrationToken(ctx, tok))
			return tok.ID
		}
		reRegister := func(r store.Registration, satID string) (*store.Satellite, error) {
			r.SatelliteID, r.Name, r.HeartbeatSeconds = satID, "taken", 30
			r.APIKeyID, r.APIKeyHash = uuid.NewString()[:16], "new-hash"
			return st.RegisterSatellite(ctx, r)
		}

		inX := newSatellite(t, st, &teamX.ID)
		orphan := newSatellite(t, st, nil)
		cases := []struct {
			name string
			reg  store.Registration
			sat  *store.Satellite
			ok   bool
		}{
			{"global token, team satellite", store.Registration{TokenID: token(nil)}, inX, false},
			{"other team's token", store.Registration{TokenID: token(&teamY.ID)}, inX, false},
			{"another satellite's key", store.Registration{KeyHolder: orphan.ID}, inX, false},
			{"team token, no-team satellite", store.Registration{TokenID: token(&teamX.ID)}, orphan, false},
			{"global token, no-team satellite", store.Registration{TokenID: token(nil)}, orphan, true},
			{"own team's token", store.Registration{TokenID: token(&teamX.ID)}, inX, true},
			{"own key", store.Registration{KeyHolder: inX.ID}, inX, true},
		}
		for _, tc := range cases {
			before, err := st.SatelliteByID(ctx, tc.sat.ID)
			require.NoError(t, err)
			got, err := reRegister(tc.reg, tc.sat.ID)
			after, gerr := st.SatelliteByID(ctx, tc.sat.ID)
			require.NoError(t, gerr)
			if !tc.ok {
				require.ErrorIs(t, err, store.ErrWrongScope, tc.name)
				assert.Equal(t, before.APIKeyID, after.APIKeyID, "%s: the key must not rotate", tc.name)
				if tc.reg.TokenID != "" {
					// The refused registration gave the token's use back.
					_, cerr := st.ConsumeRegistrationToken(ctx, tc.reg.TokenID)
					assert.NoError(t, cerr, "%s: the token's use was returned", tc.name)
				}
				continue
			}
			require.NoError(t, err, tc.name)
			assert.Equal(t, before.TeamID, got.TeamID, "%s: the team never changes", tc.name)
			assert.NotEqual(t, before.APIKeyID, after.APIKeyID, "%s: the key rotates", tc.name)
		}
	})
}
