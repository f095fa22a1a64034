package poller

import (
	"context"
	"errors"
	"net/http"
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

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// step is one scripted answer: the response or error, and how long the "backend" holds the
// request (the fake clock advances by it during the call).
type step struct {
	resp   api.CommandsResponse
	header http.Header
	err    error
	hold   time.Duration
	// after, when set, holds the answer until it is closed.
	after <-chan struct{}
}

type call struct {
	at       time.Time
	wait     time.Duration
	lastPoll time.Time
}

// script is a Source that plays steps in order, then blocks until the test ends.
type script struct {
	clk   *clock.Fake
	steps []step
	mu    sync.Mutex
	calls []call
	done  chan struct{}
}

func (s *script) Poll(ctx context.Context, wait time.Duration, last time.Time) (api.CommandsResponse, http.Header, error) {
	s.mu.Lock()
	n := len(s.calls)
	s.calls = append(s.calls, call{at: s.clk.Now(), wait: wait, lastPoll: last})
	s.mu.Unlock()
	if n >= len(s.steps) {
		close(s.done)
		<-ctx.Done()
		return api.CommandsResponse{}, nil, ctx.Err()
	}
	st := s.steps[n]
	if st.after != nil {
		<-st.after
	}
	s.clk.Advance(st.hold)
	h := st.header
	if h == nil {
		h = http.Header{}
	}
	return st.resp, h, st.err
}

type sink struct {
	mu   sync.Mutex
	cmds []api.Command
}

func (k *sink) Submit(_ context.Context, cmds []api.Command) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.cmds = append(k.cmds, cmds...)
	return nil
}

// play runs a poller over steps, moving the fake clock whenever the poller waits, and returns
// the calls made.
func play(t *testing.T, longPoll time.Duration, steps []step) ([]call, *Poller, error) {
	t.Helper()
	clk := clock.NewFake(t0)
	src := &script{clk: clk, steps: steps, done: make(chan struct{})}
	p := New(Options{Source: src, Sink: &sink{}, Clock: clk, LongPoll: longPoll,
		Backoff: backoff.New(func() float64 { return 1 })})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res := make(chan error, 1)
	go func() { res <- p.Run(ctx) }()
	for {
		select {
		case <-src.done:
			cancel()
			err := <-res
			return src.calls, p, err
		case err := <-res:
			return src.calls, p, err
		default:
		}
		waitCtx, stop := context.WithTimeout(ctx, 5*time.Millisecond)
		if clk.BlockUntil(waitCtx, 1) == nil {
			clk.AdvanceToNext()
		}
		stop()
	}
}

func gaps(calls []call) []time.Duration {
	var out []time.Duration
	for i := 1; i < len(calls); i++ {
		out = append(out, calls[i].at.Sub(calls[i-1].at))
	}
	return out
}

func ok(next int, mode api.PollingMode) step {
	return step{resp: api.CommandsResponse{NextPollSeconds: next, PollingMode: mode, ServerTime: t0}}
}

func TestClamp(t *testing.T) {
	t.Parallel()
	tests := map[int]time.Duration{0: 30 * time.Second, -5: 30 * time.Second, 1: 2 * time.Second, 2: 2 * time.Second,
		60: time.Minute, 300: 5 * time.Minute, 3600: 5 * time.Minute}
	for in, want := range tests {
		assert.Equal(t, want, Clamp(in), in)
	}
}

func TestShortPollObeysNextPollSeconds(t *testing.T) {
	t.Parallel()
	calls, _, err := play(t, 0, []step{ok(10, api.PollingHigh), ok(1, api.PollingImmediate), ok(60, api.PollingIdle),
		ok(999, api.PollingMaintenance), ok(30, api.PollingNormal)})
	require.NoError(t, err)
	assert.Equal(t, []time.Duration{10 * time.Second, 2 * time.Second, 60 * time.Second, 300 * time.Second, 30 * time.Second}, gaps(calls))
	assert.Len(t, calls, 6, "five answers, then the poll the test leaves hanging")
	for _, c := range calls {
		assert.Zero(t, c.wait)
	}
}

