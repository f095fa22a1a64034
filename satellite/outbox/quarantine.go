package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/client"
	"github.com/talos-gs/talos/satellite/state"
)

// DefaultMaxQuarantine bounds the quarantine, in events. An event is at most MaxEventBytes
// stored, so the quarantine holds at most about 64 MiB; past the bound the oldest quarantined
// event is dropped (and counted as dropped).
const DefaultMaxQuarantine = 1000

var (
	bucketQuarantine = []byte("quarantine")
	keyQuarantined   = []byte("quarantined")
)

// quarantined is the stored form of an event the backend refused for good: the event as it was
// queued, and the backend's reason.
type quarantined struct {
	Event  json.RawMessage `json:"event"`
	Code   string          `json:"code"`
	Reason string          `json:"reason"`
	At     time.Time       `json:"quarantined_at"`
}

// refusal is the backend's reason for refusing one event.
type refusal struct{ code, reason string }

// sendOrBisect sends batch b. When the backend refuses the whole batch for its content (400 or
// 422: one bad event spoils it), the batch is split in halves and each half sent in turn, down
// to single events; a single event still refused goes to quarantine. The good events of the
// batch are thus delivered, in order, at a cost of about 2·log2(n) requests per bad event.
func (o *Outbox) sendOrBisect(ctx context.Context, b batch) error {
	err := o.sendOne(ctx, b)
	why, refused := batchRefused(err)
	if !refused {
		return err
	}
	if len(b.events) == 1 {
		return o.quarantine([]int{0}, b, []refusal{why})
	}
	o.log.Warn("backend refused an event batch; splitting it to find the offending event",
		zap.Int("events", len(b.events)), zap.Error(err))
	left, right := b.split(len(b.events) / 2)
	if err := o.sendOrBisect(ctx, left); err != nil {
		return err
	}
	return o.sendOrBisect(ctx, right)
}

// batchRefused reports whether err is the backend refusing the batch's content.
func batchRefused(err error) (refusal, bool) {
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) {
		return refusal{}, false
	}
	if apiErr.Status != http.StatusBadRequest && apiErr.Status != http.StatusUnprocessableEntity {
		return refusal{}, false
	}
	code := apiErr.Code
	if code == "" {
		code = fmt.Sprintf("http_%d", apiErr.Status)
	}
	return refusal{code: code, reason: apiErr.Message}, true
}

// split returns the first n events of b and the rest, each with its own body size.
func (b batch) split(n int) (batch, batch) {
	part := func(keys [][]byte, evs []api.Event) batch {
		p := batch{keys: keys, events: evs, bytes: batchEnvelope}
		for i, e := range evs {
			raw, _ := json.Marshal(e) // it was decoded from this JSON; sizes only matter for logs
			if i > 0 {
				p.bytes++
			}
			p.bytes += len(raw)
		}
		return p
	}
	return part(b.keys[:n], b.events[:n]), part(b.keys[n:], b.events[n:])
}

// quarantine moves the events at positions idx of b from the queue to the quarantine bucket,
// with their reasons, in one transaction, and evicts the oldest quarantined events past the
// bound.
func (o *Outbox) quarantine(idx []int, b batch, why []refusal) error {
	now := o.clk.Now().UTC()
	err := state.Safe(func() error {
		return o.db.Update(func(tx *bolt.Tx) error {
			c := readCounters(tx)
			q := tx.Bucket(bucketQuarantine)
			for i, at := range idx {
				raw, err := json.Marshal(b.events[at])
				if err != nil {
					return err
				}
				rec, err := json.Marshal(quarantined{Event: raw, Code: why[i].code, Reason: why[i].reason, At: now})
				if err != nil {
					return err
				}
				if removed, err := removeKey(tx, &c, b.keys[at]); err != nil || !removed {
					continue // gone already (resent and answered): nothing to keep
				}
				if err := q.Put(b.keys[at], rec); err != nil {
					return err
				}
				c.Quarantined++
			}
			if err := o.boundQuarantine(q, &c); err != nil {
				return err
			}
			return c.write(tx)
		})
	})
	if err != nil {
		return fmt.Errorf("quarantine refused events in %s: %w", o.path, err)
	}
	for i, at := range idx {
		o.log.Warn("backend refused an event for good; kept in quarantine (outbox.db), not resent",
			zap.String("event_id", b.events[at].ID), zap.String("event_type", b.events[at].Type),
			zap.String("code", why[i].code), zap.String("reason", why[i].reason))
	}
	o.quarantinedTotal.Add(int64(len(idx)))
	o.refreshTotals()
	return nil
}

// boundQuarantine drops the oldest quarantined events past the bound, counting them as dropped.
func (o *Outbox) boundQuarantine(q *bolt.Bucket, c *counters) error {
	cur := q.Cursor()
	for k, _ := cur.First(); k != nil && c.Quarantined > o.limits.MaxQuarantine; k, _ = cur.First() {
		if err := q.Delete(k); err != nil {
			return err
		}
		c.Quarantined--
		c.Dropped++
	}
	return nil
}

// Quarantined returns how many events the quarantine holds (on disk, across restarts).
func (o *Outbox) Quarantined() int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.totals.Quarantined
}

// QuarantinedTotal returns how many events were put in quarantine since start.
func (o *Outbox) QuarantinedTotal() int64 { return o.quarantinedTotal.Load() }
