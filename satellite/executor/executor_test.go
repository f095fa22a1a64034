package executor

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/client"
	"github.com/talos-gs/talos/satellite/command"
	"github.com/talos-gs/talos/satellite/internal/clock"
	"github.com/talos-gs/talos/satellite/internal/fakebackend"
	"github.com/talos-gs/talos/satellite/state"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

type fixture struct {
	fb    *fakebackend.Backend
	sat   client.Satellite
	dir   string
	clk   *clock.Fake
	calls sync.Map // command id → *atomic.Int32
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	fb := fakebackend.New()
	t.Cleanup(fb.Close)
	reg := fb.RegisterDirect("gs")
	c, err := client.New(client.Options{BaseURL: fb.URL(), APIKey: reg.APIKey, Timeout: 5 * time.Second})
	require.NoError(t, err)
	return &fixture{fb: fb, sat: client.Satellite{Client: c, ID: reg.SatelliteID}, dir: t.TempDir(), clk: clock.NewFake(t0)}
}

func (f *fixture) count(id string) int32 {
	v, _ := f.calls.LoadOrStore(id, &atomic.Int32{})
	return v.(*atomic.Int32).Load()
}

// handlers: "test.echo" returns its payload, "test.fail" errors, "test.panic" panics,
// "test.block" waits for ctx.
func (f *fixture) handlers() command.Handlers {
	counted := func(h command.Handler) command.Handler {
		return func(ctx context.Context, cmd api.Command) (json.RawMessage, error) {
			v, _ := f.calls.LoadOrStore(cmd.ID, &atomic.Int32{})
			v.(*atomic.Int32).Add(1)
			return h(ctx, cmd)
		}
	}
	return command.Handlers{
		"test.echo":  counted(func(_ context.Context, c api.Command) (json.RawMessage, error) { return c.Payload, nil }),
		"test.fail":  counted(func(context.Context, api.Command) (json.RawMessage, error) { return nil, errors.New("rotor jammed") }),
		"test.panic": counted(func(context.Context, api.Command) (json.RawMessage, error) { panic("nil map") }),
		"test.block": counted(func(ctx context.Context, _ api.Command) (json.RawMessage, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		}),
	}
}

type running struct {
	ex     *Executor
	store  *state.Commands
	cancel context.CancelFunc
	done   chan error
}

