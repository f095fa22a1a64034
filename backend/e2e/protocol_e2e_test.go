package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/server/servertest"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

// Generous deadlines: the machines running these tests may be slow and busy. Nothing is
// asserted against them but "it happened at all".
const (
	patience = 90 * time.Second
	tick     = 50 * time.Millisecond
)

// eventually polls cond every tick until it holds, failing the test after patience. Unlike
// require.Eventually it calls cond on the test's goroutine, so cond may use require and the
// API helpers, which stop the test on a broken answer.
func eventually(t testing.TB, cond func() bool, msgAndArgs ...any) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			require.Fail(t, "condition not met within "+patience.String(), msgAndArgs...)
		}
		time.Sleep(tick)
	}
}

func TestRegisterAndHeartbeat(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect, dbURL string) {
		b := startBackend(t, d, dbURL)
		c := seed(t, b)
		s := startStation(t, b.URL, c.registrationToken(t), "Roof station")

		// The station is in its team's list, online, with the registered details, and its
		// last-seen time moves with its heartbeats.
		var sat satelliteView
		eventually(t, func() bool {
			for _, v := range c.satellites(t, c.operator) {
				if v.ID == s.id {
					sat = v
				}
			}
			return sat.LastSeenAt != nil
		}, "the station appears with a last-seen time")
		assert.Equal(t, "online", sat.Status)
		assert.Equal(t, c.team.ID, sat.TeamID)
		assert.Equal(t, "Roof station", sat.Name)
		assert.Equal(t, api.Location{Lat: 48.1, Lon: 11.6, AltM: 520}, sat.Location)
		assert.Equal(t, api.Version, sat.Version)

		// One heartbeat at start, then one per interval; the second one's CPU figure covers a
		// whole interval.
		var hbs []heartbeatView
		eventually(t, func() bool { hbs = c.heartbeats(t, s.id); return len(hbs) >= 2 },
			"two heartbeats visible through the user API")
		for _, hb := range hbs {
			rep := hb.Report
			assert.Equal(t, api.StatusOnline, rep.Status)
			assert.Equal(t, api.Version, rep.Version)
			assert.GreaterOrEqual(t, rep.UptimeSeconds, int64(0))
			assert.True(t, rep.System.CPUPercent >= 0 && rep.System.CPUPercent <= 100, "cpu_percent %v", rep.System.CPUPercent)
			assert.Positive(t, rep.System.Memory.TotalBytes, "memory.total_bytes")
			assert.LessOrEqual(t, rep.System.Memory.UsedBytes, rep.System.Memory.TotalBytes)
			assert.True(t, rep.System.Memory.Percent > 0 && rep.System.Memory.Percent <= 100, "memory.percent %v", rep.System.Memory.Percent)
			assert.Positive(t, rep.System.Disk.TotalBytes, "disk.total_bytes of the state directory's filesystem")
			assert.GreaterOrEqual(t, rep.System.Load.Load1, 0.0)
		}
		assert.True(t, hbs[0].ReceivedAt.After(hbs[len(hbs)-1].ReceivedAt), "newest first")
		later := c.satellites(t, c.operator)
		require.Len(t, later, 1)
		assert.True(t, later[0].LastSeenAt.After(*sat.LastSeenAt) || later[0].LastSeenAt.Equal(*sat.LastSeenAt))

		// The single-use token is spent.
		r := c.admin.Do(t, http.MethodGet, "/api/teams/"+c.team.ID+"/registration-tokens", nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		var toks struct {
			Tokens []struct {
				UsesLeft int `json:"uses_left"`
			} `json:"tokens"`
		}
		r.JSON(t, &toks)
		if assert.Len(t, toks.Tokens, 1, string(r.Body)) {
			assert.Zero(t, toks.Tokens[0].UsesLeft)
		}
	})
}

// latency is how long one immediate command took, measured on both sides.
type latency struct {
	// Backend clock: created_at to delivered_at and to finished_at.
	serverDelivered, serverSucceeded time.Duration
	// Test clock: from just before the POST that created it to the runner holding the poll
	// answer that carried it, and to the backend accepting its "succeeded" report.
	clientDelivered, clientSucceeded time.Duration
}

