package server_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/notify"
	"github.com/talos-gs/talos/backend/server"
	"github.com/talos-gs/talos/backend/server/servertest"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
	"github.com/talos-gs/talos/backend/sweeper"
)

func TestCommandQueueOrderAndPolling(t *testing.T) {
	t.Parallel()
	forEachClocked(t, func(t *testing.T, st *store.Store, clk *testClock) {
		p := newProtocol(t, st, withClock(clk))
		s := p.newStation(t, "roof")

		out, r := s.poll(t, "")
		assert.Empty(t, out.Commands)
		assert.NotNil(t, out.Commands, "commands is [] when empty, never null")
		assert.Equal(t, api.PollingIdle, out.PollingMode)
		assert.Equal(t, 60, out.NextPollSeconds)
		assert.Equal(t, "60", r.Header.Get(api.HeaderPollInterval))
		assert.True(t, out.ServerTime.Equal(clk.Now()))

		// Queued low, normal, high, immediate, normal: delivered by priority, then age.
		var ids []string
		for _, prio := range []string{"low", "normal", "high", "immediate", "normal"} {
			ids = append(ids, p.queue(t, p.owner, s.SatelliteID, map[string]any{"type": "ping", "priority": prio}))
			clk.Advance(time.Second)
		}
		out, r = s.poll(t, "")
		require.Len(t, out.Commands, 5)
		var got []string
		for _, c := range out.Commands {
			got = append(got, c.ID)
			assert.Equal(t, 1, c.Attempt)
			require.NotNil(t, c.LeaseExpiresAt)
			assert.True(t, c.LeaseExpiresAt.Equal(clk.Now().Add(time.Minute)), "60 s lease by default")
		}
		assert.Equal(t, []string{ids[3], ids[2], ids[1], ids[4], ids[0]}, got)
		assert.Equal(t, api.PollingImmediate, out.PollingMode)
		assert.Equal(t, "2", r.Header.Get(api.HeaderPollInterval))

		out, _ = s.poll(t, "")
		assert.Empty(t, out.Commands, "delivered commands are leased, not handed out again")

		for _, tc := range []struct {
			prio string
			mode api.PollingMode
			secs int
		}{{"high", api.PollingHigh, 10}, {"normal", api.PollingNormal, 30}, {"low", api.PollingNormal, 30}} {
			p.queue(t, p.owner, s.SatelliteID, map[string]any{"type": "ping", "priority": tc.prio})
			out, _ = s.poll(t, "")
			assert.Equal(t, tc.mode, out.PollingMode, tc.prio)
			assert.Equal(t, tc.secs, out.NextPollSeconds, tc.prio)
		}

		// Maintenance mode overrides: 300 s.
		r = p.owner.Do(t, http.MethodPatch, p.teamPath(s.SatelliteID, ""), map[string]any{"maintenance": true})
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		p.queue(t, p.owner, s.SatelliteID, map[string]any{"type": "ping", "priority": "immediate"})
		out, _ = s.poll(t, "")
		assert.Len(t, out.Commands, 1, "maintenance mode still delivers")
		assert.Equal(t, api.PollingMaintenance, out.PollingMode)
		assert.Equal(t, 300, out.NextPollSeconds)

		// The team-scoped path is the same call.
		p.queue(t, p.owner, s.SatelliteID, map[string]any{"type": "ping"})
		r = s.c.Do(t, http.MethodGet, "/api/teams/"+p.team.ID+"/satellites/"+s.SatelliteID+"/commands", nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		r.JSON(t, &out)
		assert.Len(t, out.Commands, 1)

		assert.Equal(t, "wait", s.c.Do(t, http.MethodGet, s.path("/commands?wait=31"), nil).Error(t).Field)
		assert.Equal(t, "wait", s.c.Do(t, http.MethodGet, s.path("/commands?wait=x"), nil).Error(t).Field)
	})
}

func TestCommandLifecycle(t *testing.T) {
	t.Parallel()
	forEachClocked(t, func(t *testing.T, st *store.Store, clk *testClock) {
		p := newProtocol(t, st, withClock(clk))
		s := p.newStation(t, "roof")
		id := p.queue(t, p.owner, s.SatelliteID, map[string]any{"type": "ping", "correlation_id": "job-7"})
		out, _ := s.poll(t, "")
		require.Len(t, out.Commands, 1)
		assert.Equal(t, "job-7", out.Commands[0].CorrelationID)

		status := func(st api.CommandStatus, extra map[string]any) int {
			body := map[string]any{"status": st}
			for k, v := range extra {
				body[k] = v
			}
			return s.c.Do(t, http.MethodPost, s.path("/commands/"+id+"/status"), body).Status
		}
		assert.Equal(t, http.StatusOK, status(api.CommandAcknowledged, nil))
		assert.Equal(t, http.StatusOK, status(api.CommandAcknowledged, nil), "a repeat is a no-op")
		assert.Equal(t, http.StatusOK, status(api.CommandRunning, nil))
		assert.Equal(t, http.StatusConflict, status(api.CommandAcknowledged, nil), "no going back")
		assert.Equal(t, http.StatusOK, status(api.CommandSucceeded, map[string]any{"result": map[string]any{"pong": true}}))
		assert.Equal(t, http.StatusOK, status(api.CommandSucceeded, nil), "a repeated final report is a no-op")
		assert.Equal(t, http.StatusConflict, status(api.CommandFailed, nil), "a finished command stays finished")

		r := s.c.Do(t, http.MethodPost, s.path("/commands/"+id+"/status"), map[string]any{"status": "pending"})
		assert.Equal(t, "status", r.Error(t).Field)
		r = s.c.Do(t, http.MethodPost, s.path("/commands/"+store.NewID()+"/status"), map[string]any{"status": "running"})
		assert.Equal(t, http.StatusNotFound, r.Status)

		// Cancel: a pending command can be, a finished one cannot.
		c2 := p.queue(t, p.owner, s.SatelliteID, map[string]any{"type": "rotator.park"})
		r = p.owner.Do(t, http.MethodPost, "/api/satellites/"+s.SatelliteID+"/commands/"+c2+"/cancel", nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		assert.Contains(t, string(r.Body), `"status":"cancelled"`)
		r = p.owner.Do(t, http.MethodPost, p.teamPath(s.SatelliteID, "/commands/"+id+"/cancel"), nil)
		assert.Equal(t, http.StatusConflict, r.Status)
		out, _ = s.poll(t, "")
		assert.Empty(t, out.Commands, "a cancelled command is never delivered")
		r = s.c.Do(t, http.MethodPost, s.path("/commands/"+c2+"/status"), map[string]any{"status": "acknowledged"})
		assert.Equal(t, http.StatusConflict, r.Status, "the satellite learns it was cancelled")

		// History, newest first, with the result.
		r = p.owner.Do(t, http.MethodGet, "/api/satellites/"+s.SatelliteID+"/commands/history", nil)
		require.Equal(t, http.StatusOK, r.Status)
		var hist struct {
			Commands []struct {
				ID     string
				Status string
				Result map[string]any
			}
		}
		r.JSON(t, &hist)
		require.Len(t, hist.Commands, 2)
		assert.Equal(t, c2, hist.Commands[0].ID)
		assert.Equal(t, "succeeded", hist.Commands[1].Status)
		assert.Equal(t, true, hist.Commands[1].Result["pong"])
		r = p.owner.Do(t, http.MethodGet, p.teamPath(s.SatelliteID, "/commands/history?status=cancelled&limit=1"), nil)
		r.JSON(t, &hist)
		require.Len(t, hist.Commands, 1)
		assert.Equal(t, c2, hist.Commands[0].ID)
		r = p.owner.Do(t, http.MethodGet, p.teamPath(s.SatelliteID, "/commands/history?before="+c2), nil)
		r.JSON(t, &hist)
		require.Len(t, hist.Commands, 1)
		assert.Equal(t, id, hist.Commands[0].ID)

		entries, err := st.ListAudit(t.Context(), store.AuditQuery{TeamID: p.team.ID})
		require.NoError(t, err)
		var actions []string
		for _, e := range entries {
			actions = append(actions, e.Action)
		}
		assert.Contains(t, actions, "command.create")
		assert.Contains(t, actions, "command.cancel")
	})
}

func TestCommandValidation(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t, store.SQLite)
	p := newProtocol(t, st)
	s := p.newStation(t, "roof")
	viewer := p.CreateUser(t, "viewer@example.org", false)
	p.AddMember(t, p.team, viewer, store.RoleViewer)
	path := "/api/satellites/" + s.SatelliteID + "/commands"
	for _, tc := range []struct {
		body  any
		field string
	}{
		{map[string]any{}, "type"},
		{map[string]any{"type": "Ping!"}, "type"},
		{map[string]any{"type": "ping", "priority": "urgent"}, "priority"},
		{map[string]any{"type": "ping", "expires_in_seconds": -1}, "expires_in_seconds"},
		{map[string]any{"type": "ping", "correlation_id": string(make([]byte, 201))}, "correlation_id"},
		{map[string]any{"type": "process.stop"}, "payload"},
		{map[string]any{"type": "process.stop", "payload": map[string]any{"name": "BAD NAME"}}, "payload.name"},
		{map[string]any{"type": "process.stop", "payload": map[string]any{"nme": "x"}}, "payload.nme"},
		{map[string]any{"type": "ping", "prio": "high"}, "prio"},
		// Issue 11, item 10: every type's payload is checked, not only the typed ones'.
		{map[string]any{"type": "rotator.park", "payload": "str"}, "payload"},
		{map[string]any{"type": "ping", "payload": []int{1, 2}}, "payload"},
		{map[string]any{"type": "station.custom", "payload": "str"}, "payload"},
	} {
		r := p.owner.Do(t, http.MethodPost, path, tc.body)
		assert.Equal(t, http.StatusBadRequest, r.Status, "%v", tc.body)
		assert.Equal(t, tc.field, r.Error(t).Field, "%v: %s", tc.body, r.Body)
	}
	r := p.Login(t, viewer).Do(t, http.MethodPost, path, map[string]any{"type": "ping"})
	assert.Equal(t, http.StatusForbidden, r.Status, "viewers may not queue commands")
	outsider := p.Login(t, p.CreateUser(t, "eve@example.org", false))
	assert.Equal(t, http.StatusNotFound, outsider.Do(t, http.MethodPost, path, map[string]any{"type": "ping"}).Status)
	assert.Equal(t, http.StatusNotFound, outsider.Do(t, http.MethodGet, path+"/history", nil).Status)
	assert.Equal(t, http.StatusCreated, p.owner.Do(t, http.MethodPost, path,
		map[string]any{"type": "process.stop", "payload": map[string]any{"name": "decoder"}}).Status)
}

// TestPollCarriesAtMostMaxCommandsPerPoll: a long queue is handed out api.MaxCommandsPerPoll
// commands at a time, the rest on the next poll (issue 11, item 10).
func TestPollCarriesAtMostMaxCommandsPerPoll(t *testing.T) {
	t.Parallel()
	p := newProtocol(t, storetest.Open(t, store.SQLite))
	s := p.newStation(t, "roof")
	for range api.MaxCommandsPerPoll + 1 {
		p.queue(t, p.owner, s.SatelliteID, map[string]any{"type": "ping"})
	}
	out, _ := s.poll(t, "")
	assert.Len(t, out.Commands, api.MaxCommandsPerPoll)
	out, _ = s.poll(t, "")
	assert.Len(t, out.Commands, 1)
}

// TestLeaseRedeliveryAndExpiry: a delivered command not acknowledged within its lease is
// delivered again with attempt+1; a command past its expiry becomes expired.
func TestLeaseRedeliveryAndExpiry(t *testing.T) {
	t.Parallel()
	forEachClocked(t, func(t *testing.T, st *store.Store, clk *testClock) {
		p := newProtocol(t, st, withClock(clk), func(o *server.Options) { o.Satellites.Lease = 20 * time.Second })
		s := p.newStation(t, "roof")
		sw := &sweeper.Sweeper{Store: st, Log: zaptest.NewLogger(t)}
		id := p.queue(t, p.owner, s.SatelliteID, map[string]any{"type": "ping", "expires_in_seconds": 60})
		exp := p.queue(t, p.owner, s.SatelliteID, map[string]any{"type": "ping", "priority": "low", "expires_in_seconds": 120})

		out, _ := s.poll(t, "")
		require.Len(t, out.Commands, 2)
		clk.Advance(19 * time.Second)
		out, _ = s.poll(t, "")
		assert.Empty(t, out.Commands, "the lease still holds")

		clk.Advance(2 * time.Second)
		assert.Equal(t, int64(2), sw.Sweep(t.Context()).Released, "the sweep shows lapsed leases as pending")
		out, _ = s.poll(t, "")
		require.Len(t, out.Commands, 2, "lease lapsed: delivered again")
		assert.Equal(t, id, out.Commands[0].ID)
		assert.Equal(t, 2, out.Commands[0].Attempt)

		// Acknowledged in time: never delivered again, and never expired.
		r := s.c.Do(t, http.MethodPost, s.path("/commands/"+id+"/status"), map[string]any{"status": "acknowledged"})
		require.Equal(t, http.StatusOK, r.Status)
		clk.Advance(25 * time.Second)
		out, _ = s.poll(t, "")
		require.Len(t, out.Commands, 1, "only the unacknowledged one comes back")
		assert.Equal(t, exp, out.Commands[0].ID)
		assert.Equal(t, 3, out.Commands[0].Attempt)

		// Past its expiry (120 s): never delivered again, swept to expired.
		clk.Advance(80 * time.Second)
		out, _ = s.poll(t, "")
		assert.Empty(t, out.Commands)
		assert.Equal(t, int64(1), sw.Sweep(t.Context()).Expired)
		c, err := st.CommandOf(t.Context(), s.SatelliteID, exp)
		require.NoError(t, err)
		assert.Equal(t, api.CommandExpired, c.Status)
		// A late ack of an acknowledged command's next step still works; the expired one is 409.
		assert.Equal(t, http.StatusOK, s.c.Do(t, http.MethodPost, s.path("/commands/"+id+"/status"), map[string]any{"status": "running"}).Status)
		assert.Equal(t, http.StatusConflict, s.c.Do(t, http.MethodPost, s.path("/commands/"+exp+"/status"), map[string]any{"status": "running"}).Status)
	})
}

// pollSteps records the steps of a server's held long-polls (Options.OnLongPoll).
type pollSteps chan server.LongPollStep

func newPollSteps() pollSteps { return make(pollSteps, 64) }

func (p pollSteps) option(o *server.Options) {
	o.OnLongPoll = func(_ string, step server.LongPollStep) {
		select {
		case p <- step:
		default: // the test stopped listening
		}
	}
}

// await fails the test unless the next step is want.
func (p pollSteps) await(t *testing.T, want server.LongPollStep) {
	t.Helper()
	select {
	case got := <-p:
		require.Equal(t, want, got)
	case <-time.After(20 * time.Second):
		t.Fatalf("the long-poll did not reach step %q", want)
	}
}

// answeredByWakeup waits for a held poll's answer and fails unless a notification woke the poll
// before it answered: a poll whose wait merely ended also answers with what is queued, so only
// the woken step proves the notifier worked.
func answeredByWakeup[T any](t *testing.T, steps pollSteps, done <-chan T) T {
	t.Helper()
	woken := false
	for {
		select {
		case step := <-steps:
			woken = woken || step == server.LongPollWoken
		case a := <-done:
			for len(steps) > 0 {
				woken = woken || <-steps == server.LongPollWoken
			}
			require.True(t, woken, "the poll answered without being woken by the notifier")
			return a
		case <-time.After(20 * time.Second):
			t.Fatal("the long-poll was not woken: no answer within 20 s of its 30 s wait")
		}
	}
}

// TestLongPollWakesOnCommand holds a long-poll and, once its look at the queue has found
// nothing, queues a command: the notifier wakes the poll, which answers with the command.
func TestLongPollWakesOnCommand(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		steps := newPollSteps()
		p := newProtocol(t, st, steps.option)
		s := p.newStation(t, "roof")

		done := make(chan api.CommandsResponse, 1)
		go func() {
			out, _ := s.poll(t, "?wait=30")
			done <- out
		}()
		steps.await(t, server.LongPollWaiting)
		queued := time.Now()
		id := p.queue(t, p.owner, s.SatelliteID, map[string]any{"type": "ping", "priority": "high"})
		out := answeredByWakeup(t, steps, done)
		require.Len(t, out.Commands, 1)
		assert.Equal(t, id, out.Commands[0].ID)
		t.Logf("long-poll answered %v after the command was queued", time.Since(queued))

		// Switching maintenance mode answers a held poll at once with the new interval.
		go func() {
			out, _ := s.poll(t, "?wait=30")
			done <- out
		}()
		steps.await(t, server.LongPollWaiting)
		r := p.owner.Do(t, http.MethodPatch, p.teamPath(s.SatelliteID, ""), map[string]any{"maintenance": true})
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		out = answeredByWakeup(t, steps, done)
		assert.Empty(t, out.Commands)
		assert.Equal(t, api.PollingMaintenance, out.PollingMode)

		// Nothing queued: it answers empty at the end of its wait.
		out, _ = s.poll(t, "?wait=1")
		assert.Empty(t, out.Commands)

		m := p.Anonymous(t).Do(t, http.MethodGet, "/metrics", nil)
		assert.Contains(t, string(m.Body), `talos_satellite_commands_delivered_total{priority="high",redelivery="false"} 1`)
		assert.Contains(t, string(m.Body), `talos_satellite_long_polls_held 0`)
		assert.Contains(t, string(m.Body), `talos_satellite_registrations_total{status="201"} 1`)
		assert.Contains(t, string(m.Body), `talos_satellite_wake_failures_total 0`)
	})
}

