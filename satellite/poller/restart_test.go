package poller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/client"
	"github.com/talos-gs/talos/satellite/internal/backoff"
	"github.com/talos-gs/talos/satellite/internal/clock"
	"github.com/talos-gs/talos/satellite/internal/fakebackend"
)

func held(next int) step {
	s := ok(next, api.PollingIdle)
	s.hold = 30 * time.Second
	return s
}

func drain() step {
	s := ok(60, api.PollingIdle)
	s.header = http.Header{api.HeaderDraining: {"1"}}
	return s
}

var refused = step{err: &client.TransportError{Err: errors.New("dial tcp 127.0.0.1:8080: connect: connection refused")}}

// The graceful restart of issue 11 item 3: the drain answers the held poll early and empty, then
// the backend refuses connections while it restarts. None of it is a cut, and the runner comes
// back at once instead of waiting out the 60 s idle interval or falling back to short polls.
func TestGracefulRestartIsNotACut(t *testing.T) {
	t.Parallel()
	steps := []step{held(60), drain(), refused, refused, held(60)}
	// Three drains in a row (replicas restarting one after another) would be three cuts, the
	// fallback count, if drains counted.
	steps = append(steps, drain(), drain(), drain(), held(60))
	calls, p, err := play(t, 30*time.Second, steps)
	require.NoError(t, err)
	for i, c := range calls {
		assert.Equal(t, 30*time.Second, c.wait, "call %d is a long-poll", i)
	}
	s := time.Second
	// held 30 s; after the drain the backoff from 1 s (rand 1: its cap), then the outage
	// bound of max(1 s, outage/2): 1 s, 1 s; held again.
	assert.Equal(t, []time.Duration{30 * s, 1 * s, 1 * s, 1 * s, 30 * s, 1 * s, 1 * s, 1 * s, 30 * s}, gaps(calls))
	assert.True(t, p.Stats().LongPolling)
}

// The kill -9 of issue 11 item 3: the held poll is cut, then connections are refused for a
// while. Only the cut counts; retries stay within half the outage so far, so the backend is
// found again soon after it returns, and long-polling goes on.
func TestHardRestartRetriesWithinHalfTheOutage(t *testing.T) {
	t.Parallel()
	cut := step{err: &client.TransportError{Err: errors.New("read: connection reset by peer"), Connected: true}, hold: 5 * time.Second}
	steps := []step{held(60), cut}
	for range 12 {
		steps = append(steps, refused)
	}
	steps = append(steps, held(60), held(60))
	calls, _, err := play(t, 30*time.Second, steps)
	require.NoError(t, err)
	for i, c := range calls {
		assert.Equal(t, 30*time.Second, c.wait, "call %d is a long-poll: refused connections are not cuts", i)
	}
	// calls[2] is the first poll after the cut (the outage began when the cut poll ended).
	down := calls[1].at.Add(5 * time.Second)
	for i := 3; i < len(calls)-1; i++ {
		outage := calls[i-1].at.Sub(down)
		assert.LessOrEqual(t, calls[i].at.Sub(calls[i-1].at), max(OutageRetryFloor, outage/2),
			"retry %d waits at most half the outage so far (%v)", i, outage)
	}
	assert.Greater(t, calls[len(calls)-2].at.Sub(down), 30*time.Second, "the retries still spread out: %v", gaps(calls))
}

// blockingSink takes the first Submit and holds it until the test ends, as an executor whose
// workers and queue are all busy would.
type blockingSink struct {
	once    sync.Once
	entered chan []api.Command
	busy    chan struct{} // closed once the first Submit holds
}

func (b *blockingSink) Submit(ctx context.Context, cmds []api.Command) error {
	b.once.Do(func() { b.entered <- cmds; close(b.busy) })
	<-ctx.Done()
	return ctx.Err()
}

