// Package outbox is the station's durable event queue. Every part emits events through one
// Emitter; each event is committed to a bbolt file (fsync'd) before Emit returns, and removed
// only once the backend has answered for it (accepted or duplicate), or moved to the quarantine
// bucket of the same file when the backend refuses it for good. Events are sent in their
// emission order, in batches, every few seconds or as soon as a batch is full.
//
// The queue is bounded by a count and a byte size. When it is full the oldest event of the
// lowest severity class goes first (debug/info, then warning, then error/critical); a new event
// less severe than everything queued is itself the one dropped. Every drop is counted, and the
// counter is persisted and reported in heartbeats.
package outbox

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/talos-gs/talos/backend/api"
)

var (
	bucketEvents = []byte("events")
	bucketMeta   = []byte("meta")
	// One index bucket per severity class, keyed like events, so the oldest event of a class is
	// the first key of its bucket: making room never scans the queue.
	bucketClass = [classes][]byte{[]byte("class0"), []byte("class1"), []byte("class2")}

	keyCount   = []byte("count")
	keyBytes   = []byte("bytes")
	keyDropped = []byte("dropped")
)

const classes = 3

// class ranks severities for eviction: 0 debug/info (and unknown), 1 warning, 2 error/critical.
func class(s api.Severity) int {
	switch s {
	case api.SeverityWarning:
		return 1
	case api.SeverityError, api.SeverityCritical:
		return 2
	}
	return 0
}

// counters are the queue's totals, kept in the meta bucket in the same transaction as the
// events so they can never drift from the data.
type counters struct {
	Count   int64
	Bytes   int64
	Dropped int64
	// Quarantined is the number of events in the quarantine bucket.
	Quarantined int64
}

func readCounters(tx *bolt.Tx) counters {
	m := tx.Bucket(bucketMeta)
	return counters{Count: getInt(m, keyCount), Bytes: getInt(m, keyBytes), Dropped: getInt(m, keyDropped),
		Quarantined: getInt(m, keyQuarantined)}
}

func (c counters) write(tx *bolt.Tx) error {
	m := tx.Bucket(bucketMeta)
	for k, v := range map[string]int64{string(keyCount): c.Count, string(keyBytes): c.Bytes, string(keyDropped): c.Dropped,
		string(keyQuarantined): c.Quarantined} {
		if err := putInt(m, []byte(k), v); err != nil {
			return err
		}
	}
	return nil
}

func getInt(b *bolt.Bucket, k []byte) int64 {
	v := b.Get(k)
	if len(v) != 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(v))
}

func putInt(b *bolt.Bucket, k []byte, v int64) error {
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], uint64(v))
	return b.Put(k, buf[:])
}

func seqKey(seq uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return k[:]
}

// record is the stored form: the class byte first, so eviction need not decode JSON.
func encodeRecord(ev api.Event) ([]byte, error) {
	raw, err := json.Marshal(ev)
	if err != nil {
		return nil, err
	}
	return append([]byte{byte(class(ev.Severity))}, raw...), nil
}

func decodeRecord(v []byte) (api.Event, error) {
	var ev api.Event
	if len(v) < 2 || v[0] >= classes {
		return ev, errors.New("record too short or bad class byte")
	}
	if err := json.Unmarshal(v[1:], &ev); err != nil {
		return ev, fmt.Errorf("decode event: %w", err)
	}
	return ev, nil
}

func initBuckets(tx *bolt.Tx) error {
	names := append([][]byte{bucketEvents, bucketMeta, bucketQuarantine}, bucketClass[:]...)
	for _, name := range names {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	return nil
}

// removeKey deletes one event (if still present) and fixes the counters.
func removeKey(tx *bolt.Tx, c *counters, k []byte) (bool, error) {
	events := tx.Bucket(bucketEvents)
	v := events.Get(k)
	if v == nil {
		return false, nil
	}
	cls := int(v[0])
	size := int64(len(v))
	if err := events.Delete(k); err != nil {
		return false, err
	}
	if cls < classes {
		if err := tx.Bucket(bucketClass[cls]).Delete(k); err != nil {
			return false, err
		}
	}
	c.Count--
	c.Bytes -= size
	return true, nil
}

// evictOne drops the oldest event of the lowest non-empty class, unless the incoming event is
// less severe than that class: then nothing is evicted and false is returned (drop the new one).
func evictOne(tx *bolt.Tx, c *counters, incoming int) (bool, error) {
	for cls := range classes {
		k, _ := tx.Bucket(bucketClass[cls]).Cursor().First()
		if k == nil {
			continue
		}
		if incoming < cls {
			return false, nil
		}
		key := append([]byte(nil), k...)
		removed, err := removeKey(tx, c, key)
		if err == nil && removed {
			c.Dropped++
		}
		return removed, err
	}
	return false, nil
}
