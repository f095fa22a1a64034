package outbox

import (
	"context"
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

// Run sends queued events until ctx is done, then makes a final flush under its own timeout
// (FlushTimeout), detached from ctx so the shutdown that cancelled ctx does not cancel it. It
// returns client.ErrUnauthorized (wrapped) when the key is revoked, nil otherwise.
func (o *Outbox) Run(ctx context.Context) error {
	var wait time.Duration
	backingOff := false
	for {
		if err := o.waitTurn(ctx, wait, backingOff); err != nil {
			return o.finalFlush(ctx)
		}
		err := o.Flush(ctx)
		switch {
		case err == nil:
			o.backoff.Reset()
			wait, backingOff = o.FlushInterval(), false
		case errors.Is(err, client.ErrUnauthorized):
			return fmt.Errorf("outbox: %w", err)
		case ctx.Err() != nil:
			return o.finalFlush(ctx)
		default:
			wait, backingOff = o.backoff.Next(), true
			o.log.Warn("event flush failed; backing off", zap.Duration("retry_in", wait), zap.Int("queued", o.Depth()), zap.Error(err))
		}
	}
}

// waitTurn waits for the next flush: the interval, or a full batch (not while backing off,
// which would hammer a backend that is down).
func (o *Outbox) waitTurn(ctx context.Context, wait time.Duration, backingOff bool) error {
	if wait <= 0 {
		wait = o.FlushInterval()
	}
	kick := o.kick
	if backingOff {
		kick = nil
	}
	t := o.clk.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C():
	case <-kick:
	}
	return nil
}

func (o *Outbox) finalFlush(ctx context.Context) error {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.limits.FlushTimeout)
	defer cancel()
	if err := o.Flush(fctx); err != nil {
		o.log.Warn("final event flush incomplete; the rest stays queued on disk for the next start",
			zap.Int("queued", o.Depth()), zap.Error(err))
	}
	return nil
}

// Batch body limits. A batch body is {"events":[e1,e2,...]}: the envelope plus the events'
// encoded JSON (exactly as stored) and a comma between each two.
const (
	batchEnvelope = len(`{"events":[]}`)
	// batchHeadroom is kept free under api.MaxEventBatchBytes in case the client ever encodes
	// an event a few bytes differently from how it was stored.
	batchHeadroom = 4 << 10
	maxBatchBody  = api.MaxEventBatchBytes - batchHeadroom
)

// Flush sends batches until the queue is empty or a call fails. A batch holds at most
// BatchSize events and at most batchBytes of JSON. A 413 (a backend with a lower body limit
// than api.MaxEventBatchBytes) is not a failure: the batch is halved and sent again, and a
// single event that still gets 413 is dropped and counted, since it can never be accepted.
// Every 413 thus either shrinks the next batch or removes an event, so Flush always moves on.
func (o *Outbox) Flush(ctx context.Context) error {
	o.mu.Lock()
	o.pending = 0
	o.mu.Unlock()
	count := o.limits.BatchSize
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		b, err := o.peek(count, int(o.batchBytes.Load()))
		if err != nil || len(b.keys) == 0 {
			return err
		}
		err = o.sendOrBisect(ctx, b)
		if !tooLarge(err) {
			if err != nil {
				return err
			}
			continue
		}
		if err := o.split(b, err); err != nil {
			return err
		}
		count = max(1, len(b.events)/2)
	}
}

// split handles a 413 for batch b: a batch of several events halves the byte budget (kept for
// later flushes: the backend's limit is not going to rise by itself); a lone event is dropped.
func (o *Outbox) split(b batch, sendErr error) error {
	if len(b.events) > 1 {
		budget := max(1, b.bytes/2)
		o.batchBytes.Store(int64(budget))
		o.log.Warn("backend refused an event batch as too large (413); halving the batch",
			zap.Int("events", len(b.events)), zap.Int("bytes", b.bytes), zap.Int("new_byte_budget", budget),
			zap.Error(sendErr))
		return nil
	}
	ev := b.events[0]
	o.log.Error("backend refused a single event as too large (413); dropping it (it can never be accepted)",
		zap.String("event_id", ev.ID), zap.String("event_type", ev.Type), zap.Int("bytes", b.bytes), zap.Error(sendErr))
	return o.delete(b.keys, true)
}

// tooLarge reports whether err is the backend's (or a proxy's) 413.
func tooLarge(err error) bool {
	var apiErr *client.APIError
	return errors.As(err, &apiErr) && apiErr.Status == http.StatusRequestEntityTooLarge
}

