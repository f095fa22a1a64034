package schedule

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/internal/clock"
	"github.com/talos-gs/talos/satellite/rotator"
	"github.com/talos-gs/talos/satellite/tracker"
)

const (
	issLine1 = "1 25544U 98067A   08264.51782528 -.00002182  00000-0 -11606-4 0  2927"
	issLine2 = "2 25544  51.6416 247.4627 0006703 130.5360 325.0288 15.72125391563537"
)

var tca = time.Date(2026, 6, 26, 12, 0, 0, 0, time.UTC)

// passes are the synthetic geometries behind the test observations, by observation id; a
// later TCA per id keeps the windows apart.
var passes = map[string]tracker.SyntheticPass{
	"obs-a": {TCA: tca, AltitudeKm: 500, HeadingDeg: 90, OffsetDeg: 8},
	"obs-b": {TCA: tca.Add(2 * time.Hour), AltitudeKm: 500, HeadingDeg: 90, OffsetDeg: -8},
	"obs-c": {TCA: tca.Add(3 * time.Minute), AltitudeKm: 500, HeadingDeg: 0, OffsetDeg: 5},
}

func syntheticTargets(p api.ObservationSchedulePayload) (tracker.Target, error) {
	sp, ok := passes[p.ObservationID]
	if !ok {
		return nil, &api.ObservationFieldError{Field: "element_set", Message: "no synthetic pass"}
	}
	return sp, nil
}

func payloadFor(t *testing.T, id string) api.ObservationSchedulePayload {
	t.Helper()
	aos, los, ok := passes[id].Window(0)
	require.True(t, ok)
	return api.ObservationSchedulePayload{ObservationID: id, NoradID: 25544,
		ElementSet: api.ObservationElementSet{Line1: issLine1, Line2: issLine2},
		AOS:        aos.Truncate(time.Second), LOS: los.Truncate(time.Second),
		Transmitter: api.ObservationTransmitter{DownlinkHz: 145.8e6}}
}

type recRotator struct {
	rotator.Rotator
	clk clock.Clock

	mu     sync.Mutex
	sets   []time.Time
	parked int
	// down, when set, says the rotator does not answer at that time.
	down func(time.Time) bool
}

var errNoAnswer = errors.New("rotator: no answer")

func (r *recRotator) isDown() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.down != nil && r.down(r.clk.Now())
}

func (r *recRotator) SetPosition(ctx context.Context, az, el float64) error {
	r.mu.Lock()
	r.sets = append(r.sets, r.clk.Now())
	r.mu.Unlock()
	if r.isDown() {
		return errNoAnswer
	}
	return r.Rotator.SetPosition(ctx, az, el)
}

func (r *recRotator) Position(ctx context.Context) (float64, float64, error) {
	if r.isDown() {
		return 0, 0, errNoAnswer
	}
	return r.Rotator.Position(ctx)
}

func (r *recRotator) Park(ctx context.Context) error {
	r.mu.Lock()
	r.parked++
	r.mu.Unlock()
	return r.Rotator.Park(ctx)
}

func (r *recRotator) firstSet() (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.sets) == 0 {
		return time.Time{}, false
	}
	return r.sets[0], true
}

type evLog struct {
	mu  sync.Mutex
	evs []api.Event
}

func (l *evLog) Emit(ev api.Event) { l.mu.Lock(); l.evs = append(l.evs, ev); l.mu.Unlock() }

func (l *evLog) find(typ string) (api.Event, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.evs {
		if e.Type == typ {
			return e, true
		}
	}
	return api.Event{}, false
}

func (l *evLog) types() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.evs {
		out = append(out, e.Type)
	}
	return out
}

type fakeProcs struct {
	mu       sync.Mutex
	started  []string
	decoders []Decoder
	stopped  []string
	startErr error
	checkErr error
}

func (f *fakeProcs) Check(api.ProcessStartPayload) error { return f.checkErr }

func (f *fakeProcs) Start(_ context.Context, d Decoder) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started = append(f.started, d.Process.Name)
	f.decoders = append(f.decoders, d)
	return f.startErr
}

func (f *fakeProcs) Stop(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = append(f.stopped, name)
	return nil
}

type fixture struct {
	dir   string
	clk   *clock.Fake
	rot   *recRotator
	ev    *evLog
	procs *fakeProcs
	s     *Scheduler
}