// TestSweepWakesLongPollOnReleasedLease: when the sweeper releases a lapsed lease, the
// satellite's held long-poll is woken and gets the command again at once, not at its next poll.
func TestSweepWakesLongPollOnReleasedLease(t *testing.T) {
	t.Parallel()
	forEachClocked(t, func(t *testing.T, st *store.Store, clk *testClock) {
		n := notify.NewLocal()
		steps := newPollSteps()
		p := newProtocol(t, st, withClock(clk), steps.option, func(o *server.Options) {
			o.Satellites.Notifier = n
			o.Satellites.Lease = 20 * time.Second
		})
		s := p.newStation(t, "roof")
		other := p.newStation(t, "field")
		sw := &sweeper.Sweeper{Store: st, Log: zaptest.NewLogger(t), Notifier: n}
		id := p.queue(t, p.owner, s.SatelliteID, map[string]any{"type": "ping"})
		out, _ := s.poll(t, "")
		require.Len(t, out.Commands, 1)

		done := make(chan api.CommandsResponse, 1)
		go func() {
			out, _ := s.poll(t, "?wait=30")
			done <- out
		}()
		steps.await(t, server.LongPollWaiting)
		otherWoken, cancel := n.Subscribe(other.SatelliteID)
		defer cancel()
		clk.Advance(21 * time.Second)
		res := sw.Sweep(t.Context())
		assert.Equal(t, int64(1), res.Released)
		assert.Equal(t, []string{s.SatelliteID}, res.ReleasedFor)
		out = answeredByWakeup(t, steps, done)
		require.Len(t, out.Commands, 1)
		assert.Equal(t, id, out.Commands[0].ID)
		assert.Equal(t, 2, out.Commands[0].Attempt)
		select {
		case <-otherWoken:
			t.Error("a satellite with nothing released was woken")
		default:
		}
	})
}

