package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/server"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/satellite/client"
	"github.com/talos-gs/talos/satellite/command"
	"github.com/talos-gs/talos/satellite/runner"
)

// satellite returns the team's satellite id as the user API lists it.
func (c *cast) satellite(t testing.TB, id string) satelliteView {
	t.Helper()
	for _, v := range c.satellites(t, c.operator) {
		if v.ID == id {
			return v
		}
	}
	t.Fatalf("satellite %s is not in its team's list", id)
	return satelliteView{}
}

// hasEvent reports whether the satellite has an event of typ whose message is msg.
func hasEvent(t testing.TB, c *cast, satelliteID, typ, msg string) bool {
	for _, ev := range c.allEvents(t, satelliteID, typ) {
		if ev.Message == msg {
			return true
		}
	}
	return false
}

// TestOfflineAndBackOnline stops the runner without its final heartbeat (cut, as a crash or a
// lost network would): after 2.5 heartbeat intervals of silence the backend's sweeper marks the
// station offline (with an event); a runner started again on the same state directory brings
// it back online (with an event). A clean stop is TestCleanStopMarksOfflineAtOnce.
func TestOfflineAndBackOnline(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect, dbURL string) {
		b := startBackend(t, d, dbURL)
		c := seed(t, b)
		s := startStation(t, b.URL, c.registrationToken(t), "Roof station")
		eventually(t, func() bool { return len(c.heartbeats(t, s.id)) >= 1 }, "first heartbeat")

		s.wire.cutHeartbeats.Store(true)
		s.stop(t)
		eventually(t, func() bool { return c.satellite(t, s.id).Status == "offline" },
			"marked offline after 2.5 heartbeat intervals of silence")
		assert.True(t, hasEvent(t, c, s.id, api.EventSatelliteOffline, "no heartbeat for 2.5 heartbeat intervals: marked offline"))
		assert.True(t, hasEvent(t, c, s.id, api.EventSatelliteOffline, "runner stopping"), "the runner's own goodbye was flushed")

		runStation(t, s.stateDir, s.id)
		eventually(t, func() bool { return c.satellite(t, s.id).Status == "online" },
			"back online at the restarted runner's first heartbeat")
		assert.True(t, hasEvent(t, c, s.id, api.EventSatelliteOnline, "heartbeat received: back online"))
	})
}

// TestKeyRotationStopsTheOldRunner re-registers a running station's state directory with a new
// token (`talos-satellite register` again): the key rotates, the running runner's old key is
// refused at its next call and it stops with ErrUnauthorized; a runner started on the same
// directory uses the new key and keeps the satellite id.
func TestKeyRotationStopsTheOldRunner(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect, dbURL string) {
		b := startBackend(t, d, dbURL)
		c := seed(t, b)
		s := startStation(t, b.URL, c.registrationToken(t), "Roof station")
		eventually(t, func() bool { return len(c.heartbeats(t, s.id)) >= 1 }, "first heartbeat")
		oldKey := c.satellite(t, s.id).KeyID

		id := registerDir(t, s.stateDir, b.URL, c.registrationToken(t), "Roof station")
		require.Equal(t, s.id, id, "re-registration keeps the satellite id")
		require.NotEqual(t, oldKey, c.satellite(t, s.id).KeyID, "the key rotated")

		select {
		case err := <-s.done:
			require.Error(t, err)
			assert.True(t, errors.Is(err, client.ErrUnauthorized), "stopped because the key was refused: %v", err)
			s.cancel() // already stopped; nothing left for the cleanup to check
			s.cancel = nil
		case <-time.After(patience):
			t.Fatal("the runner with the rotated-out key kept running")
		}

		before := len(c.heartbeats(t, s.id))
		runStation(t, s.stateDir, s.id)
		eventually(t, func() bool { return len(c.heartbeats(t, s.id)) > before },
			"the runner with the new key is heard")
	})
}

