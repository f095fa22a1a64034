package state

import (
	"errors"
	"fmt"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// lockTimeout bounds the wait for bbolt's file lock, held by a runner already using the file.
const lockTimeout = 2 * time.Second

// OpenBolt opens a bbolt file with mode 0600 and turns every failure, including a panic of bbolt
// on a damaged file, into an error naming the file and the remedy.
func OpenBolt(path string) (*bolt.DB, error) {
	return openBolt(path, false)
}

// OpenBoltReadOnly opens a bbolt file for reading (talos-satellite status).
func OpenBoltReadOnly(path string) (*bolt.DB, error) {
	return openBolt(path, true)
}

func openBolt(path string, readOnly bool) (db *bolt.DB, err error) {
	err = Safe(func() error {
		var openErr error
		db, openErr = bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout, ReadOnly: readOnly})
		return openErr
	})
	switch {
	case err == nil:
		return db, nil
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("state file %s is locked: another talos-satellite is running on this state directory (stop it first)", path)
	case errors.Is(err, os.ErrPermission):
		return nil, fmt.Errorf("state file %s is unreadable: %w (check the file's owner and mode: the runner's user must read and write it)", path, err)
	}
	return nil, corrupt(path, err)
}

func corrupt(path string, err error) error {
	return fmt.Errorf("state file %s is corrupt or unreadable: %w (stop the runner, move the file aside and start again; it is recreated empty)", path, err)
}

// Safe runs fn and converts a panic into an error. bbolt panics on some kinds of on-disk damage;
// a damaged file must fail one operation with a clear error, never the whole runner.
func Safe(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("storage panic: %v", r)
		}
	}()
	return fn()
}
