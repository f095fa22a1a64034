package outbox

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/client"
	"github.com/talos-gs/talos/satellite/internal/backoff"
	"github.com/talos-gs/talos/satellite/internal/fakebackend"
)

// newLimitedFixture is newFixture against a fake backend refusing bodies over limit bytes.
func newLimitedFixture(t *testing.T, limit int64) *fixture {
	t.Helper()
	f := newFixture(t)
	fb := fakebackend.NewWithBodyLimit(limit)
	t.Cleanup(fb.Close)
	reg := fb.RegisterDirect("gs")
	c, err := client.New(client.Options{BaseURL: fb.URL(), APIKey: reg.APIKey, Timeout: 5 * time.Second})
	require.NoError(t, err)
	f.fb, f.sat = fb, client.Satellite{Client: c, ID: reg.SatelliteID}
	return f
}

// sentBatch is one call a recordingSender saw.
type sentBatch struct {
	events int
	bytes  int
	err    error
}

// recordingSender forwards to the backend and records the encoded size of every batch.
type recordingSender struct {
	next Sender
	mu   sync.Mutex
	seen []sentBatch
}

func (r *recordingSender) SendEvents(ctx context.Context, b api.EventBatch) (api.EventBatchResponse, error) {
	raw, err := json.Marshal(b)
	if err != nil {
		return api.EventBatchResponse{}, err
	}
	resp, err := r.next.SendEvents(ctx, b)
	r.mu.Lock()
	r.seen = append(r.seen, sentBatch{events: len(b.Events), bytes: len(raw), err: err})
	r.mu.Unlock()
	return resp, err
}

// summary is a line for the test log: how many calls, how many refused, the largest body.
func (r *recordingSender) summary() string {
	calls, refused, largest := 0, 0, 0
	for _, b := range r.batches() {
		calls++
		if b.err != nil {
			refused++
		}
		largest = max(largest, b.bytes)
	}
	return fmt.Sprintf("%d calls, %d refused, largest body %d bytes", calls, refused, largest)
}

func (r *recordingSender) batches() []sentBatch {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sentBatch(nil), r.seen...)
}

func (f *fixture) openRecording(t *testing.T, l Limits) (*Outbox, *recordingSender) {
	t.Helper()
	rec := &recordingSender{next: f.sat}
	o, err := Open(Options{Dir: f.dir, Limits: l, Sender: rec, Clock: f.clk,
		Backoff: backoff.New(func() float64 { return 1 })})
	require.NoError(t, err)
	t.Cleanup(func() { _ = o.Close() })
	return o, rec
}

// bigEvent is event i with about dataBytes of data (a JSON object with one string).
func bigEvent(i, dataBytes int) api.Event {
	e := ev(i, api.SeverityInfo)
	e.Data = json.RawMessage(`{"blob":"` + strings.Repeat("x", max(0, dataBytes-11)) + `"}`)
	return e
}

// storeRaw queues ev as an older version without per-event limits would have: no truncation.
func storeRaw(t *testing.T, o *Outbox, e api.Event) {
	t.Helper()
	rec, err := encodeRecord(e)
	require.NoError(t, err)
	require.NoError(t, o.append(rec))
}

// assertDeliveredOnce checks the backend holds exactly ids, in order, each once.
func assertDeliveredOnce(t *testing.T, f *fixture, ids []string) {
	t.Helper()
	got := f.fb.Events(f.sat.ID)
	require.Len(t, got, len(ids))
	for i, e := range got {
		require.Equal(t, ids[i], e.ID, "event %d", i)
	}
	assert.Zero(t, f.fb.Duplicates(f.sat.ID))
}