// TestConfigUpdateHeartbeatIntervalSticks sends config.update with a heartbeat interval other
// than the backend's. The runner applies and persists it (its result says so), so it should
// stay in force, and the backend, which decides when a silent station is offline, should
// know it. (It once lasted a single heartbeat: the backend answered every heartbeat with the
// interval it handed out at registration. The backend now adopts the interval when the
// config.update command succeeds.)
func TestConfigUpdateHeartbeatIntervalSticks(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect, dbURL string) {
		b := startBackend(t, d, dbURL)
		c := seed(t, b)
		s := startStation(t, b.URL, c.registrationToken(t), "Roof station")
		want := heartbeatSeconds + 3

		cmd := c.createCommand(t, c.operator, s.id, map[string]any{"type": api.CommandConfigUpdate, "priority": "immediate",
			"payload": map[string]any{"heartbeat_seconds": want}})
		var got commandView
		eventually(t, func() bool {
			got = commandIn(c.history(t, c.operator, s.id), cmd.ID)
			return got.Status == api.CommandSucceeded
		}, "config.update succeeded")
		var res api.ConfigUpdateResult
		require.NoError(t, json.Unmarshal(got.Result, &res))
		require.Equal(t, want, res.HeartbeatSeconds, "the runner reports the new interval in force")

		// Two more heartbeats: the interval must still be the new one, on both sides.
		n := len(c.heartbeats(t, s.id))
		eventually(t, func() bool { return len(c.heartbeats(t, s.id)) >= n+2 }, "two more heartbeats")
		raw, err := json.Marshal(s.r.Snapshot().Heartbeat)
		require.NoError(t, err)
		var hb struct {
			Interval float64 `json:"interval_seconds"`
		}
		require.NoError(t, json.Unmarshal(raw, &hb))
		assert.Equal(t, float64(want), hb.Interval, "runner's heartbeat interval")
		assert.Equal(t, want, c.satellite(t, s.id).HeartbeatSeconds, "backend's idea of the heartbeat interval")
	})
}

// counter serves e2e.count, counting how often each command ran.
type counter struct {
	mu   sync.Mutex
	runs map[string]int
}

func (c *counter) Handlers() command.Handlers {
	return command.Handlers{"e2e.count": func(_ context.Context, cmd api.Command) (json.RawMessage, error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.runs[cmd.ID]++
		return json.RawMessage(`{"counted":true}`), nil
	}}
}

func (c *counter) count(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.runs[id]
}

// TestLapsedLeaseRedeliversAndRunsOnce cuts the runner's status reports, so the backend never
// hears the acknowledgement: the command's lease lapses, the sweeper puts it back in the queue
// and it is delivered again. Once the reports get through, the command has run exactly once
// and succeeded.
func TestLapsedLeaseRedeliversAndRunsOnce(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect, dbURL string) {
		// A short lease, and long-polls of 5 s: a lease released by the sweeper wakes no
		// long-poll, so the command comes back at the runner's next poll.
		b := startBackend(t, d, dbURL, func(o *server.Options) {
			o.Satellites.Lease = time.Second
			o.Satellites.LongPollSeconds = 5
		})
		c := seed(t, b)
		part := &counter{runs: map[string]int{}}
		s := startStation(t, b.URL, c.registrationToken(t), "Roof station", runner.Extras{Handlers: part.Handlers()})

		s.wire.cutStatus.Store(true)
		cmd := c.createCommand(t, c.operator, s.id, map[string]any{"type": "e2e.count", "priority": "immediate"})
		eventually(t, func() bool { return s.wire.command(cmd.ID).Deliveries >= 2 }, "delivered again after the lease lapsed")
		got := commandIn(c.history(t, c.operator, s.id), cmd.ID)
		assert.GreaterOrEqual(t, got.Attempt, 2, "the backend counts the deliveries")
		assert.Zero(t, part.count(cmd.ID), "not run before it was acknowledged")

		s.wire.cutStatus.Store(false)
		eventually(t, func() bool {
			got = commandIn(c.history(t, c.operator, s.id), cmd.ID)
			return got.Status == api.CommandSucceeded
		}, "succeeded once the reports get through")
		assert.Equal(t, 1, part.count(cmd.ID), "ran exactly once")
		assert.JSONEq(t, `{"counted":true}`, string(got.Result))
	})
}
