package e2e

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/satellite/runner"
)

// stopGracefully stops the running instance as `talos-backend serve` does on SIGTERM: held
// long-polls are answered at once (DrainLongPolls), the listener closes and the requests in
// progress finish (http.Server.Shutdown), then the store closes.
func (b *backend) stopGracefully() {
	b.t.Helper()
	b.mu.Lock()
	in, srv := b.inst, b.Server
	b.inst = nil
	b.mu.Unlock()
	if in == nil {
		return
	}
	ended, end := context.WithCancel(context.Background())
	end()
	_ = srv.DrainLongPolls(ended)
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	if err := in.http.Shutdown(ctx); err != nil {
		b.t.Errorf("e2e: graceful shutdown: %v", err)
	}
	if err := <-in.served; !errors.Is(err, http.ErrServerClosed) {
		b.t.Errorf("e2e: serve: %v", err)
	}
	in.gate.close()
	in.stop()
	in.parts.Wait()
	_ = in.st.Close()
}

// runStationProductionBackoff runs a runner like runStation, but with the production backoff
// (full jitter from 1 s, no test scaling), so the delay measured after a backend restart is
// the one a real station sees.
func runStationProductionBackoff(t *testing.T, dir, id string) *station {
	t.Helper()
	s := &station{id: id, stateDir: dir, wire: newWire(), done: make(chan error, 1)}
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)).Named("runner")
	r, err := runner.NewWithOptions(runnerConfig(dir), log, runner.Options{Transport: s.wire})
	require.NoError(t, err)
	s.r = r
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go func() { s.done <- r.Run(ctx) }()
	t.Cleanup(func() { s.stop(t) })
	select {
	case <-r.StatusReady():
	case err := <-s.done:
		t.Fatalf("e2e: runner stopped at start: %v", err)
	}
	return s
}

// failedPolls counts the polls that ended without an HTTP answer since start.
func (w *wire) failedPolls(since time.Time) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, p := range w.polls {
		if !p.Start.Before(since) && p.Err != nil {
			n++
		}
	}
	return n
}

// TestCommandArrivesSoonAfterBackendRestart restarts the backend under a long-polling runner,
// gracefully (SIGTERM: held polls are drained) and hard (as kill -9: every connection drops,
// and the backend stays down while the runner fails three polls, the count that used to make
// it give up long-polling for an hour). A command created right after the backend is back
// must reach the runner, delivered by a long-poll. The delay from its creation to the runner
// holding it is logged: issue 11 item 3 measured 51.6 s (graceful) and 53–56 s (hard) before
// the fix; the acceptance is under 5 s. Run with -v to read the figures:
//
//	go test -v -count=1 -run TestCommandArrivesSoonAfterBackendRestart ./backend/e2e/
func TestCommandArrivesSoonAfterBackendRestart(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		stop func(t *testing.T, b *backend, s *station)
	}{
		{"graceful", func(_ *testing.T, b *backend, _ *station) { b.stopGracefully() }},
		{"hard", func(t *testing.T, b *backend, s *station) {
			down := time.Now()
			b.stop()
			eventually(t, func() bool { return s.wire.failedPolls(down) >= 3 }, "three polls fail while the backend is down")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			forEachDialect(t, func(t *testing.T, d store.Dialect, dbURL string) {
				b := startBackend(t, d, dbURL)
				c := seed(t, b)
				dir, id := register(t, b.URL, c.registrationToken(t), "Roof station")
				s := runStationProductionBackoff(t, dir, id)
				ctx, cancel := context.WithTimeout(context.Background(), patience)
				defer cancel()
				_, err := s.wire.waitHeld(ctx, 300*time.Millisecond)
				require.NoError(t, err, "the runner holds a long-poll")

				tc.stop(t, b, s)
				b.start()
				// The first command is created the moment the backend is back; the second once
				// the first has run, when a runner that gave up long-polling would be waiting
				// out the idle interval.
				for _, which := range []string{"first", "second"} {
					created := time.Now()
					cmd := c.createCommand(t, c.operator, s.id, map[string]any{"type": api.CommandPing, "priority": "immediate"})
					require.NoError(t, s.wire.waitUntil(ctx, func() bool { return !s.wire.command(cmd.ID).SucceededAt.IsZero() }),
						"the %s command reaches the runner and runs", which)
					seen := s.wire.command(cmd.ID)
					t.Logf("%s restart (%s): %s command delivered %v after its creation", tc.name, d, which, seen.DeliveredAt.Sub(created))
					assert.Equal(t, time.Duration(api.MaxLongPollSeconds)*time.Second, seen.Poll.Wait,
						"the %s command was delivered by a long-poll: the runner did not fall back to short polling", which)
				}
			})
		})
	}
}