func TestFitMeetsTheBackendsPerEventLimits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		message string
		data    string
		cut     bool
	}{
		{"small event untouched", "hello", `{"a":1}`, false},
		{"message at the limit untouched", strings.Repeat("m", api.MaxEventMessageBytes), "", false},
		{"long ascii message", strings.Repeat("m", 3*api.MaxEventMessageBytes), "", true},
		{"long multi-byte message", strings.Repeat("é€😀", api.MaxEventMessageBytes), "", true},
		{"invalid UTF-8 grows on the wire", strings.Repeat("\xff", api.MaxEventMessageBytes/2), "", true},
		{"data at the limit untouched", "", `{"b":"` + strings.Repeat("d", api.MaxEventDataBytes-8) + `"}`, false},
		{"large data", "", `{"b":"` + strings.Repeat("d", 200<<10) + `"}`, true},
		{"data that escaping makes large", "", `{"b":"` + strings.Repeat("<", api.MaxEventDataBytes/2) + `"}`, true},
		{"large data full of escapes", "", `{"b":"` + strings.Repeat("\\u0001<&", 40<<10) + `"}`, true},
		{"both large", strings.Repeat("m", 5000), `{"b":"` + strings.Repeat("d", 20000) + `"}`, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := ev(1, api.SeverityInfo)
			e.Message, e.Data = tc.message, nil
			if tc.data != "" {
				e.Data = json.RawMessage(tc.data)
			}
			cut, err := fit(&e)
			require.NoError(t, err)
			assert.Equal(t, tc.cut, cut != "", cut)
			// Measure as the backend does: decode the wire form.
			raw, err := json.Marshal(e)
			require.NoError(t, err)
			var got api.Event
			require.NoError(t, json.Unmarshal(raw, &got))
			assert.LessOrEqual(t, len(got.Message), api.MaxEventMessageBytes)
			assert.LessOrEqual(t, len(got.Data), api.MaxEventDataBytes)
			assert.True(t, utf8.ValidString(got.Message))
			if len(validUTF8(tc.message)) > api.MaxEventMessageBytes {
				assert.True(t, strings.HasSuffix(got.Message, truncatedMarker))
			}
			if tc.data != "" && strings.Contains(cut, "data") {
				var td truncatedData
				require.NoError(t, json.Unmarshal(got.Data, &td))
				assert.True(t, td.Truncated)
				assert.Greater(t, td.OriginalBytes, api.MaxEventDataBytes)
				assert.NotEmpty(t, td.Head)
			}
			assert.LessOrEqual(t, len(raw), MaxEventBytes)
		})
	}
}

func TestFitRefusesInvalidData(t *testing.T) {
	t.Parallel()
	e := ev(1, api.SeverityInfo)
	e.Data = json.RawMessage(`{"unterminated`)
	_, err := fit(&e)
	require.Error(t, err)
}

func TestEmitTruncatesAndRefusesWhatCanNeverFit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	o := f.open(t, Limits{})
	t.Cleanup(func() { _ = o.Close() })

	o.Emit(bigEvent(0, 200<<10)) // data over the backend's limit: kept, cut
	assert.Equal(t, 1, o.Depth())
	assert.EqualValues(t, 1, o.Truncated())
	assert.Zero(t, o.Dropped())

	hopeless := ev(1, api.SeverityCritical)
	hopeless.CorrelationID = strings.Repeat("c", 2*MaxEventBytes) // nothing Emit may cut
	o.Emit(hopeless)
	assert.Equal(t, 1, o.Depth())
	assert.EqualValues(t, 1, o.Dropped(), "a refused event is counted as dropped")

	require.NoError(t, o.Flush(context.Background()))
	got := f.fb.Events(f.sat.ID)
	require.Len(t, got, 1)
	var td truncatedData
	require.NoError(t, json.Unmarshal(got[0].Data, &td))
	assert.True(t, td.Truncated)
}

