package outbox

import (
	"context"
	"errors"
	"fmt"
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

// Flush sends batches until the queue is empty or a call fails.
func (o *Outbox) Flush(ctx context.Context) error {
	o.mu.Lock()
	o.pending = 0
	o.mu.Unlock()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		keys, batch, err := o.peek(o.limits.BatchSize)
		if err != nil || len(keys) == 0 {
			return err
		}
		if err := o.sendOne(ctx, keys, batch); err != nil {
			return err
		}
	}
}

func (o *Outbox) sendOne(ctx context.Context, keys [][]byte, batch []api.Event) error {
	resp, err := o.sender.SendEvents(ctx, api.EventBatch{Events: batch})
	if err != nil {
		return err
	}
	if resp.Accepted+resp.Duplicates+len(resp.Rejected) != len(batch) {
		return fmt.Errorf("%w: sent %d, accepted %d, duplicates %d, rejected %d", errMismatch,
			len(batch), resp.Accepted, resp.Duplicates, len(resp.Rejected))
	}
	o.logRejected(batch, resp.Rejected)
	if err := o.remove(keys); err != nil {
		return err
	}
	o.sent.Add(int64(resp.Accepted + resp.Duplicates))
	o.rejected.Add(int64(len(resp.Rejected)))
	return nil
}

func (o *Outbox) logRejected(batch []api.Event, rejected []api.RejectedEvent) {
	for _, r := range rejected {
		typ := ""
		if r.Index >= 0 && r.Index < len(batch) {
			typ = batch[r.Index].Type
		}
		o.log.Warn("backend rejected an event; dropping it (it would never be accepted)",
			zap.String("event_id", r.ID), zap.String("event_type", typ), zap.String("code", r.Code), zap.String("reason", r.Message))
	}
}

// peek reads up to n of the oldest events without removing them. An undecodable record (disk
// damage) is removed and counted as dropped rather than blocking the queue forever.
func (o *Outbox) peek(n int) ([][]byte, []api.Event, error) {
	var keys, bad [][]byte
	var batch []api.Event
	err := state.Safe(func() error {
		return o.db.View(func(tx *bolt.Tx) error {
			cur := tx.Bucket(bucketEvents).Cursor()
			for k, v := cur.First(); k != nil && len(keys) < n; k, v = cur.Next() {
				ev, err := decodeRecord(v)
				if err != nil {
					bad = append(bad, append([]byte(nil), k...))
					continue
				}
				keys = append(keys, append([]byte(nil), k...))
				batch = append(batch, ev)
			}
			return nil
		})
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", o.path, err)
	}
	if len(bad) > 0 {
		o.log.Error("dropping undecodable events from the outbox", zap.Int("count", len(bad)), zap.String("file", o.path))
		if err := o.delete(bad, true); err != nil {
			return nil, nil, err
		}
	}
	return keys, batch, nil
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
