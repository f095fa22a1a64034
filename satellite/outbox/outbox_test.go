package outbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/client"
	"github.com/talos-gs/talos/satellite/events"
	"github.com/talos-gs/talos/satellite/internal/backoff"
	"github.com/talos-gs/talos/satellite/internal/clock"
	"github.com/talos-gs/talos/satellite/internal/fakebackend"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

type fixture struct {
	fb  *fakebackend.Backend
	sat client.Satellite
	dir string
	clk *clock.Fake
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

func (f *fixture) open(t *testing.T, l Limits) *Outbox {
	t.Helper()
	o, err := Open(Options{Dir: f.dir, Limits: l, Sender: f.sat, Clock: f.clk,
		Backoff: backoff.New(func() float64 { return 1 })})
	require.NoError(t, err)
	return o
}

func ev(i int, sev api.Severity) api.Event {
	return events.New(t0, "test.event", sev, fmt.Sprintf("event %d", i), map[string]int{"i": i})
}

func TestFlushDeliversInOrderAndEmpties(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	o := f.open(t, Limits{BatchSize: 7})
	t.Cleanup(func() { _ = o.Close() })
	var ids []string
	for i := range 30 {
		e := ev(i, api.SeverityInfo)
		ids = append(ids, e.ID)
		o.Emit(e)
	}
	assert.Equal(t, 30, o.Depth())
	require.NoError(t, o.Flush(context.Background()))
	assert.Zero(t, o.Depth())
	assert.Zero(t, o.Bytes())
	got := f.fb.Events(f.sat.ID)
	require.Len(t, got, 30)
	for i, e := range got {
		assert.Equal(t, ids[i], e.ID)
	}
	assert.Equal(t, 5, f.fb.Requests("events"))
	assert.EqualValues(t, 30, o.Sent())
}

func TestQueueSurvivesReopen(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	o := f.open(t, Limits{})
	for i := range 10 {
		o.Emit(ev(i, api.SeverityWarning))
	}
	require.NoError(t, o.Close())
	o = f.open(t, Limits{})
	t.Cleanup(func() { _ = o.Close() })
	assert.Equal(t, 10, o.Depth())
	o.Emit(ev(10, api.SeverityInfo))
	require.NoError(t, o.Flush(context.Background()))
	got := f.fb.Events(f.sat.ID)
	require.Len(t, got, 11)
	assert.Equal(t, "event 0", got[0].Message)
	assert.Equal(t, "event 10", got[10].Message)
}

func TestFullQueueDropsOldestLowSeverityFirst(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	o := f.open(t, Limits{MaxEvents: 4})
	t.Cleanup(func() { _ = o.Close() })
	o.Emit(ev(0, api.SeverityError))
	o.Emit(ev(1, api.SeverityInfo))
	o.Emit(ev(2, api.SeverityWarning))
	o.Emit(ev(3, api.SeverityDebug))
	o.Emit(ev(4, api.SeverityError)) // evicts 1 (oldest debug/info)
	o.Emit(ev(5, api.SeverityError)) // evicts 3
	o.Emit(ev(6, api.SeverityError)) // evicts 2 (the only warning)
	o.Emit(ev(7, api.SeverityInfo))  // everything left is an error: the info itself goes
	o.Emit(ev(8, api.SeverityCritical))
	assert.Equal(t, 4, o.Depth())
	assert.EqualValues(t, 5, o.Dropped())
	require.NoError(t, o.Flush(context.Background()))
	var msgs []string
	for _, e := range f.fb.Events(f.sat.ID) {
		msgs = append(msgs, e.Message)
	}
	assert.Equal(t, []string{"event 4", "event 5", "event 6", "event 8"}, msgs)

	require.NoError(t, o.Close())
	o = f.open(t, Limits{MaxEvents: 4})
	assert.EqualValues(t, 5, o.Dropped(), "the drop counter is persisted")
}

func TestByteLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	o := f.open(t, Limits{MaxBytes: 1000})
	t.Cleanup(func() { _ = o.Close() })
	for i := range 50 {
		o.Emit(ev(i, api.SeverityInfo))
	}
	assert.LessOrEqual(t, o.Bytes(), int64(1000))
	assert.Positive(t, o.Dropped())
	assert.Equal(t, int64(50), int64(o.Depth())+o.Dropped())

	huge := ev(99, api.SeverityError)
	huge.CorrelationID = string(make([]byte, MaxEventBytes)) // Emit cuts messages and data, not this
	before := o.Dropped()
	o.Emit(huge)
	assert.Equal(t, before+1, o.Dropped())
}

