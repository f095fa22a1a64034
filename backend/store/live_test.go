package store_test

import (
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

// stepClock is a clock tests move by hand.
type stepClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestLiveQueries: the live feed's queries see only the team's rows, only those changed since
// the given moment, and the newest heartbeat of each satellite.
func TestLiveQueries(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			clk := &stepClock{now: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)}
			st := openClocked(t, storetest.NewURL(t, d), clk.Now)
			ctx := t.Context()
			owner := &store.User{Email: "owner@example.com", PasswordHash: "x"}
			require.NoError(t, st.CreateUser(ctx, owner))
			teamA, err := st.CreateTeam(ctx, "a", owner.ID)
			require.NoError(t, err)
			teamB, err := st.CreateTeam(ctx, "b", owner.ID)
			require.NoError(t, err)
			a1, a2 := newSatellite(t, st, &teamA.ID), newSatellite(t, st, &teamA.ID)
			b1 := newSatellite(t, st, &teamB.ID)

			beat := func(sat *store.Satellite, cpu float64) {
				t.Helper()
				_, err := st.RecordHeartbeat(ctx, &store.Heartbeat{SatelliteID: sat.ID, Status: "online", CPUPercent: cpu, Report: "{}"})
				require.NoError(t, err)
			}
			clk.advance(time.Minute)
			beat(a1, 1)
			beat(b1, 9)
			clk.advance(time.Minute)
			since := clk.Now()
			beat(a1, 2) // a1's newest
			_, err = st.AddEvents(ctx, a2.ID, []store.Event{{EventID: store.NewID(), Type: "rotator.fault", Severity: "error", Time: clk.Now()}})
			require.NoError(t, err)
			_, err = st.AddEvents(ctx, b1.ID, []store.Event{{EventID: store.NewID(), Type: "rotator.fault", Severity: "error", Time: clk.Now()}})
			require.NoError(t, err)
			cmd := &store.Command{SatelliteID: a2.ID, TeamID: teamA.ID, Type: "ping", Priority: api.PriorityNormal}
			require.NoError(t, st.CreateCommand(ctx, cmd))
			require.NoError(t, st.CreateCommand(ctx, &store.Command{SatelliteID: b1.ID, TeamID: teamB.ID, Type: "ping", Priority: api.PriorityNormal}))

			all, err := st.TeamSatellitesChangedSince(ctx, teamA.ID, time.Time{})
			require.NoError(t, err)
			assert.ElementsMatch(t, []string{a1.ID, a2.ID}, ids(all))
			changed, err := st.TeamSatellitesChangedSince(ctx, teamA.ID, since)
			require.NoError(t, err)
			assert.Equal(t, []string{a1.ID}, ids(changed), "only a1 changed since")

			latest, err := st.LatestHeartbeats(ctx, []string{a1.ID, a2.ID, b1.ID})
			require.NoError(t, err)
			require.Len(t, latest, 2, "a2 has no heartbeat")
			assert.InDelta(t, 2.0, latest[a1.ID].CPUPercent, 1e-9, "the newest of a1's two")
			assert.InDelta(t, 9.0, latest[b1.ID].CPUPercent, 1e-9)

			evs, err := st.TeamEventsSince(ctx, teamA.ID, since, 100)
			require.NoError(t, err)
			require.Len(t, evs, 1)
			assert.Equal(t, a2.ID, evs[0].SatelliteID)
			later, err := st.TeamEventsSince(ctx, teamA.ID, since.Add(time.Second), 100)
			require.NoError(t, err)
			assert.Empty(t, later)

			cmds, err := st.TeamCommandsChangedSince(ctx, teamA.ID, since, 100)
			require.NoError(t, err)
			require.Len(t, cmds, 1)
			assert.Equal(t, cmd.ID, cmds[0].ID)
		})
	}
}

func ids(sats []store.Satellite) []string {
	out := make([]string, len(sats))
	for i := range sats {
		out[i] = sats[i].ID
	}
	return out
}

// BenchmarkLiveSnapshot measures the queries of a live feed's snapshot (every station of a team
// with its newest heartbeat) for a team of 1,000 stations with 10 heartbeats each.
func BenchmarkLiveSnapshot(b *testing.B) {
	for _, d := range storetest.Dialects(b) {
		b.Run(string(d), func(b *testing.B) {
			st := storetest.Open(b, d)
			ctx := b.Context()
			owner := &store.User{Email: "owner@example.com", PasswordHash: "x"}
			require.NoError(b, st.CreateUser(ctx, owner))
			team, err := st.CreateTeam(ctx, "fleet", owner.ID)
			require.NoError(b, err)
			tok := &store.RegistrationToken{ID: store.NewID(), TeamID: &team.ID, ExpiresAt: st.Now().Add(time.Hour), UsesAllowed: 1000}
			require.NoError(b, st.CreateRegistrationToken(ctx, tok))
			for i := range 1000 {
				sat, err := st.RegisterSatellite(ctx, store.Registration{TokenID: tok.ID, Name: "s",
					APIKeyID: uuid.NewString()[:16], APIKeyHash: "hash", HeartbeatSeconds: 30})
				require.NoError(b, err)
				for j := range 10 {
					_, err := st.RecordHeartbeat(ctx, &store.Heartbeat{SatelliteID: sat.ID, Status: "online",
						CPUPercent: float64(i + j), Report: "{}"})
					require.NoError(b, err)
				}
			}
			b.ResetTimer()
			for b.Loop() {
				sats, err := st.TeamSatellitesChangedSince(ctx, team.ID, time.Time{})
				require.NoError(b, err)
				hbs, err := st.LatestHeartbeats(ctx, ids(sats))
				require.NoError(b, err)
				require.Len(b, hbs, 1000)
			}
		})
	}
}
