package outbox

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/client"
	"github.com/talos-gs/talos/satellite/state"
)

// wholeBatchRefuser answers 400 for any batch that holds an event of type "bad.event", as the
// backend did for a NUL byte on PostgreSQL (issue 11 item 6): the good events of that batch
// are not stored either. Other batches go to the fake backend.
type wholeBatchRefuser struct {
	next Sender
	mu   sync.Mutex
	sent int
}

func (w *wholeBatchRefuser) SendEvents(ctx context.Context, b api.EventBatch) (api.EventBatchResponse, error) {
	w.mu.Lock()
	w.sent++
	w.mu.Unlock()
	for _, e := range b.Events {
		if e.Type == "bad.event" {
			return api.EventBatchResponse{}, &client.APIError{Status: http.StatusBadRequest, Code: api.ErrInvalidRequest,
				Message: "events[].message: contains a NUL byte", Field: "events"}
		}
	}
	return w.next.SendEvents(ctx, b)
}

func quarantinedIDs(t *testing.T, dir string) []string {
	t.Helper()
	db, err := state.OpenBoltReadOnly(filepath.Join(dir, state.OutboxFile))
	require.NoError(t, err)
	defer func() { _ = db.Close() }()
	var ids []string
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketQuarantine).ForEach(func(_, v []byte) error {
			var q quarantined
			if err := json.Unmarshal(v, &q); err != nil {
				return err
			}
			var e api.Event
			if err := json.Unmarshal(q.Event, &e); err != nil {
				return err
			}
			assert.NotEmpty(t, q.Code)
			ids = append(ids, e.ID)
			return nil
		})
	}))
	return ids
}

func TestWholeBatchRefusedIsBisectedAndTheRestSent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	refuser := &wholeBatchRefuser{next: f.sat}
	o, err := Open(Options{Dir: f.dir, Sender: refuser, Clock: f.clk, Limits: Limits{BatchSize: 32}})
	require.NoError(t, err)
	var good, bad []string
	for i := range 40 {
		e := ev(i, api.SeverityInfo)
		if i == 3 || i == 17 || i == 18 {
			e.Type = "bad.event"
			bad = append(bad, e.ID)
		} else {
			good = append(good, e.ID)
		}
		o.Emit(e)
	}
	require.NoError(t, o.Flush(context.Background()), "a refused batch does not stall the queue")
	assert.Zero(t, o.Depth())
	var got []string
	for _, e := range f.fb.Events(f.sat.ID) {
		got = append(got, e.ID)
	}
	assert.Equal(t, good, got, "every good event delivered once, in order")
	assert.EqualValues(t, 3, o.Quarantined())
	assert.EqualValues(t, 37, o.Sent())
	assert.Less(t, refuser.sent, 40, "bisection, not one request per event")
	require.NoError(t, o.Close())

	// Kept across a restart, and visible without a runner.
	assert.Equal(t, bad, quarantinedIDs(t, f.dir))
	o2, err := Open(Options{Dir: f.dir, Sender: refuser, Clock: f.clk})
	require.NoError(t, err)
	assert.EqualValues(t, 3, o2.Quarantined())
	require.NoError(t, o2.Close())
	fig, err := Inspect(f.dir)
	require.NoError(t, err)
	assert.EqualValues(t, 3, fig.Quarantined)
}

func TestQuarantineIsBounded(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	o, err := Open(Options{Dir: f.dir, Sender: &wholeBatchRefuser{next: f.sat}, Clock: f.clk, Limits: Limits{MaxQuarantine: 2}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = o.Close() })
	var bad []string
	for i := range 5 {
		e := ev(i, api.SeverityInfo)
		e.Type = "bad.event"
		bad = append(bad, e.ID)
		o.Emit(e)
	}
	require.NoError(t, o.Flush(context.Background()))
	assert.EqualValues(t, 2, o.Quarantined())
	assert.EqualValues(t, 5, o.QuarantinedTotal())
	assert.EqualValues(t, 3, o.Dropped(), "the oldest quarantined events make room, counted as dropped")
	require.NoError(t, o.Close())
	assert.Equal(t, bad[3:], quarantinedIDs(t, f.dir), "the newest stay")
}

func TestRejectedEntryOfAnotherBatchIsAMismatch(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	o, err := Open(Options{Dir: dir, Sender: fixedSender{Accepted: 1, Rejected: []api.RejectedEvent{{Index: 7, ID: "nope"}}}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = o.Close() })
	o.Emit(ev(0, api.SeverityInfo))
	o.Emit(ev(1, api.SeverityInfo))
	require.ErrorIs(t, o.Flush(context.Background()), errMismatch)
	assert.Equal(t, 2, o.Depth(), "nothing removed or quarantined on an answer about other events")
	assert.Zero(t, o.Quarantined())
}
