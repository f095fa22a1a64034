package outbox

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/events"
	"github.com/talos-gs/talos/satellite/internal/backoff"
	"github.com/talos-gs/talos/satellite/internal/clock"
	"github.com/talos-gs/talos/satellite/state"
)

// Defaults for Limits.
const (
	DefaultMaxEvents     = 100_000
	DefaultMaxBytes      = 100 << 20
	DefaultBatchSize     = 100
	DefaultFlushInterval = 3 * time.Second
	DefaultFlushTimeout  = 10 * time.Second
	// MaxEventBytes bounds one stored event, in bytes of encoded JSON. Emit first cuts the
	// message and data to the backend's per-event limits (see fit), after which a valid event
	// encodes to about 42 KiB at most; only an event whose other fields break the protocol (a
	// huge correlation_id) is still larger, and it is refused, logged and counted as dropped.
	MaxEventBytes = 64 << 10
)

// Sender delivers one batch to the backend (client.Client bound to the satellite id).
type Sender interface {
	SendEvents(ctx context.Context, batch api.EventBatch) (api.EventBatchResponse, error)
}

// Limits bound the queue and pace the sending.
type Limits struct {
	MaxEvents     int64
	MaxBytes      int64
	BatchSize     int
	FlushInterval time.Duration
	// FlushTimeout bounds the final flush at shutdown.
	FlushTimeout time.Duration
	// MaxQuarantine bounds the events kept in quarantine (DefaultMaxQuarantine).
	MaxQuarantine int64
}