func TestPeekMeasuresTheBodyExactly(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	o := f.open(t, Limits{})
	t.Cleanup(func() { _ = o.Close() })
	for i := range 40 {
		e := bigEvent(i, 100*i)
		e.Message = strings.Repeat("<é\x01", i) // escapes and multi-byte runes
		o.Emit(e)
	}
	for _, budget := range []int{1, 5000, 50_000, maxBatchBody} {
		b, err := o.peek(api.MaxEventBatch, budget)
		require.NoError(t, err)
		require.NotEmpty(t, b.events)
		raw, err := json.Marshal(api.EventBatch{Events: b.events})
		require.NoError(t, err)
		assert.Equal(t, len(raw), b.bytes, "budget %d", budget)
		assert.True(t, b.bytes <= budget || len(b.events) == 1, "budget %d: %d bytes in %d events", budget, b.bytes, len(b.events))
	}
}

func TestLargeEventsGoInBatchesUnderTheByteLimit(t *testing.T) {
	t.Parallel()
	f := newLimitedFixture(t, api.MaxEventBatchBytes)
	o, rec := f.openRecording(t, Limits{})
	var ids []string
	for i := range 300 {
		e := bigEvent(i, api.MaxEventDataBytes-100)
		e.Message = strings.Repeat("m", api.MaxEventMessageBytes)
		ids = append(ids, e.ID)
		o.Emit(e)
	}
	assert.Zero(t, o.Truncated(), "these events are within the per-event limits")
	require.NoError(t, o.Flush(context.Background()))
	t.Log(rec.summary())

	assertDeliveredOnce(t, f, ids)
	assert.Zero(t, o.Depth())
	assert.Zero(t, o.Dropped())
	assert.Zero(t, f.fb.Requests("too_large"))
	batches := rec.batches()
	assert.Greater(t, len(batches), 300*20_000/api.MaxEventBatchBytes, "the byte limit, not the count, splits the batches")
	for i, b := range batches {
		require.NoError(t, b.err, "batch %d", i)
		assert.LessOrEqual(t, b.bytes, api.MaxEventBatchBytes, "batch %d", i)
		assert.LessOrEqual(t, b.events, DefaultBatchSize)
	}
}

// A queue written before the per-event limits may hold events of hundreds of KiB: they still go
// out in batches under the byte limit.
func TestQueuedHugeEventsGoInBatchesUnderTheByteLimit(t *testing.T) {
	t.Parallel()
	f := newLimitedFixture(t, api.MaxEventBatchBytes)
	o, rec := f.openRecording(t, Limits{})
	var ids []string
	for i := range 60 { // 12 MiB: enough for a dozen batches, small enough for -race
		e := bigEvent(i, 200<<10)
		ids = append(ids, e.ID)
		storeRaw(t, o, e)
	}
	require.NoError(t, o.Flush(context.Background()))
	t.Log(rec.summary())

	assertDeliveredOnce(t, f, ids)
	assert.Zero(t, o.Depth())
	assert.Zero(t, f.fb.Requests("too_large"))
	batches := rec.batches()
	assert.GreaterOrEqual(t, len(batches), 60/5, "at most 5 such events fit in a batch")
	for i, b := range batches {
		require.NoError(t, b.err, "batch %d", i)
		assert.LessOrEqual(t, b.bytes, api.MaxEventBatchBytes, "batch %d", i)
	}
}

func TestSplitsOn413AndDeliversEverything(t *testing.T) {
	t.Parallel()
	const limit = 256 << 10
	f := newLimitedFixture(t, limit)
	o, rec := f.openRecording(t, Limits{})
	var ids []string
	emit := func(n int) {
		for range n {
			e := bigEvent(len(ids), api.MaxEventDataBytes-100)
			ids = append(ids, e.ID)
			o.Emit(e)
		}
	}
	emit(300)
	require.NoError(t, o.Flush(context.Background()), "a 413 is handled, not returned")
	t.Log(rec.summary())
	assertDeliveredOnce(t, f, ids)
	assert.Zero(t, o.Depth())
	assert.Zero(t, o.Dropped())
	refused := f.fb.Requests("too_large")
	assert.Positive(t, refused)
	for i, b := range rec.batches() {
		if b.err == nil {
			assert.LessOrEqual(t, b.bytes, limit, "batch %d", i)
		} else {
			assert.True(t, tooLarge(b.err), "batch %d: %v", i, b.err)
		}
	}

	// The smaller budget is remembered: the next flush does not hit the limit again.
	emit(100)
	require.NoError(t, o.Flush(context.Background()))
	assertDeliveredOnce(t, f, ids)
	assert.Equal(t, refused, f.fb.Requests("too_large"))
}