func TestBackoffGrowsCapsAndResets(t *testing.T) {
	t.Parallel()
	down := step{err: &client.APIError{Status: 503, Code: "unavailable"}}
	steps := []step{}
	for range 11 {
		steps = append(steps, down)
	}
	steps = append(steps, ok(5, api.PollingNormal), down, ok(5, api.PollingNormal))
	calls, p, err := play(t, 0, steps)
	require.NoError(t, err)
	s := time.Second
	assert.Equal(t, []time.Duration{1 * s, 2 * s, 4 * s, 8 * s, 16 * s, 32 * s, 64 * s, 128 * s, 256 * s, 300 * s, 300 * s,
		5 * s, 1 * s, 5 * s}, gaps(calls))
	assert.Zero(t, p.Stats().Failures)
}

func TestRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	calls, _, err := play(t, 0, []step{{err: &client.APIError{Status: 429, RetryAfter: 42 * time.Second}}, ok(5, "")})
	require.NoError(t, err)
	assert.Equal(t, []time.Duration{42 * time.Second, 5 * time.Second}, gaps(calls))
}

func TestUnauthorizedStops(t *testing.T) {
	t.Parallel()
	calls, _, err := play(t, 0, []step{ok(5, ""), {err: &client.APIError{Status: 401}}, ok(5, "")})
	require.ErrorIs(t, err, client.ErrUnauthorized)
	assert.Len(t, calls, 2)
}

func TestLastPollEchoesServerTime(t *testing.T) {
	t.Parallel()
	first := ok(5, "")
	second := ok(5, "")
	second.resp.ServerTime = t0.Add(time.Hour)
	calls, _, err := play(t, 0, []step{first, second, ok(5, "")})
	require.NoError(t, err)
	assert.True(t, calls[0].lastPoll.IsZero())
	assert.Equal(t, t0, calls[1].lastPoll)
	assert.Equal(t, t0.Add(time.Hour), calls[2].lastPoll)
}

func TestLongPollRepollsAtOnceAfterHeldAnswer(t *testing.T) {
	t.Parallel()
	held := ok(60, api.PollingIdle)
	held.hold = 25 * time.Second
	withCmd := ok(2, api.PollingImmediate)
	withCmd.resp.Commands = []api.Command{{ID: "c1", Type: api.CommandPing}}
	withCmd.hold = time.Second
	maint := ok(300, api.PollingMaintenance)
	calls, _, err := play(t, 25*time.Second, []step{held, withCmd, maint, ok(60, api.PollingIdle)})
	require.NoError(t, err)
	// held 25 s then at once; 1 s then at once (commands); maintenance: 300 s and a short poll.
	assert.Equal(t, []time.Duration{25 * time.Second, time.Second, 300 * time.Second, 60 * time.Second}, gaps(calls))
	assert.Equal(t, []time.Duration{25 * time.Second, 25 * time.Second, 25 * time.Second, 0},
		[]time.Duration{calls[0].wait, calls[1].wait, calls[2].wait, calls[3].wait})
}

func TestFallsBackToShortPollingWhenLongPollsAreCut(t *testing.T) {
	t.Parallel()
	cut := step{err: &client.TransportError{Err: errors.New("unexpected EOF"), Connected: true}, hold: 10 * time.Second}
	steps := []step{cut, cut, cut}
	for range 130 { // 130 short polls at 30 s: past the one-hour fallback
		steps = append(steps, ok(30, api.PollingNormal))
	}
	steps = append(steps, ok(30, api.PollingNormal))
	calls, p, err := play(t, 30*time.Second, steps)
	require.NoError(t, err)
	for i := range 3 {
		assert.Equal(t, 30*time.Second, calls[i].wait, "call %d", i)
	}
	assert.Zero(t, calls[3].wait, "short polling after three cuts")
	retry := 0
	for i := 4; i < len(calls) && retry == 0; i++ {
		if calls[i].wait > 0 {
			retry = i
		}
	}
	require.NotZero(t, retry, "long-polling is tried again")
	assert.GreaterOrEqual(t, calls[retry].at.Sub(calls[2].at), RetryLongPollAfter)
	assert.Less(t, calls[retry-1].at.Sub(calls[2].at), RetryLongPollAfter)
	_ = p
}