// sendImmediatePing waits until s has held a long-poll on the wire for hold, creates an immediate ping
// through client (the user API of whichever replica client talks to), waits for it to succeed
// and checks it was delivered by the long-poll that was already held when it was created.
func sendImmediatePing(t testing.TB, c *cast, client *servertest.Client, s *station, hold time.Duration) (latency, pollCall) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	held, err := s.wire.waitHeld(ctx, hold)
	require.NoError(t, err, "the runner holds a long-poll")
	require.Equal(t, time.Duration(api.MaxLongPollSeconds)*time.Second, held.Wait, "it asks for the longest wait")

	start := time.Now()
	cmd := c.createCommand(t, client, s.id, map[string]any{"type": api.CommandPing, "priority": "immediate",
		"correlation_id": "e2e-" + start.Format(time.RFC3339Nano)})
	require.NoError(t, s.wire.waitUntil(ctx, func() bool { return !s.wire.command(cmd.ID).SucceededAt.IsZero() }),
		"the runner reports the ping succeeded")
	seen := s.wire.command(cmd.ID)

	// Delivered by the poll already held when the command was created, before its wait ran out.
	p := seen.Poll
	require.NotNil(t, p)
	assert.True(t, p.Start.Before(start), "delivered by a poll started before the command was created (started %v, created %v)",
		p.Start, start)
	assert.Equal(t, held.Wait, p.Wait, "delivered by a long-poll")
	assert.Less(t, p.End.Sub(p.Start), p.Wait, "the long-poll returned before its wait expired")
	assert.Equal(t, []string{cmd.ID}, p.Commands)
	assert.Equal(t, []api.CommandStatus{api.CommandAcknowledged, api.CommandRunning, api.CommandSucceeded}, seen.Reported)

	// The user sees it succeeded in the command history.
	var got commandView
	eventually(t, func() bool {
		got = commandIn(c.history(t, client, s.id), cmd.ID)
		return got.Status == api.CommandSucceeded
	}, "command history shows succeeded")
	require.NotNil(t, got.DeliveredAt)
	require.NotNil(t, got.FinishedAt)
	assert.Equal(t, 1, got.Attempt, "delivered once")
	var pong api.PingResult
	require.NoError(t, json.Unmarshal(got.Result, &pong), string(got.Result))
	assert.True(t, pong.Pong)

	return latency{serverDelivered: got.DeliveredAt.Sub(got.CreatedAt), serverSucceeded: got.FinishedAt.Sub(got.CreatedAt),
		clientDelivered: seen.DeliveredAt.Sub(start), clientSucceeded: seen.SucceededAt.Sub(start)}, *p
}

func TestImmediateCommandByLongPoll(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect, dbURL string) {
		b := startBackend(t, d, dbURL)
		c := seed(t, b)
		s := startStation(t, b.URL, c.registrationToken(t), "Roof station")

		// Idle, the backend tells the runner to short-poll every 60 s: only the held
		// long-poll can bring a command within seconds.
		require.Equal(t, 60, s.r.Identity().Intervals.PollSeconds)

		for i := range 3 {
			lat, _ := sendImmediatePing(t, c, c.operator, s, 300*time.Millisecond)
			t.Logf("%s immediate ping %d: delivered %v after creation (backend clock; %v at the runner), succeeded after %v (%v)",
				d, i, lat.serverDelivered, lat.clientDelivered, lat.serverSucceeded, lat.clientSucceeded)
		}
	})
}

// TestCrossReplicaLongPoll runs two backends on one PostgreSQL database: the runner long-polls
// replica A, the operator creates the command on replica B, and LISTEN/NOTIFY carries the
// wake-up across.
func TestCrossReplicaLongPoll(t *testing.T) {
	t.Parallel()
	dbURL := storetest.NewURL(t, store.Postgres)
	a := startBackend(t, store.Postgres, dbURL)
	b := startBackend(t, store.Postgres, dbURL)
	c := seed(t, a)
	s := startStation(t, a.URL, c.registrationToken(t), "Roof station")
	operatorOnB := b.Login(t, c.opUser)

	eventually(t, func() bool { return a.subscribers() == 1 }, "replica A holds the long-poll")
	require.Zero(t, b.subscribers(), "replica B holds none")
	for i := range 3 {
		lat, p := sendImmediatePing(t, c, operatorOnB, s, 300*time.Millisecond)
		assert.Equal(t, a.addr, p.Host, "delivered by the long-poll held on replica A")
		t.Logf("cross-replica immediate ping %d: delivered %v after creation on the other replica (%v at the runner), succeeded after %v (%v)",
			i, lat.serverDelivered, lat.clientDelivered, lat.serverSucceeded, lat.clientSucceeded)
	}
}

// BenchmarkLongPollDelivery measures, on each database, how long an immediate command takes
// from its creation through the user API to the runner holding it (ms-delivered/op, via the
// long-poll the runner was holding) and to the backend recording it succeeded
// (ms-succeeded/op), with the real backend and the real runner over loopback HTTP. Each
// iteration waits for a fresh long-poll to be held for 100 ms first; ns/op includes that wait
// and the test's own checks, so read the two latency metrics.
func BenchmarkLongPollDelivery(b *testing.B) {
	for _, d := range storetest.Dialects(b) {
		b.Run(string(d), func(b *testing.B) {
			be := startBackend(b, d, storetest.NewURL(b, d))
			c := seed(b, be)
			s := startStation(b, be.URL, c.registrationToken(b), "Bench station")
			var delivered, succeeded, serverDelivered time.Duration
			b.ResetTimer()
			for range b.N {
				lat, _ := sendImmediatePing(b, c, c.operator, s, 100*time.Millisecond)
				delivered += lat.clientDelivered
				succeeded += lat.clientSucceeded
				serverDelivered += lat.serverDelivered
			}
			ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / float64(b.N) }
			b.ReportMetric(ms(delivered), "ms-delivered/op")
			b.ReportMetric(ms(serverDelivered), "ms-delivered-backend-clock/op")
			b.ReportMetric(ms(succeeded), "ms-succeeded/op")
		})
	}
}