func TestEventTheBackendNeverTakesIsDroppedAndDoesNotBlock(t *testing.T) {
	t.Parallel()
	f := newLimitedFixture(t, 8<<10)
	o, _ := f.openRecording(t, Limits{})
	var ids []string
	for i := range 10 {
		if i == 3 {
			o.Emit(bigEvent(i, 12<<10)) // within the per-event limits, over this backend's body limit
			continue
		}
		e := ev(i, api.SeverityInfo)
		ids = append(ids, e.ID)
		o.Emit(e)
	}
	require.NoError(t, o.Flush(context.Background()))
	assertDeliveredOnce(t, f, ids)
	assert.Zero(t, o.Depth())
	assert.EqualValues(t, 1, o.Dropped())

	// The drop is persisted like the others.
	require.NoError(t, o.Close())
	o = f.open(t, Limits{})
	t.Cleanup(func() { _ = o.Close() })
	assert.EqualValues(t, 1, o.Dropped())
}

func TestRunDoesNotBackOffOn413(t *testing.T) {
	t.Parallel()
	f := newLimitedFixture(t, 8<<10)
	o, _ := f.openRecording(t, Limits{FlushInterval: time.Hour})
	for i := range 5 {
		o.Emit(bigEvent(i, 12<<10))
	}
	small := ev(9, api.SeverityInfo)
	o.Emit(small)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()
	require.NoError(t, f.clk.BlockUntil(ctx, 1))
	f.clk.Advance(time.Hour)
	waitFor(t, func() bool { return o.Depth() == 0 })
	cancel()
	require.NoError(t, <-done)
	assertDeliveredOnce(t, f, []string{small.ID})
	assert.EqualValues(t, 5, o.Dropped())
}

func TestStoredEventTooLargeForAnyBatchIsDropped(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	o, _ := f.openRecording(t, Limits{MaxBytes: 10 << 20})
	first := ev(0, api.SeverityInfo)
	o.Emit(first)
	storeRaw(t, o, bigEvent(1, api.MaxEventBatchBytes))
	last := ev(2, api.SeverityInfo)
	o.Emit(last)
	require.NoError(t, o.Flush(context.Background()))
	assertDeliveredOnce(t, f, []string{first.ID, last.ID})
	assert.EqualValues(t, 1, o.Dropped())
	assert.Zero(t, o.Depth())
}

// FuzzFit: whatever a part emits, fit never panics, and an event it passes meets the backend's
// per-event limits as the backend measures them (on the decoded wire form).
func FuzzFit(f *testing.F) {
	f.Add("hello", `{"a":1}`)
	f.Add(strings.Repeat("\xff<", 3000), `{"b":"`+strings.Repeat("\\u0001<&", 3000)+`"}`)
	f.Add(strings.Repeat("é", 5000), `[1,2`)
	f.Add("", `null`)
	f.Fuzz(func(t *testing.T, msg, data string) {
		e := api.Event{ID: "00000000-0000-4000-8000-000000000000", Type: "fuzz", Severity: api.SeverityInfo, Time: t0, Message: msg}
		if data != "" {
			e.Data = json.RawMessage(data)
		}
		if _, err := fit(&e); err != nil {
			return
		}
		raw, err := json.Marshal(e)
		require.NoError(t, err)
		var got api.Event
		require.NoError(t, json.Unmarshal(raw, &got))
		require.LessOrEqual(t, len(got.Message), api.MaxEventMessageBytes)
		require.LessOrEqual(t, len(got.Data), api.MaxEventDataBytes)
		require.LessOrEqual(t, len(raw), MaxEventBytes)
	})
}