func (o *Outbox) sendOne(ctx context.Context, b batch) error {
	keys, batch := b.keys, b.events
	resp, err := o.sender.SendEvents(ctx, api.EventBatch{Events: batch})
	if err != nil {
		return err
	}
	if resp.Accepted+resp.Duplicates+len(resp.Rejected) != len(batch) {
		return fmt.Errorf("%w: sent %d, accepted %d, duplicates %d, rejected %d", errMismatch,
			len(batch), resp.Accepted, resp.Duplicates, len(resp.Rejected))
	}
	idx, why, err := rejectedPositions(batch, resp.Rejected)
	if err != nil {
		return err
	}
	if len(idx) > 0 {
		if err := o.quarantine(idx, b, why); err != nil {
			return err
		}
	}
	if err := o.remove(keys); err != nil { // the quarantined ones are gone from the queue already
		return err
	}
	o.sent.Add(int64(resp.Accepted + resp.Duplicates))
	o.rejected.Add(int64(len(resp.Rejected)))
	return nil
}

// rejectedPositions finds each rejected event in the batch: by its index, checked against its
// id when the backend gives one, else by id. An entry that matches no event of the batch means
// the answer is not about this batch: an error, and the batch is resent.
func rejectedPositions(batch []api.Event, rejected []api.RejectedEvent) ([]int, []refusal, error) {
	var idx []int
	var why []refusal
	seen := map[int]bool{}
	for _, r := range rejected {
		at := -1
		if r.Index >= 0 && r.Index < len(batch) && (r.ID == "" || batch[r.Index].ID == r.ID) {
			at = r.Index
		} else {
			for i := range batch {
				if batch[i].ID == r.ID && r.ID != "" {
					at = i
				}
			}
		}
		if at < 0 || seen[at] {
			return nil, nil, fmt.Errorf("%w: rejected entry (index %d, id %q) matches no event of the batch", errMismatch, r.Index, r.ID)
		}
		seen[at] = true
		idx = append(idx, at)
		why = append(why, refusal{code: r.Code, reason: r.Message})
	}
	return idx, why, nil
}

// batch is the oldest queued events, ready to send.
type batch struct {
	keys   [][]byte
	events []api.Event
	bytes  int // the encoded body's size
}

// peek reads the oldest events without removing them: at most n, and no more than budget bytes
// of body, but always at least one. Records that can never be sent are removed and counted as
// dropped rather than blocking the queue forever: an undecodable one (disk damage) and one too
// large for any batch (stored by an older version without the per-event limits).
func (o *Outbox) peek(n, budget int) (batch, error) {
	var b batch
	var bad, huge [][]byte
	b.bytes = batchEnvelope
	err := state.Safe(func() error {
		return o.db.View(func(tx *bolt.Tx) error {
			cur := tx.Bucket(bucketEvents).Cursor()
			for k, v := cur.First(); k != nil && len(b.keys) < n; k, v = cur.Next() {
				size := len(v) - 1 // the record is the class byte, then the event's JSON
				if batchEnvelope+size > maxBatchBody {
					huge = append(huge, append([]byte(nil), k...))
					continue
				}
				if len(b.keys) > 0 && b.bytes+1+size > budget {
					break
				}
				ev, err := decodeRecord(v)
				if err != nil {
					bad = append(bad, append([]byte(nil), k...))
					continue
				}
				if len(b.keys) > 0 {
					b.bytes++ // the comma
				}
				b.keys = append(b.keys, append([]byte(nil), k...))
				b.events = append(b.events, ev)
				b.bytes += size
			}
			return nil
		})
	})
	if err != nil {
		return batch{}, fmt.Errorf("read %s: %w", o.path, err)
	}
	if err := o.dropUnsendable(bad, "undecodable"); err != nil {
		return batch{}, err
	}
	if err := o.dropUnsendable(huge, fmt.Sprintf("larger than the %d byte batch limit", maxBatchBody)); err != nil {
		return batch{}, err
	}
	return b, nil
}

func (o *Outbox) dropUnsendable(keys [][]byte, reason string) error {
	if len(keys) == 0 {
		return nil
	}
	o.log.Error("dropping events that can never be sent from the outbox", zap.Int("count", len(keys)),
		zap.String("reason", reason), zap.String("file", o.path))
	return o.delete(keys, true)
}

func (o *Outbox) remove(keys [][]byte) error { return o.delete(keys, false) }

func (o *Outbox) delete(keys [][]byte, countAsDropped bool) error {
	err := state.Safe(func() error {
		return o.db.Update(func(tx *bolt.Tx) error {
			c := readCounters(tx)
			for _, k := range keys {
				removed, err := removeKey(tx, &c, k)
				if err != nil {
					return err
				}
				if removed && countAsDropped {
					c.Dropped++
				}
			}
			return c.write(tx)
		})
	})
	if err != nil {
		return fmt.Errorf("remove sent events from %s: %w", o.path, err)
	}
	o.refreshTotals()
	return nil
}