// TestDrainAnswersHeldLongPolls: at shutdown, held long-polls answer at once instead of holding
// the graceful shutdown for up to 30 s, and say why (api.HeaderDraining), so the satellite does
// not take the early empty answer for a proxy cutting its long-poll (issue 11, item 3).
func TestDrainAnswersHeldLongPolls(t *testing.T) {
	t.Parallel()
	n := notify.NewLocal()
	p := newProtocol(t, storetest.Open(t, store.SQLite), func(o *server.Options) { o.Satellites.Notifier = n })
	s := p.newStation(t, "roof")
	_, r := s.poll(t, "")
	assert.Empty(t, r.Header.Get(api.HeaderDraining), "no drain, no header")

	done := make(chan *servertest.Response, 1)
	go func() { done <- s.c.Do(t, http.MethodGet, s.path("/commands?wait=30"), nil) }()
	waitFor(t, func() bool { return n.Subscribers() == 1 })
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	require.NoError(t, p.Server.DrainLongPolls(ctx))
	select {
	case r := <-done:
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		var out api.CommandsResponse
		r.JSON(t, &out)
		assert.Empty(t, out.Commands)
		assert.Equal(t, api.PollingIdle, out.PollingMode)
		assert.Equal(t, "1", r.Header.Get(api.HeaderDraining), "an empty answer caused by the drain says so")
	case <-time.After(20 * time.Second):
		t.Fatal("a held long-poll did not answer the drain")
	}

	// A long-poll arriving during the drain answers at once, marked too; a short poll's empty
	// answer is not caused by the drain, and one carrying commands is not empty.
	_, r = s.poll(t, "?wait=30")
	assert.Equal(t, "1", r.Header.Get(api.HeaderDraining))
	_, r = s.poll(t, "")
	assert.Empty(t, r.Header.Get(api.HeaderDraining))
	p.queue(t, p.owner, s.SatelliteID, map[string]any{"type": "ping"})
	out, r := s.poll(t, "?wait=30")
	assert.Len(t, out.Commands, 1)
	assert.Empty(t, r.Header.Get(api.HeaderDraining))
}