func (l Limits) withDefaults() Limits {
	if l.MaxEvents <= 0 {
		l.MaxEvents = DefaultMaxEvents
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.BatchSize <= 0 || l.BatchSize > api.MaxEventBatch {
		l.BatchSize = DefaultBatchSize
	}
	if l.FlushInterval <= 0 {
		l.FlushInterval = DefaultFlushInterval
	}
	if l.FlushTimeout <= 0 {
		l.FlushTimeout = DefaultFlushTimeout
	}
	if l.MaxQuarantine <= 0 {
		l.MaxQuarantine = DefaultMaxQuarantine
	}
	return l
}

// Outbox is the durable queue plus its sending loop. It implements events.Emitter.
type Outbox struct {
	db     *bolt.DB
	path   string
	log    *zap.Logger
	clk    clock.Clock
	limits Limits

	sender   Sender
	backoff  *backoff.Backoff
	interval atomic.Int64 // current flush interval, ns (the backend may change it)
	kick     chan struct{}

	mu       sync.Mutex
	totals   counters
	pending  int // emitted since the last flush started
	seq      uint64
	rejected atomic.Int64
	sent     atomic.Int64
	failed   atomic.Int64 // events that could not be stored (disk error, too large); counted as dropped
	cut      atomic.Int64 // events whose message or data was truncated at Emit
	// quarantinedTotal counts the events put in quarantine since start (the metric).
	quarantinedTotal atomic.Int64

	// batchBytes is the byte budget of a batch body: api.MaxEventBatchBytes less headroom,
	// halved on each 413 from a backend configured with a lower limit.
	batchBytes atomic.Int64
}

// Options build an Outbox.
type Options struct {
	Dir     string // the state directory; the file is outbox.db inside it
	Limits  Limits
	Sender  Sender
	Logger  *zap.Logger
	Clock   clock.Clock
	Backoff *backoff.Backoff
}

// Open opens (or creates) the outbox file and loads its counters.
func Open(opts Options) (*Outbox, error) {
	path := filepath.Join(opts.Dir, state.OutboxFile)
	db, err := state.OpenBolt(path)
	if err != nil {
		return nil, err
	}
	// Concurrent emitters share one commit (one fsync); a short delay keeps a lone emitter's
	// latency near the disk's own fsync time.
	db.MaxBatchDelay = 2 * time.Millisecond
	o := &Outbox{db: db, path: path, log: opts.Logger, clk: opts.Clock, limits: opts.Limits.withDefaults(),
		sender: opts.Sender, backoff: opts.Backoff, kick: make(chan struct{}, 1)}
	if o.log == nil {
		o.log = zap.NewNop()
	}
	if o.clk == nil {
		o.clk = clock.Real{}
	}
	if o.backoff == nil {
		o.backoff = backoff.New(nil)
	}
	o.interval.Store(int64(o.limits.FlushInterval))
	o.batchBytes.Store(maxBatchBody)
	if err := o.load(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("state file %s is corrupt or unreadable: %w (stop the runner, move the file aside and start again; queued events in it are lost)", path, err)
	}
	return o, nil
}

func (o *Outbox) load() error {
	return state.Safe(func() error {
		return o.db.Update(func(tx *bolt.Tx) error {
			if err := initBuckets(tx); err != nil {
				return err
			}
			o.totals = readCounters(tx)
			o.seq = tx.Bucket(bucketEvents).Sequence()
			if n := int64(tx.Bucket(bucketEvents).Stats().KeyN); n != o.totals.Count {
				return fmt.Errorf("counters say %d events, file holds %d", o.totals.Count, n)
			}
			if n := int64(tx.Bucket(bucketQuarantine).Stats().KeyN); n != o.totals.Quarantined {
				return fmt.Errorf("counters say %d quarantined events, file holds %d", o.totals.Quarantined, n)
			}
			return nil
		})
	})
}

// Close closes the file. Call it after Run has returned.
func (o *Outbox) Close() error { return o.db.Close() }

// Emit stores ev durably (fsync'd) before returning; concurrent emitters share one commit. It
// never fails the caller: a message or data over the backend's per-event limits is truncated
// with a marker (and logged), and an event that cannot be stored is logged and counted as
// dropped.
func (o *Outbox) Emit(ev api.Event) {
	if ev.ID == "" {
		ev.ID = uuid.NewString()
	}
	if ev.Time.IsZero() {
		ev.Time = o.clk.Now().UTC()
	}
	cut, err := fit(&ev)
	if cut != "" {
		o.cut.Add(1)
		o.log.Warn("event truncated to the backend's per-event limits", zap.String("event_id", ev.ID),
			zap.String("event_type", ev.Type), zap.String("cut", cut))
	}
	var rec []byte
	if err == nil {
		rec, err = encodeRecord(ev)
	}
	if err == nil && len(rec) > MaxEventBytes {
		err = fmt.Errorf("event is %d bytes encoded, over the %d byte limit even after truncating its message and data (a field such as correlation_id is far too long)", len(rec), MaxEventBytes)
	}
	if err == nil {
		err = o.append(rec)
	}
	if err != nil {
		o.failed.Add(1)
		o.log.Error("event dropped: cannot store it", zap.String("event_id", ev.ID), zap.String("event_type", ev.Type),
			zap.String("file", o.path), zap.Error(err))
		return
	}
	o.noteEmitted()
}

func (o *Outbox) append(rec []byte) error {

	err := state.Safe(func() error {
		return o.db.Batch(func(tx *bolt.Tx) error {
			c := readCounters(tx)
			admitted, err := o.makeRoom(tx, &c, int(rec[0]), int64(len(rec)))
			if err != nil {
				return err
			}
			if admitted {
				if err := putEvent(tx, rec); err != nil {
					return err
				}
				c.Count++
				c.Bytes += int64(len(rec))
			} else {
				c.Dropped++
			}

			return c.write(tx)
		})
	})
	if err != nil {
		return err
	}
	o.refreshTotals()

	return nil
}

func putEvent(tx *bolt.Tx, rec []byte) error {
	events := tx.Bucket(bucketEvents)
	seq, err := events.NextSequence()
	if err != nil {
		return err
	}
	k := seqKey(seq)
	if err := events.Put(k, rec); err != nil {
		return err
	}
	return tx.Bucket(bucketClass[rec[0]]).Put(k, nil)
}

// makeRoom evicts until an event of class cls and size bytes fits. It returns false when the
// incoming event is the one to drop.
func (o *Outbox) makeRoom(tx *bolt.Tx, c *counters, cls int, size int64) (bool, error) {
	for c.Count+1 > o.limits.MaxEvents || c.Bytes+size > o.limits.MaxBytes {
		evicted, err := evictOne(tx, c, cls)
		if err != nil || !evicted {
			return false, err
		}
	}
	return true, nil
}

func (o *Outbox) refreshTotals() {
	_ = state.Safe(func() error {
		return o.db.View(func(tx *bolt.Tx) error {
			c := readCounters(tx)
			o.mu.Lock()
			o.totals = c
			o.mu.Unlock()
			return nil
		})
	})
}

// noteEmitted wakes the sender once a full batch is waiting.
func (o *Outbox) noteEmitted() {
	o.mu.Lock()
	o.pending++
	full := o.pending >= o.limits.BatchSize
	o.mu.Unlock()
	if full {
		select {
		case o.kick <- struct{}{}:
		default:
		}
	}
}

// Depth returns the number of queued events.
func (o *Outbox) Depth() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return int(o.totals.Count)
}

// Bytes returns the stored size of the queued events.
func (o *Outbox) Bytes() int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.totals.Bytes
}

// Dropped returns how many events were discarded because the queue was full or they could not
// be stored, since the file was created.
func (o *Outbox) Dropped() int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.totals.Dropped + o.failed.Load()
}

// Truncated returns how many events had their message or data cut at Emit since start.
func (o *Outbox) Truncated() int64 { return o.cut.Load() }

// Rejected returns how many events the backend refused for good since start (each is kept in
// quarantine, see Quarantined).
func (o *Outbox) Rejected() int64 { return o.rejected.Load() }

// Sent returns how many events the backend took (accepted or duplicate) since start.
func (o *Outbox) Sent() int64 { return o.sent.Load() }

// SetFlushInterval changes the flush cadence (backend intervals.events, config.update).
func (o *Outbox) SetFlushInterval(d time.Duration) {
	if d > 0 {
		o.interval.Store(int64(d))
	}
}

// FlushInterval returns the current flush cadence.
func (o *Outbox) FlushInterval() time.Duration { return time.Duration(o.interval.Load()) }

// The outbox is the runner's events.Emitter.
var _ events.Emitter = (*Outbox)(nil)

// errMismatch marks an answer whose counts do not add up to the batch.
var errMismatch = errors.New("event batch answer does not account for every event")
