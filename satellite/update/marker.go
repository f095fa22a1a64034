package update

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// MarkerFile in the state directory records an update in progress: written before the swap,
// counted at every start of the new binary, removed when it passes its trial. After a rollback
// it stays (state rolled_back) until the previous binary has reported the rollback.
const MarkerFile = "update.json"

// Marker states.
const (
	stateTrial      = "trial"
	stateRolledBack = "rolled_back"
)

// marker is the content of MarkerFile.
type marker struct {
	State     string    `json:"state"`
	From      string    `json:"from"`
	To        string    `json:"to"`
	ReleaseID string    `json:"release_id"`
	Binary    string    `json:"binary"`
	Previous  string    `json:"previous"`
	Starts    int       `json:"starts"`
	SwappedAt time.Time `json:"swapped_at"`
	Reason    string    `json:"reason,omitempty"`
}

func markerPath(stateDir string) string { return filepath.Join(stateDir, MarkerFile) }

// readMarker returns the marker, or ok false when there is none.
func readMarker(stateDir string) (m marker, ok bool, err error) {
	raw, err := os.ReadFile(markerPath(stateDir))
	if errors.Is(err, fs.ErrNotExist) {
		return m, false, nil
	}
	if err != nil {
		return m, false, fmt.Errorf("update marker: %w", err)
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return m, false, fmt.Errorf("update marker %s is damaged (%w): delete it; the runner then keeps the binary it has", markerPath(stateDir), err)
	}
	return m, true, nil
}

// writeMarker replaces the marker durably (temp file, fsync, rename, fsync of the directory).
func writeMarker(stateDir string, m marker) error {
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("update marker: %w", err)
	}
	return writeFileAtomic(markerPath(stateDir), raw, 0o600)
}

func removeMarker(stateDir string) error {
	if err := os.Remove(markerPath(stateDir)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("update marker: %w", err)
	}
	return syncDir(stateDir)
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir) // #nosec G304 -- our own directory
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
