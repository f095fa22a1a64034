// Package upload is the station's upload spool: the output directories of observations and
// processes (TALOS_OUTPUT_DIR), the files found there once the decoder exits (hashed with
// SHA-256, a kind from their name or a manifest), and the loop that uploads them to the backend
// with tus, resuming from the offset the backend acknowledged, on its own connections, under a
// bandwidth cap, paused or throttled during a pass, within a disk budget. Its state is one bbolt
// file (uploads.db) in the state directory, committed (fsynced) at every change, so it survives
// kill -9 and power loss like the event outbox (docs/decisions/0095-upload-spool.md).
package upload

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/talos-gs/talos/satellite/state"
)

// File is the name of the spool's state file in the state directory.
const File = "uploads.db"

// States of a spooled file.
const (
	// StateQueued: to upload (Location set once the backend created the upload).
	StateQueued = "queued"
	// StateUploaded: the backend recorded it (ArtifactID).
	StateUploaded = "uploaded"
	// StateKept: its kind is not uploaded for this observation; it stays on the station.
	StateKept = "kept"
	// StateRefused: the backend refused it for good (Error says why); it stays on the station.
	StateRefused = "refused"
)

var (
	bucketFiles = []byte("files")
	bucketNames = []byte("names")
	bucketDirs  = []byte("dirs")
)

// Entry is one spooled file.
type Entry struct {
	Seq         uint64 `json:"-"`
	Source      string `json:"source"`
	SourceID    string `json:"source_id"`
	Team        string `json:"team"`
	Path        string `json:"path"`
	Name        string `json:"name"`
	Kind        string `json:"kind"`
	ContentType string `json:"content_type,omitempty"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
	State       string `json:"state"`
	// Location is the backend's upload path, once created.
	Location string `json:"location,omitempty"`
	// Acked is the offset the backend acknowledged last.
	Acked      int64     `json:"acked"`
	ArtifactID string    `json:"artifact_id,omitempty"`
	Error      string    `json:"error,omitempty"`
	Mismatches int       `json:"mismatches,omitempty"`
	AddedAt    time.Time `json:"added_at"`
	UploadedAt time.Time `json:"uploaded_at,omitzero"`
	// Deleted is set once the disk budget removed the file from the station.
	Deleted bool `json:"deleted,omitempty"`
}

// Dir is an output directory handed to a running process: its files are collected when the
// process exits, or at the next start of the runner if it stopped first.
type Dir struct {
	Path     string   `json:"path"`
	Source   string   `json:"source"`
	SourceID string   `json:"source_id"`
	Team     string   `json:"team"`
	Kinds    []string `json:"kinds,omitempty"`
}

// spool is the bbolt file.
type spool struct {
	db   *bolt.DB
	path string
}

func openSpool(dir string) (*spool, error) {
	path := filepath.Join(dir, File)
	db, err := state.OpenBolt(path)
	if err != nil {
		return nil, err
	}
	err = state.Safe(func() error {
		return db.Update(func(tx *bolt.Tx) error {
			for _, b := range [][]byte{bucketFiles, bucketNames, bucketDirs} {
				if _, err := tx.CreateBucketIfNotExists(b); err != nil {
					return err
				}
			}
			return nil
		})
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("state file %s is corrupt or unreadable: %w (stop the runner, move the file aside and start again; files not yet uploaded stay on disk but are no longer queued)", path, err)
	}
	return &spool{db: db, path: path}, nil
}

func seqKey(n uint64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, n)
	return k
}

func nameKey(e *Entry) []byte {
	return []byte(e.Source + "\x00" + e.SourceID + "\x00" + e.Name)
}

// add stores new entries; one already spooled (same source, id and name) is left as it is.
// It returns the entries actually added.
func (s *spool) add(entries []Entry) ([]Entry, error) {
	var added []Entry
	err := state.Safe(func() error {
		return s.db.Update(func(tx *bolt.Tx) error {
			added = added[:0]
			files, names := tx.Bucket(bucketFiles), tx.Bucket(bucketNames)
			for _, e := range entries {
				if names.Get(nameKey(&e)) != nil {
					continue
				}
				seq, err := files.NextSequence()
				if err != nil {
					return err
				}
				e.Seq = seq
				if err := putEntry(files, &e); err != nil {
					return err
				}
				if err := names.Put(nameKey(&e), seqKey(seq)); err != nil {
					return err
				}
				added = append(added, e)
			}
			return nil
		})
	})
	return added, err
}

func putEntry(b *bolt.Bucket, e *Entry) error {
	raw, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return b.Put(seqKey(e.Seq), raw)
}

// update rewrites one entry (committed, so fsynced, before it returns). A file the disk budget
// deleted stays marked deleted whatever the caller's copy says.
func (s *spool) update(e *Entry) error {
	return state.Safe(func() error {
		return s.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketFiles)
			var old Entry
			if raw := b.Get(seqKey(e.Seq)); raw != nil && json.Unmarshal(raw, &old) == nil && old.Deleted {
				e.Deleted = true
			}
			return putEntry(b, e)
		})
	})
}

// all returns every entry, oldest first.
func (s *spool) all() ([]Entry, error) {
	var out []Entry
	err := state.Safe(func() error {
		return s.db.View(func(tx *bolt.Tx) error {
			return tx.Bucket(bucketFiles).ForEach(func(k, v []byte) error {
				var e Entry
				if err := json.Unmarshal(v, &e); err != nil {
					return fmt.Errorf("entry %x: %w", k, err)
				}
				e.Seq = binary.BigEndian.Uint64(k)
				out = append(out, e)
				return nil
			})
		})
	})
	return out, err
}

// next returns the oldest queued entry, or nil.
func (s *spool) next() (*Entry, error) {
	all, err := s.all()
	if err != nil {
		return nil, err
	}
	for i := range all {
		if all[i].State == StateQueued && !all[i].Deleted {
			return &all[i], nil
		}
	}
	return nil, nil
}

func (s *spool) openDir(d Dir) error {
	raw, err := json.Marshal(d)
	if err != nil {
		return err
	}
	return state.Safe(func() error {
		return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketDirs).Put([]byte(d.Path), raw) })
	})
}

func (s *spool) closeDir(path string) error {
	return state.Safe(func() error {
		return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketDirs).Delete([]byte(path)) })
	})
}

func (s *spool) openDirs() ([]Dir, error) {
	var out []Dir
	err := state.Safe(func() error {
		return s.db.View(func(tx *bolt.Tx) error {
			return tx.Bucket(bucketDirs).ForEach(func(_, v []byte) error {
				var d Dir
				if err := json.Unmarshal(v, &d); err != nil {
					return err
				}
				out = append(out, d)
				return nil
			})
		})
	})
	return out, err
}
