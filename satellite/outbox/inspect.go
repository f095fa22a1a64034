package outbox

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"

	"github.com/talos-gs/talos/satellite/state"
)

// Figures are the queue's totals as stored on disk.
type Figures struct {
	Depth   int   `json:"depth"`
	Bytes   int64 `json:"bytes"`
	Dropped int64 `json:"dropped"`
	// Quarantined is the number of events the backend refused, kept in the file.
	Quarantined int64 `json:"quarantined"`
}

// Inspect reads the queue's totals from a state directory without a running runner (read-only;
// it fails with a clear error while a runner holds the file).
func Inspect(dir string) (Figures, error) {
	path := filepath.Join(dir, state.OutboxFile)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return Figures{}, nil
	}
	db, err := state.OpenBoltReadOnly(path)
	if err != nil {
		return Figures{}, err
	}
	defer func() { _ = db.Close() }()
	var f Figures
	err = state.Safe(func() error {
		return db.View(func(tx *bolt.Tx) error {
			if tx.Bucket(bucketMeta) == nil {
				return nil
			}
			c := readCounters(tx)
			f = Figures{Depth: int(c.Count), Bytes: c.Bytes, Dropped: c.Dropped, Quarantined: c.Quarantined}
			return nil
		})
	})
	return f, err
}