func newFixture(t testing.TB, dir string, now time.Time) *fixture {
	t.Helper()
	fx := &fixture{dir: dir, clk: clock.NewFake(now), ev: &evLog{}, procs: &fakeProcs{}}
	sim, err := rotator.NewSimRotator(rotator.SimRotatorConfig{Limits: rotator.Limits{MaxAz: 450, MaxEl: 90}, AzRateDegPerS: 10, ElRateDegPerS: 10, Clock: fx.clk})
	require.NoError(t, err)
	fx.rot = &recRotator{Rotator: sim, clk: fx.clk}
	tr, err := tracker.New(tracker.Options{Rotator: fx.rot, Clock: fx.clk, Emitter: fx.ev})
	require.NoError(t, err)
	fx.s, err = New(Options{StateDir: dir, Tracker: tr, Rotator: fx.rot, Targets: syntheticTargets,
		Processes: fx.procs, Clock: fx.clk, Emitter: fx.ev, PrepareLead: time.Minute})
	require.NoError(t, err)
	t.Cleanup(func() { _ = fx.s.Close() })
	return fx
}

// runUntil runs the scheduler, advancing the fake clock timer by timer, until cond holds;
// then it stops the runner as a shutdown would.
func (fx *fixture) runUntil(t *testing.T, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fx.s.Run(ctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		require.True(t, time.Now().Before(deadline), "condition not reached; events %v", fx.ev.types())
		wctx, wcancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		if fx.clk.BlockUntil(wctx, 1) == nil {
			fx.clk.AdvanceToNext()
		}
		wcancel()
	}
	cancel()
	require.NoError(t, <-done)
}

func (fx *fixture) has(typ string) func() bool {
	return func() bool { _, ok := fx.ev.find(typ); return ok }
}

// TestSlowRotatorPreparesEarlier: a 1°/s rotator needs 450 s to cross its 0–450° range, more
// than the one-minute prepare lead, so the observation starts that much (plus 10 s) before
// AOS and the rotator is at the rise point by AOS.
func TestSlowRotatorPreparesEarlier(t *testing.T) {
	t.Parallel()
	p := payloadFor(t, "obs-a")
	fx := &fixture{dir: t.TempDir(), clk: clock.NewFake(p.AOS.Add(-20 * time.Minute)), ev: &evLog{}, procs: &fakeProcs{}}
	sim, err := rotator.NewSimRotator(rotator.SimRotatorConfig{Limits: rotator.Limits{MaxAz: 450, MaxEl: 90},
		AzRateDegPerS: 1, ElRateDegPerS: 1, ParkAz: 450, ParkEl: 90, Clock: fx.clk})
	require.NoError(t, err)
	fx.rot = &recRotator{Rotator: sim, clk: fx.clk}
	tr, err := tracker.New(tracker.Options{Rotator: fx.rot, Clock: fx.clk, Emitter: fx.ev})
	require.NoError(t, err)
	fx.s, err = New(Options{StateDir: fx.dir, Tracker: tr, Rotator: fx.rot, Targets: syntheticTargets,
		Clock: fx.clk, Emitter: fx.ev, PrepareLead: time.Minute})
	require.NoError(t, err)
	t.Cleanup(func() { _ = fx.s.Close() })
	_, err = fx.s.Schedule(Record{Payload: p})
	require.NoError(t, err)
	fx.runUntil(t, fx.has(api.EventAOS))
	prep, _ := fx.ev.find(api.EventObservationPrepared)
	assert.Equal(t, p.AOS.Add(-460*time.Second), prep.Time, "prepared the rotator's longest move (plus 10 s) before AOS")
	rise, err := passes["obs-a"].Look(p.AOS)
	require.NoError(t, err)
	az, el, err := sim.Position(context.Background())
	require.NoError(t, err)
	assert.InDelta(t, 0, math.Remainder(az-rise.AzDeg, 360), 2, "at the rise azimuth by AOS")
	assert.InDelta(t, 0, el, 2, "at the horizon by AOS")
}