// TestHeldPollAnswersEmptyWhenTheStoreFails: when what wakes a held long-poll is the loss of
// the database (the PostgreSQL listener reconnecting wakes every held poll, and the pool's
// connections died with it), the poll cannot look at the queue again. Nothing was delivered, so
// it answers an empty 200 with its normal pacing, never a 500 (issue 11, item 9).
func TestHeldPollAnswersEmptyWhenTheStoreFails(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		n := notify.NewLocal()
		steps := newPollSteps()
		p := newProtocol(t, st, steps.option, func(o *server.Options) { o.Satellites.Notifier = n })
		s := p.newStation(t, "roof")
		done := make(chan *servertest.Response, 1)
		go func() { done <- s.c.Do(t, http.MethodGet, s.path("/commands?wait=30"), nil) }()
		steps.await(t, server.LongPollWaiting)
		require.NoError(t, st.SQL().Close())
		require.NoError(t, n.Notify(t.Context(), s.SatelliteID))
		select {
		case r := <-done:
			require.Equal(t, http.StatusOK, r.Status, string(r.Body))
			var out api.CommandsResponse
			r.JSON(t, &out)
			assert.Empty(t, out.Commands)
			assert.Equal(t, api.PollingIdle, out.PollingMode)
			assert.Equal(t, api.PollingIdle.Seconds(), out.NextPollSeconds)
			assert.Equal(t, "60", r.Header.Get(api.HeaderPollInterval))
		case <-time.After(20 * time.Second):
			t.Fatal("the woken long-poll did not answer")
		}
	})
}