func (f *fixture) start(t *testing.T) *running {
	t.Helper()
	store, err := state.OpenCommands(f.dir)
	require.NoError(t, err)
	ex := New(Options{Handlers: f.handlers(), Store: store, Reporter: f.sat, Clock: f.clk,
		Rand: func() float64 { return 1 }, Workers: 2, DrainTimeout: 10 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{ex: ex, store: store, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- ex.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *running) stop(t *testing.T) {
	t.Helper()
	if r.cancel == nil {
		return
	}
	r.cancel()
	require.NoError(t, <-r.done)
	require.NoError(t, r.store.Close())
	r.cancel = nil
}

// deliver polls the fake backend and hands what it delivers to the executor.
func (f *fixture) deliver(t *testing.T, r *running) []api.Command {
	t.Helper()
	resp, _, err := f.sat.Poll(context.Background(), 0, time.Time{})
	require.NoError(t, err)
	require.NoError(t, r.ex.Submit(context.Background(), resp.Commands))
	return resp.Commands
}

func (f *fixture) waitStatus(t *testing.T, id string, want api.CommandStatus) fakebackend.CommandState {
	t.Helper()
	var st fakebackend.CommandState
	require.Eventually(t, func() bool {
		st = f.fb.Command(f.sat.ID, id)
		return st.Status == want
	}, 10*time.Second, time.Millisecond, "command %s never reached %s (is %s)", id, want, st.Status)
	return st
}

func TestLifecycleReportsResultAndCorrelation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := f.start(t)
	id := f.fb.Queue(f.sat.ID, "test.echo", api.PriorityNormal, map[string]int{"n": 7})
	f.deliver(t, r)
	st := f.waitStatus(t, id, api.CommandSucceeded)
	var seq []api.CommandStatus
	for _, u := range st.Updates {
		seq = append(seq, u.Status)
		assert.Equal(t, st.CorrelationID, u.CorrelationID)
	}
	assert.Equal(t, []api.CommandStatus{api.CommandAcknowledged, api.CommandRunning, api.CommandSucceeded}, seq)
	assert.JSONEq(t, `{"n":7}`, string(st.Updates[2].Result))
	assert.EqualValues(t, 1, r.ex.Finished(api.CommandSucceeded))
}

func TestFailuresUnknownTypesAndPanics(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := f.start(t)
	tests := []struct{ typ, want string }{
		{"test.fail", "rotor jammed"},
		{"no.such.type", `unknown command type "no.such.type"`},
		{"test.panic", "handler panicked: nil map"},
	}
	ids := map[string]string{}
	for _, tc := range tests {
		ids[tc.typ] = f.fb.Queue(f.sat.ID, tc.typ, api.PriorityHigh, nil)
	}
	f.deliver(t, r)
	for _, tc := range tests {
		st := f.waitStatus(t, ids[tc.typ], api.CommandFailed)
		assert.Contains(t, st.Updates[len(st.Updates)-1].Error, tc.want)
	}
	// The runner survived the panic and still runs commands.
	id := f.fb.Queue(f.sat.ID, "test.echo", api.PriorityHigh, nil)
	f.deliver(t, r)
	f.waitStatus(t, id, api.CommandSucceeded)
}

func TestSecondDeliveryRunsOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := f.start(t)
	id := f.fb.Queue(f.sat.ID, "test.echo", api.PriorityNormal, nil)
	cmds := f.deliver(t, r)
	f.waitStatus(t, id, api.CommandSucceeded)

	// The same command again (lease expiry, a backend replay) and after a restart.
	require.NoError(t, r.ex.Submit(context.Background(), cmds))
	r.stop(t)
	r = f.start(t)
	f.fb.Redeliver(f.sat.ID, id)
	f.deliver(t, r)
	require.Eventually(t, func() bool { return f.fb.Command(f.sat.ID, id).Status == api.CommandSucceeded }, 10*time.Second, time.Millisecond)
	r.stop(t)
	assert.EqualValues(t, 1, f.count(id))
}

func TestInterruptedCommandIsFailedNotRerun(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := f.fb.Queue(f.sat.ID, "test.echo", api.PriorityNormal, nil)
	resp, _, err := f.sat.Poll(context.Background(), 0, time.Time{})
	require.NoError(t, err)
	// A runner accepted it and died before finishing (the record is all that is left).
	store, err := state.OpenCommands(f.dir)
	require.NoError(t, err)
	_, created, err := store.Accept(resp.Commands[0], t0)
	require.NoError(t, err)
	require.True(t, created)
	require.NoError(t, store.Close())

	r := f.start(t)
	st := f.waitStatus(t, id, api.CommandFailed)
	assert.Equal(t, InterruptedError, st.Updates[len(st.Updates)-1].Error)
	// Delivered again: still not run.
	f.fb.Redeliver(f.sat.ID, id)
	f.deliver(t, r)
	r.stop(t)
	assert.Zero(t, f.count(id))
}

func TestStatusUpdatesAreRetriedWithBackoff(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := f.start(t)
	id := f.fb.Queue(f.sat.ID, "test.echo", api.PriorityNormal, nil)
	require.Len(t, f.deliver(t, r), 1)
	f.waitStatus(t, id, api.CommandSucceeded)

	id2 := f.fb.Queue(f.sat.ID, "test.echo", api.PriorityNormal, nil)
	resp, _, err := f.sat.Poll(context.Background(), 0, time.Time{})
	require.NoError(t, err)
	base := f.fb.Requests("status")
	f.fb.SetDown(true)
	require.NoError(t, r.ex.Submit(context.Background(), resp.Commands))
	ctx := context.Background()
	for i := 1; i <= 4; i++ { // four failed acknowledgements, each followed by a backoff wait
		require.NoError(t, f.clk.BlockUntil(ctx, 1))
		require.Equal(t, base+i, f.fb.Requests("status"))
		if i == 4 {
			f.fb.SetDown(false)
		}
		f.clk.AdvanceToNext()
	}
	f.waitStatus(t, id2, api.CommandSucceeded)
	assert.Equal(t, t0.Add((1+2+4+8)*time.Second), f.clk.Now())
}

func TestRefusedAcknowledgementDoesNotRun(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := f.start(t)
	id := f.fb.Queue(f.sat.ID, "test.echo", api.PriorityNormal, nil)
	resp, _, err := f.sat.Poll(context.Background(), 0, time.Time{})
	require.NoError(t, err)
	f.fb.Cancel(f.sat.ID, id)
	require.NoError(t, r.ex.Submit(context.Background(), resp.Commands))
	require.Eventually(t, func() bool { return r.ex.Finished(api.CommandFailed) == 1 }, 10*time.Second, time.Millisecond)
	r.stop(t)
	assert.Zero(t, f.count(id))
	assert.Equal(t, api.CommandCancelled, f.fb.Command(f.sat.ID, id).Status)
	store, err := state.OpenCommands(f.dir)
	require.NoError(t, err)
	defer func() { _ = store.Close() }()
	un, err := store.Unreported()
	require.NoError(t, err)
	assert.Empty(t, un)
}

func TestShutdownDrainsThenCancels(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := f.start(t)
	id := f.fb.Queue(f.sat.ID, "test.block", api.PriorityNormal, nil)
	f.deliver(t, r)
	f.waitStatus(t, id, api.CommandRunning)
	r.cancel()
	require.NoError(t, f.clk.BlockUntil(context.Background(), 1)) // the drain timer
	select {
	case err := <-r.done:
		t.Fatalf("Run returned (%v) before the drain timeout while a command was running", err)
	default:
	}
	f.clk.Advance(10 * time.Second)
	require.NoError(t, <-r.done)
	r.cancel = nil
	require.NoError(t, r.store.Close())

	// The outcome could not be reported (work was cancelled); the next start reports it.
	f.start(t)
	st := f.waitStatus(t, id, api.CommandFailed)
	assert.Contains(t, st.Updates[len(st.Updates)-1].Error, "context canceled")
	assert.EqualValues(t, 1, f.count(id))
}

func TestRegisterRejectsDuplicates(t *testing.T) {
	t.Parallel()
	ex := New(Options{Handlers: command.Handlers{"a": nil}})
	err := ex.Register(command.Handlers{"a": nil, "b": nil})
	require.ErrorContains(t, err, "[a]")
	assert.Equal(t, []string{"a", "b"}, ex.Types())
}

// A runner restarted while the backend is down, with an outcome the previous run could not
// report, must still shut down when asked: recovery gives up with ctx and leaves the record
// for the next start, which reports it.
func TestShutdownDuringRecoveryWithBackendDown(t *testing.T) {
	t.Parallel()
	for _, finished := range []bool{true, false} {
		t.Run(map[bool]string{true: "outcome not reported", false: "interrupted command"}[finished], func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			id := f.fb.Queue(f.sat.ID, "test.echo", api.PriorityNormal, nil)
			resp, _, err := f.sat.Poll(context.Background(), 0, time.Time{})
			require.NoError(t, err)
			store, err := state.OpenCommands(f.dir)
			require.NoError(t, err)
			_, _, err = store.Accept(resp.Commands[0], t0)
			require.NoError(t, err)
			if finished {
				_, err = store.Finish(id, api.CommandStatusUpdate{Status: api.CommandSucceeded, Result: json.RawMessage(`{"ok":true}`)}, t0)
				require.NoError(t, err)
			}
			require.NoError(t, store.Close())

			f.fb.SetDown(true)
			base := f.fb.Requests("status")
			r := f.start(t)
			require.NoError(t, f.clk.BlockUntil(context.Background(), 1)) // a retry wait of recovery
			require.Greater(t, f.fb.Requests("status"), base, "recovery tried to report")
			r.cancel()
			select {
			case err := <-r.done:
				require.NoError(t, err)
			case <-time.After(10 * time.Second):
				r.cancel = nil // the cleanup would wait for Run forever
				t.Fatal("Run did not return after cancel while recovery waited for the backend")
			}
			r.cancel = nil
			require.NoError(t, r.store.Close())

			f.fb.SetDown(false)
			f.start(t)
			want := api.CommandSucceeded
			if !finished {
				want = api.CommandFailed
			}
			f.waitStatus(t, id, want)
			assert.Zero(t, f.count(id), "never run")
		})
	}
}
