package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/talos-gs/talos/backend/api"
)

var (
	bucketCommands = []byte("commands")
	bucketMeta     = []byte("meta")
	keyMaintenance = []byte("maintenance")
)

// Phase is how far the runner got with a command.
type Phase string

// Command phases. Accepted is written BEFORE the handler runs, so after a crash a command is
// never run again: an accepted command without an outcome was interrupted.
const (
	PhaseAccepted Phase = "accepted"
	PhaseDone     Phase = "done"
)

// CommandRecord is what the runner remembers about one command.
type CommandRecord struct {
	ID            string            `json:"id"`
	Type          string            `json:"type"`
	CorrelationID string            `json:"correlation_id,omitempty"`
	Phase         Phase             `json:"phase"`
	Status        api.CommandStatus `json:"status,omitempty"` // succeeded or failed, when done
	Result        json.RawMessage   `json:"result,omitempty"`
	Error         string            `json:"error,omitempty"`
	// Reported is true once the backend has accepted the final status.
	Reported   bool      `json:"reported"`
	AcceptedAt time.Time `json:"accepted_at"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
}

// Final returns the status update that reports the record's outcome.
func (r CommandRecord) Final() api.CommandStatusUpdate {
	return api.CommandStatusUpdate{Status: r.Status, Result: r.Result, Error: r.Error, CorrelationID: r.CorrelationID}
}

// Commands is the durable record of accepted commands (commands.db).
type Commands struct {
	db   *bolt.DB
	path string
}

// OpenCommands opens or creates commands.db in dir.
func OpenCommands(dir string) (*Commands, error) {
	path := filepath.Join(dir, CommandsFile)
	db, err := OpenBolt(path)
	if err != nil {
		return nil, err
	}
	c := &Commands{db: db, path: path}
	err = c.update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bucketCommands); err != nil {
			return err
		}
		_, err := tx.CreateBucketIfNotExists(bucketMeta)
		return err
	})
	if err != nil {
		_ = db.Close()
		return nil, corrupt(path, err)
	}
	return c, nil
}

// Close closes the database.
func (c *Commands) Close() error { return c.db.Close() }

// Accept records cmd as accepted unless it is already known. It returns the existing record and
// false when the command was seen before, so the caller must not run it again.
func (c *Commands) Accept(cmd api.Command, now time.Time) (CommandRecord, bool, error) {
	var rec CommandRecord
	created := false
	err := c.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCommands)
		if raw := b.Get([]byte(cmd.ID)); raw != nil {
			return json.Unmarshal(raw, &rec)
		}
		rec = CommandRecord{ID: cmd.ID, Type: cmd.Type, CorrelationID: cmd.CorrelationID, Phase: PhaseAccepted, AcceptedAt: now.UTC()}
		created = true
		return put(b, rec)
	})
	if err != nil {
		return CommandRecord{}, false, fmt.Errorf("record command %s in %s: %w", cmd.ID, c.path, err)
	}
	return rec, created, nil
}

// Finish stores a command's outcome.
func (c *Commands) Finish(id string, upd api.CommandStatusUpdate, now time.Time) (CommandRecord, error) {
	var rec CommandRecord
	err := c.modify(id, func(r *CommandRecord) {
		r.Phase, r.Status, r.Result, r.Error = PhaseDone, upd.Status, upd.Result, upd.Error
		r.FinishedAt = now.UTC()
		rec = *r
	})
	return rec, err
}

// MarkReported notes that the backend has the final status.
func (c *Commands) MarkReported(id string) error {
	return c.modify(id, func(r *CommandRecord) { r.Reported = true })
}

// Get returns a record, or false when the id is unknown.
func (c *Commands) Get(id string) (CommandRecord, bool, error) {
	var rec CommandRecord
	found := false
	err := c.view(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketCommands).Get([]byte(id))
		if raw == nil {
			return nil
		}
		found = true
		return json.Unmarshal(raw, &rec)
	})
	if err != nil {
		return CommandRecord{}, false, fmt.Errorf("read command %s from %s: %w", id, c.path, err)
	}
	return rec, found, nil
}

// Unreported returns the records whose final status the backend has not acknowledged,
// including commands accepted but never finished (interrupted by a restart).
func (c *Commands) Unreported() ([]CommandRecord, error) {
	var out []CommandRecord
	err := c.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCommands).ForEach(func(_, raw []byte) error {
			var rec CommandRecord
			if err := json.Unmarshal(raw, &rec); err != nil {
				return err
			}
			if !rec.Reported {
				out = append(out, rec)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", c.path, err)
	}
	return out, nil
}

// Count returns how many commands are recorded.
func (c *Commands) Count() (int, error) {
	n := 0
	err := c.view(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketCommands).Stats().KeyN
		return nil
	})
	return n, err
}

// Prune forgets reported commands finished before cutoff; the backend stops redelivering a
// command long before (its lease and expiry are minutes to hours), so the ids are no longer
// needed to deduplicate.
func (c *Commands) Prune(cutoff time.Time) (int, error) {
	removed := 0
	err := c.update(func(tx *bolt.Tx) error {
		cur := tx.Bucket(bucketCommands).Cursor()
		for k, raw := cur.First(); k != nil; k, raw = cur.Next() {
			var rec CommandRecord
			if err := json.Unmarshal(raw, &rec); err != nil {
				return err
			}
			if rec.Reported && rec.Phase == PhaseDone && rec.FinishedAt.Before(cutoff) {
				if err := cur.Delete(); err != nil {
					return err
				}
				removed++
			}
		}
		return nil
	})
	return removed, err
}

// SetMaintenance persists the maintenance flag, so a restart stays in maintenance.
func (c *Commands) SetMaintenance(on bool) error {
	v := []byte{0}
	if on {
		v[0] = 1
	}
	return c.update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyMaintenance, v) })
}

// Maintenance reads the maintenance flag.
func (c *Commands) Maintenance() (bool, error) {
	on := false
	err := c.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketMeta).Get(keyMaintenance)
		on = len(v) == 1 && v[0] == 1
		return nil
	})
	return on, err
}

func (c *Commands) modify(id string, change func(*CommandRecord)) error {
	err := c.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCommands)
		raw := b.Get([]byte(id))
		if raw == nil {
			return errors.New("unknown command")
		}
		var rec CommandRecord
		if err := json.Unmarshal(raw, &rec); err != nil {
			return err
		}
		change(&rec)
		return put(b, rec)
	})
	if err != nil {
		return fmt.Errorf("update command %s in %s: %w", id, c.path, err)
	}
	return nil
}

func (c *Commands) update(fn func(*bolt.Tx) error) error {
	return Safe(func() error { return c.db.Update(fn) })
}
func (c *Commands) view(fn func(*bolt.Tx) error) error {
	return Safe(func() error { return c.db.View(fn) })
}

func put(b *bolt.Bucket, rec CommandRecord) error {
	raw, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return b.Put([]byte(rec.ID), raw)
}

// CountCommands reads how many command records a state directory holds, read-only, for
// `talos-satellite status` while no runner is running.
func CountCommands(dir string) (int, error) {
	path := filepath.Join(dir, CommandsFile)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	db, err := OpenBoltReadOnly(path)
	if err != nil {
		return 0, err
	}
	defer func() { _ = db.Close() }()
	n := 0
	err = Safe(func() error {
		return db.View(func(tx *bolt.Tx) error {
			if b := tx.Bucket(bucketCommands); b != nil {
				n = b.Stats().KeyN
			}
			return nil
		})
	})
	return n, err
}