func TestObservationRunsAtItsTimeAndReports(t *testing.T) {
	t.Parallel()
	p := payloadFor(t, "obs-a")
	fx := newFixture(t, t.TempDir(), p.AOS.Add(-10*time.Minute))
	p.Process = &api.ProcessStartPayload{Name: "decoder", TeamID: "team", Program: "true"}
	_, err := fx.s.Schedule(Record{Payload: p, CommandID: "cmd-1", CorrelationID: "corr-1"})
	require.NoError(t, err)
	fx.runUntil(t, fx.has(api.EventObservationCompleted))

	assert.Equal(t, []Decoder{{ObservationID: "obs-a", CommandID: "cmd-1", CorrelationID: "corr-1", Process: *p.Process}},
		fx.procs.decoders, "the decoder is started with the observation's ids")
	assert.Equal(t, []string{api.EventObservationPrepared, api.EventAOS, api.EventLOS, api.EventObservationCompleted}, fx.ev.types())
	prep, _ := fx.ev.find(api.EventObservationPrepared)
	assert.Equal(t, p.AOS.Add(-time.Minute), prep.Time, "prepared one lead before AOS")
	assert.Equal(t, "cmd-1", prep.CommandID)
	done, _ := fx.ev.find(api.EventObservationCompleted)
	var sum map[string]any
	require.NoError(t, json.Unmarshal(done.Data, &sum))
	for _, k := range []string{"max_pointing_error_deg", "mean_pointing_error_deg", "overruns", "retunes", "moves"} {
		assert.Contains(t, sum, k)
	}
	assert.Less(t, sum["max_pointing_error_deg"].(float64), 10.0)
	assert.Equal(t, []string{"decoder"}, fx.procs.started)
	assert.Equal(t, []string{"decoder"}, fx.procs.stopped)
	assert.Equal(t, 1, fx.rot.parked)
	left, err := fx.s.Observations()
	require.NoError(t, err)
	assert.Empty(t, left, "a finished observation is forgotten")
}

func TestOverlapIsRefusedNamingTheOther(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, t.TempDir(), tca.Add(-time.Hour))
	_, err := fx.s.Schedule(Record{Payload: payloadFor(t, "obs-a")})
	require.NoError(t, err)
	_, err = fx.s.Schedule(Record{Payload: payloadFor(t, "obs-c")})
	require.ErrorIs(t, err, ErrOverlap)
	assert.Contains(t, err.Error(), "obs-a")
	res, err := fx.s.Schedule(Record{Payload: payloadFor(t, "obs-b")})
	require.NoError(t, err)
	assert.False(t, res.Replaced)
	res, err = fx.s.Schedule(Record{Payload: payloadFor(t, "obs-a")})
	require.NoError(t, err)
	assert.True(t, res.Replaced, "the same id replaces, it does not overlap itself")
	all, err := fx.s.Observations()
	require.NoError(t, err)
	require.Len(t, all, 2)
	assert.Equal(t, "obs-a", all[0].ID())
}

func TestScheduleRefusesBadObservations(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, t.TempDir(), tca.Add(time.Hour))
	var fe *api.ObservationFieldError
	_, err := fx.s.Schedule(Record{Payload: payloadFor(t, "obs-a")})
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "los", fe.Field, "the window has passed")
	p := payloadFor(t, "obs-b")
	p.ObservationID = "unknown"
	_, err = fx.s.Schedule(Record{Payload: p})
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "element_set", fe.Field)
}

func TestCancel(t *testing.T) {
	t.Parallel()
	t.Run("stored", func(t *testing.T) {
		t.Parallel()
		fx := newFixture(t, t.TempDir(), tca.Add(-time.Hour))
		_, err := fx.s.Schedule(Record{Payload: payloadFor(t, "obs-a")})
		require.NoError(t, err)
		res, err := fx.s.Cancel(context.Background(), "obs-a")
		require.NoError(t, err)
		assert.False(t, res.WasRunning)
		all, err := fx.s.Observations()
		require.NoError(t, err)
		assert.Empty(t, all)
		_, err = fx.s.Cancel(context.Background(), "obs-a")
		require.ErrorIs(t, err, errNotFound)
	})
	t.Run("running", func(t *testing.T) {
		t.Parallel()
		p := payloadFor(t, "obs-a")
		fx := newFixture(t, t.TempDir(), p.AOS.Add(time.Minute))
		_, err := fx.s.Schedule(Record{Payload: p})
		require.NoError(t, err)
		var res api.ObservationCancelResult
		cancelled := false
		fx.runUntil(t, func() bool {
			if _, ok := fx.ev.find(api.EventAOS); ok && !cancelled {
				cancelled = true
				res, err = fx.s.Cancel(context.Background(), "obs-a")
			}
			return fx.has(api.EventObservationFailed)()
		})
		require.NoError(t, err)
		assert.True(t, res.WasRunning)
		failed, _ := fx.ev.find(api.EventObservationFailed)
		assert.Contains(t, string(failed.Data), "cancelled")
		assert.Equal(t, api.SeverityInfo, failed.Severity)
		assert.Equal(t, 1, fx.rot.parked, "a cancelled pass parks")
		all, err := fx.s.Observations()
		require.NoError(t, err)
		assert.Empty(t, all)
	})
}

func TestRestartMidPassResumesAtOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := payloadFor(t, "obs-a")
	first := newFixture(t, dir, p.AOS.Add(-2*time.Minute))
	_, err := first.s.Schedule(Record{Payload: p})
	require.NoError(t, err)
	// Run into the pass, then stop as a crash would: the runner disappears mid-pass.
	first.runUntil(t, first.has(api.EventAOS))
	require.NoError(t, first.s.Close())
	recs := storedRecords(t, dir)
	require.Len(t, recs, 1)
	assert.Equal(t, Running, recs[0].State)

	mid := p.AOS.Add(p.LOS.Sub(p.AOS) / 2)
	second := newFixture(t, dir, mid)
	second.runUntil(t, func() bool { _, ok := second.rot.firstSet(); return ok })
	at, _ := second.rot.firstSet()
	assert.True(t, at.Equal(mid), "the resumed pass commanded the rotator at %s, %s after start", at, at.Sub(mid))
	prep, ok := second.ev.find(api.EventObservationPrepared)
	require.True(t, ok)
	assert.Contains(t, string(prep.Data), `"resumed":true`)
}

func TestMissedWindowIsReported(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := payloadFor(t, "obs-a")
	fx := newFixture(t, dir, p.AOS.Add(-time.Hour))
	_, err := fx.s.Schedule(Record{Payload: p})
	require.NoError(t, err)
	require.NoError(t, fx.s.Close())
	later := newFixture(t, dir, p.LOS.Add(time.Minute))
	later.runUntil(t, later.has(api.EventObservationFailed))
	failed, _ := later.ev.find(api.EventObservationFailed)
	assert.Contains(t, failed.Message, "missed")
	assert.Empty(t, storedRecordsOpen(t, later.s))
}

func storedRecords(t *testing.T, dir string) []Record {
	t.Helper()
	st, err := OpenStore(dir)
	require.NoError(t, err)
	defer func() { _ = st.Close() }()
	recs, err := st.All()
	require.NoError(t, err)
	return recs
}

func storedRecordsOpen(t *testing.T, s *Scheduler) []Record {
	t.Helper()
	recs, err := s.Observations()
	require.NoError(t, err)
	return recs
}

func TestCorruptStoreIsAClearError(t *testing.T) {
	t.Parallel()
	t.Run("garbage file", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		path := filepath.Join(dir, StoreFile)
		require.NoError(t, os.WriteFile(path, []byte("this is not a bbolt file, it is garbage left by a bad disk"), 0o600))
		_, err := OpenStore(dir)
		require.Error(t, err)
		assert.Contains(t, err.Error(), path)
		assert.Contains(t, err.Error(), "move the file aside")
	})
	t.Run("bad record", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		st, err := OpenStore(dir)
		require.NoError(t, err)
		require.NoError(t, st.db.Update(func(tx *bolt.Tx) error {
			return tx.Bucket(bucket).Put([]byte("obs-x"), []byte(`{"payload": {"observation_id": 7`))
		}))
		require.NoError(t, st.Close())
		fx := &fixture{clk: clock.NewFake(tca)}
		sim, err := rotator.NewSimRotator(rotator.SimRotatorConfig{Clock: fx.clk})
		require.NoError(t, err)
		tr, err := tracker.New(tracker.Options{Rotator: sim, Clock: fx.clk})
		require.NoError(t, err)
		_, err = New(Options{StateDir: dir, Tracker: tr, Rotator: sim, Targets: syntheticTargets, Emitter: &evLog{}, Clock: fx.clk})
		require.Error(t, err)
		assert.Contains(t, err.Error(), filepath.Join(dir, StoreFile))
		assert.Contains(t, err.Error(), `"obs-x"`)
		assert.Contains(t, err.Error(), "scheduled again")
	})
}