func TestRejectedEventsAreQuarantinedAndCounted(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	o := f.open(t, Limits{})
	o.Emit(ev(0, api.SeverityInfo))
	bad := ev(1, api.SeverityInfo)
	bad.Type = "" // the backend refuses an event without a type (in rejected[])
	o.Emit(bad)
	require.NoError(t, o.Flush(context.Background()))
	assert.Zero(t, o.Depth())
	assert.EqualValues(t, 1, o.Rejected())
	assert.EqualValues(t, 1, o.Quarantined())
	assert.EqualValues(t, 1, o.QuarantinedTotal())
	assert.Len(t, f.fb.Events(f.sat.ID), 1)
	require.NoError(t, o.Close())
	fig, err := Inspect(f.dir)
	require.NoError(t, err)
	assert.EqualValues(t, 1, fig.Quarantined, "kept on disk")
	assert.Equal(t, []string{bad.ID}, quarantinedIDs(t, f.dir))
}

func TestBackendDownKeepsEventsThenDeliversOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	o := f.open(t, Limits{BatchSize: 10})
	t.Cleanup(func() { _ = o.Close() })
	f.fb.SetDown(true)
	for i := range 25 {
		o.Emit(ev(i, api.SeverityInfo))
	}
	require.Error(t, o.Flush(context.Background()))
	assert.Equal(t, 25, o.Depth())
	f.fb.SetDown(false)
	require.NoError(t, o.Flush(context.Background()))
	require.NoError(t, o.Flush(context.Background()))
	assert.Len(t, f.fb.Events(f.sat.ID), 25)
	assert.Zero(t, f.fb.Duplicates(f.sat.ID))
}

// lossySender forwards to the backend but loses the first answer, as a cut connection would:
// the outbox must resend, and the backend must count the resend as duplicates.
type lossySender struct {
	next Sender
	once sync.Once
}

func (l *lossySender) SendEvents(ctx context.Context, b api.EventBatch) (api.EventBatchResponse, error) {
	resp, err := l.next.SendEvents(ctx, b)
	lost := false
	l.once.Do(func() { lost = true })
	if lost {
		return api.EventBatchResponse{}, &client.TransportError{Err: errors.New("connection reset")}
	}
	return resp, err
}

func TestLostAnswerResendsWithoutDoubling(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	o, err := Open(Options{Dir: f.dir, Sender: &lossySender{next: f.sat}, Clock: f.clk})
	require.NoError(t, err)
	t.Cleanup(func() { _ = o.Close() })
	for i := range 5 {
		o.Emit(ev(i, api.SeverityInfo))
	}
	require.Error(t, o.Flush(context.Background()))
	require.NoError(t, o.Flush(context.Background()))
	assert.Len(t, f.fb.Events(f.sat.ID), 5)
	assert.Equal(t, 5, f.fb.Duplicates(f.sat.ID))
	assert.Zero(t, o.Depth())
}

type fixedSender api.EventBatchResponse

func (s fixedSender) SendEvents(context.Context, api.EventBatch) (api.EventBatchResponse, error) {
	return api.EventBatchResponse(s), nil
}

func TestMismatchedAnswerKeepsEvents(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	o, err := Open(Options{Dir: dir, Sender: fixedSender{Accepted: 1}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = o.Close() })
	o.Emit(ev(0, api.SeverityInfo))
	o.Emit(ev(1, api.SeverityInfo))
	require.ErrorIs(t, o.Flush(context.Background()), errMismatch)
	assert.Equal(t, 2, o.Depth())
}