// TestCrossReplicaWakeup runs two backends on one PostgreSQL database: a long-poll held by A
// wakes when B queues the command.
func TestCrossReplicaWakeup(t *testing.T) {
	t.Parallel()
	stA, stB, nA, nB := twoReplicas(t)
	steps := newPollSteps()
	a := newProtocol(t, stA, steps.option, func(o *server.Options) { o.Satellites.Notifier = nA })
	b := &protocol{Harness: servertest.New(t, stB, func(o *server.Options) { o.Satellites.Notifier = nB })}
	s := a.newStation(t, "roof")
	ownerOnB := b.Login(t, a.ownerUser)

	done := make(chan api.CommandsResponse, 1)
	go func() {
		out, _ := s.poll(t, "?wait=30")
		done <- out
	}()
	// Queue only once A's poll has looked and found nothing: then only a notification from B
	// can wake it before its 30 s wait ends.
	steps.await(t, server.LongPollWaiting)
	queued := time.Now()
	id := b.queue(t, ownerOnB, s.SatelliteID, map[string]any{"type": "ping"})
	out := answeredByWakeup(t, steps, done)
	require.Len(t, out.Commands, 1)
	assert.Equal(t, id, out.Commands[0].ID)
	t.Logf("cross-replica long-poll answered %v after the command was queued on the other replica", time.Since(queued))
}

// twoReplicas opens two stores on one fresh PostgreSQL database, each with a running
// LISTEN/NOTIFY notifier, as two backend replicas have them.
func twoReplicas(t *testing.T) (stA, stB *store.Store, nA, nB *notify.Postgres) {
	t.Helper()
	u := storetest.NewURL(t, store.Postgres)
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	notifier := func(st *store.Store) *notify.Postgres {
		n := notify.NewPostgres(u, st.SQL(), zaptest.NewLogger(t))
		go func() { _ = n.Run(ctx) }()
		waitFor(t, n.Listening)
		return n
	}
	stA, stB = openStore(t, u, nil), openStore(t, u, nil)
	return stA, stB, notifier(stA), notifier(stB)
}

// waitFor polls cond until it holds, failing after 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