func TestTakesAtMostMaxCommandsPerPollAndKeepsPolling(t *testing.T) {
	t.Parallel()
	flood := ok(2, api.PollingImmediate)
	for i := range 10_000 {
		flood.resp.Commands = append(flood.resp.Commands, api.Command{ID: fmt.Sprintf("c%05d", i), Type: api.CommandPing})
	}
	sk := &blockingSink{entered: make(chan []api.Command, 1), busy: make(chan struct{})}
	// The second delivery comes while the sink holds the first: it waits its turn; the third
	// finds that place taken and is left to the backend.
	withOne := ok(2, api.PollingImmediate)
	withOne.resp.Commands = []api.Command{{ID: "late", Type: api.CommandPing}}
	withOne.after = sk.busy
	another := withOne
	another.resp.Commands = []api.Command{{ID: "later", Type: api.CommandPing}}
	steps := []step{flood, held(60), withOne, another, held(60), held(60)}

	clk := clock.NewFake(t0)
	src := &script{clk: clk, steps: steps, done: make(chan struct{})}
	p := New(Options{Source: src, Sink: sk, Clock: clk, LongPoll: 30 * time.Second,
		Backoff: backoff.New(func() float64 { return 1 })})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res := make(chan error, 1)
	go func() { res <- p.Run(ctx) }()
	var taken []api.Command
	select {
	case taken = <-sk.entered:
	case err := <-res:
		t.Fatalf("poller stopped: %v", err)
	}
	// The sink is now stuck on the first delivery: every other poll still happens.
	for done := false; !done; {
		select {
		case <-src.done:
			done = true
		case <-time.After(time.Minute): // a failure deadline only: a poller stuck on its sink never gets here
			t.Fatal("the poller stopped polling while the sink was busy")
		default:
			waitCtx, stop := context.WithTimeout(ctx, 5*time.Millisecond)
			if clk.BlockUntil(waitCtx, 1) == nil {
				clk.AdvanceToNext()
			}
			stop()
		}
	}
	cancel()
	require.NoError(t, <-res)
	require.Len(t, taken, api.MaxCommandsPerPoll)
	assert.Equal(t, "c00000", taken[0].ID)
	assert.Equal(t, fmt.Sprintf("c%05d", api.MaxCommandsPerPoll-1), taken[len(taken)-1].ID)
	st := p.Stats()
	assert.Len(t, src.calls, len(steps)+1)
	assert.Equal(t, int64(api.MaxCommandsPerPoll+1), st.Delivered, "the first 50 and the late one (waiting its turn)")
	assert.Equal(t, int64(10_000-api.MaxCommandsPerPoll+1), st.Ignored, "the rest of the flood and the third delivery")
}

// drainingProxy stands in front of the fake backend: while drainNow says so, it answers a
// command poll itself the way a backend shutting down does (at once, empty, with the drain
// header); everything else goes through. forwarded receives the wait of each poll it passes on.
func drainingProxy(t *testing.T, target string, drainNow func() bool) (string, <-chan string) {
	t.Helper()
	u, err := url.Parse(target)
	require.NoError(t, err)
	rp := httputil.NewSingleHostReverseProxy(u)
	forwarded := make(chan string, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/commands") {
			if drainNow() {
				w.Header().Set(api.HeaderDraining, "1")
				_ = json.NewEncoder(w).Encode(api.CommandsResponse{PollingMode: api.PollingIdle, NextPollSeconds: 60,
					ServerTime: time.Now().UTC()})
				return
			}
			select {
			case forwarded <- r.URL.Query().Get("wait"):
			default:
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, forwarded
}

// Against the fake backend over real HTTP: three drain answers in a row (three cuts under the
// old rule, enough to fall back) leave the poller long-polling, and it asks again at once.
func TestAgainstFakeBackendDrainAnswers(t *testing.T) {
	t.Parallel()
	var drains atomic.Int32
	fb := fakebackend.New()
	t.Cleanup(fb.Close)
	reg := fb.RegisterDirect("gs")
	proxy, forwarded := drainingProxy(t, fb.URL(), func() bool { return drains.Add(1) <= 3 })
	c, err := client.New(client.Options{BaseURL: proxy, APIKey: reg.APIKey})
	require.NoError(t, err)
	clk := clock.NewFake(t0)
	p := New(Options{Source: client.Satellite{Client: c, ID: reg.SatelliteID}, Sink: &sink{}, Clock: clk,
		LongPoll: 10 * time.Second, Backoff: backoff.New(func() float64 { return 0 })})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	// Backoff with rand 0 waits nothing, so no clock wait is needed to get to the fourth poll.
	select {
	case wait := <-forwarded:
		assert.Equal(t, "10", wait, "the poll after three drain answers is a long-poll")
	case err := <-done:
		t.Fatalf("poller stopped: %v", err)
	case <-time.After(time.Minute): // a failure deadline only: a poller that fell back waits on the fake clock
		t.Fatal("no poll got past the drain answers: the poller is waiting out an interval")
	}
	assert.True(t, p.Stats().LongPolling)
	cancel()
	require.NoError(t, <-done)
}

// Behind the shipped Caddy (or any reverse proxy), a backend that is down shows as an immediate
// 502 without the backend's body, or a connection reset at once: not a proxy cutting a held
// long-poll, so no fallback however long it lasts.
func TestQuickGatewayErrorsAreNotCuts(t *testing.T) {
	t.Parallel()
	gateway := step{err: &client.APIError{Status: http.StatusBadGateway}}
	reset := step{err: &client.TransportError{Err: errors.New("read: connection reset by peer"), Connected: true}}
	steps := []step{held(60)}
	for range 4 {
		steps = append(steps, gateway, reset)
	}
	steps = append(steps, held(60))
	calls, p, err := play(t, 30*time.Second, steps)
	require.NoError(t, err)
	for i, c := range calls {
		assert.Equal(t, 30*time.Second, c.wait, "call %d is a long-poll", i)
	}
	assert.True(t, p.Stats().LongPolling)
}