func TestEarlyEmptyAnswersAlsoTriggerFallback(t *testing.T) {
	t.Parallel()
	early := ok(10, api.PollingHigh) // held 0 s of a 20 s wait, nothing delivered
	calls, _, err := play(t, 20*time.Second, []step{early, early, early, ok(10, api.PollingHigh)})
	require.NoError(t, err)
	// The first two early answers are retried after the jittered backoff from 1 s (rand 1 here),
	// not the 10 s interval; the third makes it fall back to short polls at the interval.
	assert.Equal(t, []time.Duration{time.Second, time.Second, 10 * time.Second, 10 * time.Second}, gaps(calls))
	assert.Zero(t, calls[3].wait)
}

func TestAgainstFakeBackendLongPollDeliversImmediately(t *testing.T) {
	t.Parallel()
	fb := fakebackend.New()
	t.Cleanup(fb.Close)
	reg := fb.RegisterDirect("gs")
	c, err := client.New(client.Options{BaseURL: fb.URL(), APIKey: reg.APIKey})
	require.NoError(t, err)
	k := &sink{}
	p := New(Options{Source: client.Satellite{Client: c, ID: reg.SatelliteID}, Sink: k, LongPoll: 30 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	require.Eventually(t, func() bool { return fb.Requests("poll") >= 1 }, 10*time.Second, time.Millisecond)
	id := fb.Queue(reg.SatelliteID, api.CommandPing, api.PriorityImmediate, nil)
	require.Eventually(t, func() bool {
		k.mu.Lock()
		defer k.mu.Unlock()
		return len(k.cmds) == 1 && k.cmds[0].ID == id
	}, 10*time.Second, time.Millisecond)
	require.Eventually(t, func() bool { return fb.Requests("poll") >= 2 }, 10*time.Second, time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	hdrs := fb.LastPollHeaders(reg.SatelliteID)
	assert.Empty(t, hdrs[0])
	assert.NotEmpty(t, hdrs[1], "the second poll echoes the first's server_time")
}

func TestAgainstFakeBackendProxyCut(t *testing.T) {
	t.Parallel()
	fb := fakebackend.New()
	t.Cleanup(fb.Close)
	fb.CutLongPollsAfter(20 * time.Millisecond)
	reg := fb.RegisterDirect("gs")
	c, err := client.New(client.Options{BaseURL: fb.URL(), APIKey: reg.APIKey})
	require.NoError(t, err)
	clk := clock.NewFake(t0)
	// The fake backend cuts after 20 ms of real time; a real proxy cuts after seconds (under
	// MinHeldForCut a failure is not a cut). Each reading of the clock is 5 s after the last.
	var reads atomic.Int64
	held := func() time.Time { return t0.Add(time.Duration(reads.Add(1)) * 5 * time.Second) }
	p := New(Options{Source: client.Satellite{Client: c, ID: reg.SatelliteID}, Sink: &sink{}, Clock: heldClock{clk, held},
		LongPoll: 10 * time.Second, Backoff: backoff.New(func() float64 { return 0 })})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	// Three cut long-polls (backoff 0 with rand=0, no clock wait), then a short poll answered.
	require.NoError(t, clk.BlockUntil(ctx, 1))
	assert.Equal(t, 4, fb.Requests("poll"))
	assert.False(t, p.Stats().LongPolling)
	cancel()
	require.NoError(t, <-done)
}

// heldClock is clk whose readings come from now: the loop's waits stay on the fake clock while
// each reading moves on, so a request appears held as long as the test says.
type heldClock struct {
	*clock.Fake
	now func() time.Time
}

func (c heldClock) Now() time.Time { return c.now() }