func TestRunFlushesOnIntervalOnFullBatchAndAtShutdown(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	o := f.open(t, Limits{BatchSize: 5, FlushInterval: 3 * time.Second})
	t.Cleanup(func() { _ = o.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()

	require.NoError(t, f.clk.BlockUntil(ctx, 1))
	o.Emit(ev(0, api.SeverityInfo))
	f.clk.Advance(3 * time.Second) // the interval
	waitFor(t, func() bool { return len(f.fb.Events(f.sat.ID)) == 1 })

	for i := 1; i <= 5; i++ { // a full batch: sent without advancing the clock
		o.Emit(ev(i, api.SeverityInfo))
	}
	waitFor(t, func() bool { return len(f.fb.Events(f.sat.ID)) == 6 })

	require.NoError(t, f.clk.BlockUntil(ctx, 1))
	o.Emit(ev(6, api.SeverityInfo))
	cancel() // final flush sends the last one
	require.NoError(t, <-done)
	assert.Len(t, f.fb.Events(f.sat.ID), 7)
}

func TestRunBacksOffAndStopsOn401(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	o := f.open(t, Limits{FlushInterval: time.Second})
	t.Cleanup(func() { _ = o.Close() })
	f.fb.SetDown(true)
	o.Emit(ev(0, api.SeverityInfo))
	ctx := context.Background()
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()
	for want := 1; want <= 4; want++ {
		require.NoError(t, f.clk.BlockUntil(ctx, 1))
		f.clk.AdvanceToNext()
		waitFor(t, func() bool { return f.fb.Requests("events") >= want })
	}
	// backoff with rand=1: 1 s, 2 s, 4 s ... after the first 1 s interval
	assert.Equal(t, t0.Add((1+1+2+4)*time.Second), f.clk.Now())
	f.fb.SetDown(false)
	f.fb.RevokeKeys()
	require.NoError(t, f.clk.BlockUntil(ctx, 1))
	f.clk.AdvanceToNext()
	err := <-done
	require.ErrorIs(t, err, client.ErrUnauthorized)
	assert.Equal(t, 1, o.Depth())
}

func TestCorruptFileIsAClearError(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "outbox.db")
	require.NoError(t, os.WriteFile(path, make([]byte, 8192), 0o600))
	_, err := Open(Options{Dir: dir})
	require.Error(t, err)
	assert.Contains(t, err.Error(), path)
}

func TestConcurrentEmitters(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	o := f.open(t, Limits{BatchSize: 100})
	t.Cleanup(func() { _ = o.Close() })
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				o.Emit(ev(g*1000+i, api.SeverityInfo))
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, 400, o.Depth())
	require.NoError(t, o.Flush(context.Background()))
	assert.Len(t, f.fb.Events(f.sat.ID), 400)
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, 10*time.Second, time.Millisecond)
}

func BenchmarkEmit(b *testing.B) {
	o, err := Open(Options{Dir: b.TempDir(), Sender: fixedSender{}})
	require.NoError(b, err)
	defer func() { _ = o.Close() }()
	e := ev(0, api.SeverityInfo)
	b.ResetTimer()
	for b.Loop() {
		o.Emit(e)
	}
}

func BenchmarkEmitParallel(b *testing.B) {
	o, err := Open(Options{Dir: b.TempDir(), Sender: fixedSender{}})
	require.NoError(b, err)
	defer func() { _ = o.Close() }()
	e := ev(0, api.SeverityInfo)
	b.SetParallelism(8) // many parts emitting at once: their events share commits
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			o.Emit(e)
		}
	})
}

func TestInspectReadsTotalsOffline(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	fig, err := Inspect(f.dir)
	require.NoError(t, err)
	assert.Zero(t, fig.Depth)
	o := f.open(t, Limits{})
	for i := range 7 {
		o.Emit(ev(i, api.SeverityInfo))
	}
	require.NoError(t, o.Close())
	fig, err = Inspect(f.dir)
	require.NoError(t, err)
	assert.Equal(t, 7, fig.Depth)
	assert.Positive(t, fig.Bytes)
}

func FuzzDecodeRecord(f *testing.F) {
	good, _ := encodeRecord(ev(1, api.SeverityError))
	f.Add(good)
	f.Add([]byte{0})
	f.Add([]byte{7, '{', '}'})
	f.Fuzz(func(t *testing.T, raw []byte) {
		e, err := decodeRecord(raw)
		if err != nil {
			return
		}
		again, err := encodeRecord(e)
		require.NoError(t, err)
		_, err = decodeRecord(again)
		require.NoError(t, err)
	})
}