func TestHandlers(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, t.TempDir(), tca.Add(-time.Hour))
	h := fx.s.Handlers()
	require.Len(t, h, 3)
	ctx := context.Background()
	raw, err := json.Marshal(payloadFor(t, "obs-a"))
	require.NoError(t, err)
	out, err := h[api.CommandObservationSchedule](ctx, api.Command{ID: "c1", Type: api.CommandObservationSchedule, Payload: raw})
	require.NoError(t, err)
	assert.JSONEq(t, `{"observation_id":"obs-a","replaced":false}`, string(out))

	tests := []struct {
		name, typ, payload, want string
	}{
		{"missing payload", api.CommandObservationSchedule, ``, "payload is missing"},
		{"unknown field", api.CommandObservationSchedule, `{"observation_id":"x","colour":"red"}`, "unknown field"},
		{"invalid field", api.CommandObservationSchedule, `{"observation_id":"x y"}`, "invalid observation_id"},
		{"cancel unknown", api.CommandObservationCancel, `{"observation_id":"nope"}`, "not scheduled"},
		{"cancel bad id", api.CommandObservationCancel, `{"observation_id":""}`, "invalid observation_id"},
	}
	for _, tc := range tests {
		_, err := h[tc.typ](ctx, api.Command{Type: tc.typ, Payload: json.RawMessage(tc.payload)})
		require.ErrorContains(t, err, tc.want, tc.name)
	}
	out, err = h[api.CommandObservationCancel](ctx, api.Command{Type: api.CommandObservationCancel, Payload: json.RawMessage(`{"observation_id":"obs-a"}`)})
	require.NoError(t, err)
	assert.JSONEq(t, `{"observation_id":"obs-a","was_running":false}`, string(out))
	_, err = h[api.CommandRotatorPark](ctx, api.Command{Type: api.CommandRotatorPark})
	require.NoError(t, err)
	assert.Equal(t, 1, fx.rot.parked)
}

func TestParkRefusedWhileRunning(t *testing.T) {
	t.Parallel()
	p := payloadFor(t, "obs-a")
	fx := newFixture(t, t.TempDir(), p.AOS)
	_, err := fx.s.Schedule(Record{Payload: p})
	require.NoError(t, err)
	var parkErr error
	fx.runUntil(t, func() bool {
		if _, ok := fx.ev.find(api.EventAOS); !ok {
			return false
		}
		_, parkErr = fx.s.Handlers()[api.CommandRotatorPark](context.Background(), api.Command{Type: api.CommandRotatorPark})
		return true
	})
	require.ErrorContains(t, parkErr, "obs-a is running")
}

func TestDecoderFailureStillTracks(t *testing.T) {
	t.Parallel()
	p := payloadFor(t, "obs-a")
	fx := newFixture(t, t.TempDir(), p.LOS.Add(-30*time.Second))
	fx.procs.startErr = errors.New("no such program")
	p.Process = &api.ProcessStartPayload{Name: "decoder", TeamID: "team", Program: "nope"}
	_, err := fx.s.Schedule(Record{Payload: p})
	require.NoError(t, err)
	fx.runUntil(t, fx.has(api.EventObservationCompleted))
	done, _ := fx.ev.find(api.EventObservationCompleted)
	assert.Contains(t, string(done.Data), `"process_error":"no such program"`)
	assert.Equal(t, api.SeverityWarning, done.Severity, "a pass without its decoder is a partial fault")
	assert.Equal(t, "observation completed with decoder did not start: no such program", done.Message)
}

// TestDecoderRefusedAtScheduling: a decoder the station's allow-list refuses makes the
// observation.schedule fail then, naming the process field, rather than at AOS.
func TestDecoderRefusedAtScheduling(t *testing.T) {
	t.Parallel()
	p := payloadFor(t, "obs-a")
	fx := newFixture(t, t.TempDir(), p.AOS.Add(-10*time.Minute))
	fx.procs.checkErr = errors.New(`program: "bash" is not allowed by this station's allow-list of programs (proc.programs)`)
	p.Process = &api.ProcessStartPayload{Name: "decoder", TeamID: "team", Program: "bash"}
	_, err := fx.s.Schedule(Record{Payload: p})
	var fe *api.ObservationFieldError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "process", fe.Field)
	assert.Contains(t, err.Error(), `program: "bash" is not allowed`)
	assert.Empty(t, fx.procs.decoders)
}
