package schedule

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/state"
)

// StoreFile is the observation store's file name inside the state directory.
const StoreFile = "observations.db"

var bucket = []byte("observations")

// Observation states kept in the store.
const (
	// Scheduled: waiting for its window.
	Scheduled = "scheduled"
	// Running: its window was entered; after a restart it is resumed, not started afresh.
	Running = "running"
)

// Record is one stored observation.
type Record struct {
	Payload api.ObservationSchedulePayload `json:"payload"`
	// State is Scheduled or Running.
	State string `json:"state"`
	// CommandID and CorrelationID tie the observation's events to the command that scheduled it.
	CommandID     string    `json:"command_id,omitempty"`
	CorrelationID string    `json:"correlation_id,omitempty"`
	StoredAt      time.Time `json:"stored_at"`
}

// ID returns the observation id.
func (r Record) ID() string { return r.Payload.ObservationID }

// Store keeps observations durably in one bbolt file. bbolt writes copy-on-write pages and
// fsyncs before a transaction commits, so a power loss leaves the previous or the new state,
// never a torn one. Safe for concurrent use.
type Store struct {
	db   *bolt.DB
	path string
}

// OpenStore opens (creating) the store in stateDir. A damaged file is an error naming the file
// and what to do; the runner then refuses to start rather than forget observations silently.
func OpenStore(stateDir string) (*Store, error) {
	path := filepath.Join(stateDir, StoreFile)
	db, err := state.OpenBolt(path)
	if err != nil {
		return nil, fmt.Errorf("observation store: %w", err)
	}
	s := &Store{db: db, path: path}
	if err := s.update(func(tx *bolt.Tx) error { _, err := tx.CreateBucketIfNotExists(bucket); return err }); err != nil {
		_ = db.Close()
		return nil, s.corrupt(err)
	}
	return s, nil
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// Path returns the store's file path.
func (s *Store) Path() string { return s.path }

// Put stores rec, replacing a record with the same id.
func (s *Store) Put(rec Record) error {
	raw, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("observation store: encode %s: %w", rec.ID(), err)
	}
	err = s.update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put([]byte(rec.ID()), raw) })
	if err != nil {
		return fmt.Errorf("observation store: save %s in %s: %w", rec.ID(), s.path, err)
	}
	return nil
}

// Delete removes the record with id; a missing record is not an error.
func (s *Store) Delete(id string) error {
	if err := s.update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Delete([]byte(id)) }); err != nil {
		return fmt.Errorf("observation store: delete %s in %s: %w", id, s.path, err)
	}
	return nil
}

// All returns every record, earliest AOS first. A record that cannot be decoded is an error
// naming the file and the observation.
func (s *Store) All() ([]Record, error) {
	var out []Record
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(k, v []byte) error {
			var rec Record
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("record %q: %w", k, err)
			}
			if err := rec.Payload.Validate(); err != nil {
				return fmt.Errorf("record %q: %w", k, err)
			}
			out = append(out, rec)
			return nil
		})
	})
	if err != nil {
		return nil, s.corrupt(err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Payload.AOS.Before(out[j].Payload.AOS) })
	return out, nil
}

// Get returns the record with id.
func (s *Store) Get(id string) (Record, bool, error) {
	all, err := s.All()
	if err != nil {
		return Record{}, false, err
	}
	for _, r := range all {
		if r.ID() == id {
			return r, true, nil
		}
	}
	return Record{}, false, nil
}

func (s *Store) corrupt(err error) error {
	return fmt.Errorf("observation store %s is corrupt: %w (stop the runner, move the file aside and start it again: "+
		"it is recreated empty, and the observations it held must be scheduled again from the backend)", s.path, err)
}

func (s *Store) update(fn func(*bolt.Tx) error) error {
	return state.Safe(func() error { return s.db.Update(fn) })
}

func (s *Store) view(fn func(*bolt.Tx) error) error {
	return state.Safe(func() error { return s.db.View(fn) })
}

// errNotFound is wrapped by errors about an observation id the station does not hold.
var errNotFound = errors.New("not scheduled on this station")
