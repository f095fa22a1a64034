// Package state keeps what a station must remember across restarts in its state directory:
// its identity and API key (written by `talos-satellite register`) and the record of every
// command it has accepted, so a command delivered twice runs once.
//
// Layout (directory mode 0700, files 0600):
//
//	identity.json  satellite id, team id, backend URL, name, location, intervals
//	api_key        the bearer key, alone in its file so it never lands in a log or a diff
//	commands.db    bbolt: executed command ids and their outcome, the maintenance flag
//	outbox.db      bbolt: queued events (package outbox)
//	status.json    the runner's last status snapshot, for `talos-satellite status`
package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/talos-gs/talos/backend/api"
)

// File names inside the state directory.
const (
	IdentityFile = "identity.json"
	APIKeyFile   = "api_key"
	CommandsFile = "commands.db"
	OutboxFile   = "outbox.db"
	StatusFile   = "status.json"
)

// ErrNotRegistered means the state directory holds no identity yet.
var ErrNotRegistered = errors.New("this station is not registered: run `talos-satellite register --backend URL --token TOKEN --name NAME`")

// ErrKeyFileExposed means the api_key file is readable or writable by group or others.
var ErrKeyFileExposed = errors.New("API key file is open to other users")

// Identity is who this station is to its backend.
type Identity struct {
	SatelliteID  string        `json:"satellite_id"`
	TeamID       string        `json:"team_id,omitempty"`
	BackendURL   string        `json:"backend_url"`
	Name         string        `json:"name"`
	Location     api.Location  `json:"location"`
	Intervals    api.Intervals `json:"intervals"`
	RegisteredAt time.Time     `json:"registered_at"`
}

// Validate checks the fields a runner needs.
func (id Identity) Validate() error {
	switch {
	case id.SatelliteID == "":
		return errors.New("satellite_id is empty")
	case id.BackendURL == "":
		return errors.New("backend_url is empty")
	}
	return nil
}

// EnsureDir creates dir with mode 0700, or tightens an existing one to 0700.
func EnsureDir(dir string) error {
	if dir == "" {
		return errors.New("state directory: empty path (set state_dir or --state-dir)")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create state directory %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil { //nolint:gosec // a directory needs x to be entered; 0700 is owner-only
		return fmt.Errorf("restrict state directory %s to 0700: %w", dir, err)
	}
	return nil
}

// SaveIdentity writes the identity and the API key atomically, each 0600.
func SaveIdentity(dir string, id Identity, apiKey string) error {
	if err := id.Validate(); err != nil {
		return fmt.Errorf("save identity: %w", err)
	}
	if apiKey == "" {
		return errors.New("save identity: empty API key")
	}
	if err := EnsureDir(dir); err != nil {
		return err
	}
	raw, err := json.MarshalIndent(id, "", "  ")
	if err != nil {
		return fmt.Errorf("encode identity: %w", err)
	}
	// The key goes first: an identity without its key would look registered but fail with 401.
	if err := WriteFileAtomic(filepath.Join(dir, APIKeyFile), []byte(apiKey+"\n")); err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(dir, IdentityFile), append(raw, '\n'))
}

// SaveIntervals updates the intervals kept in identity.json (config.update from the backend).
func SaveIntervals(dir string, iv api.Intervals) error {
	id, err := readIdentity(filepath.Join(dir, IdentityFile))
	if err != nil {
		return err
	}
	id.Intervals = iv
	raw, err := json.MarshalIndent(id, "", "  ")
	if err != nil {
		return fmt.Errorf("encode identity: %w", err)
	}
	return WriteFileAtomic(filepath.Join(dir, IdentityFile), append(raw, '\n'))
}

// LoadIdentity reads the identity and API key. A missing identity is ErrNotRegistered; a
// corrupt or unreadable file is an error naming the file and what to do about it.
func LoadIdentity(dir string) (Identity, string, error) {
	id, err := readIdentity(filepath.Join(dir, IdentityFile))
	if err != nil {
		return Identity{}, "", err
	}
	key, err := readAPIKey(filepath.Join(dir, APIKeyFile))
	if err != nil {
		return Identity{}, "", err
	}
	return id, key, nil
}

// ReadIdentity reads only identity.json (for status, which never needs the key).
func ReadIdentity(dir string) (Identity, error) {
	return readIdentity(filepath.Join(dir, IdentityFile))
}

func readIdentity(path string) (Identity, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Identity{}, ErrNotRegistered
	}
	if err != nil {
		return Identity{}, fmt.Errorf("read state file %s: %w (check the file's owner and mode: the runner's user must read it)", path, err)
	}
	id, err := ParseIdentity(raw)
	if err != nil {
		return Identity{}, fmt.Errorf("state file %s is corrupt: %w (restore it from a backup, or delete it and run `talos-satellite register` again)", path, err)
	}
	return id, nil
}

// ParseIdentity decodes and validates identity.json.
func ParseIdentity(raw []byte) (Identity, error) {
	var id Identity
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&id); err != nil {
		return Identity{}, fmt.Errorf("decode: %w", err)
	}
	if err := id.Validate(); err != nil {
		return Identity{}, err
	}
	return id, nil
}

func readAPIKey(path string) (string, error) {
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("state file %s is missing: run `talos-satellite register` again to get a new key", path)
	}
	if err != nil {
		return "", fmt.Errorf("read state file %s: %w (check the file's owner and mode: the runner's user must read it)", path, err)
	}
	// Whoever reads the key can act as the station; refuse to run with it exposed, as the
	// backend refuses its own secret key file.
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Errorf("%w: state file %s has mode %04o, which lets other users read the station's API key; "+
			"run `chmod 600 %s` (and consider the key exposed: register again to rotate it if others could log in)",
			ErrKeyFileExposed, path, perm, path)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read state file %s: %w (check the file's owner and mode: the runner's user must read it)", path, err)
	}
	key := strings.TrimSpace(string(raw))
	if key == "" || strings.ContainsAny(key, " \t\r\n") {
		return "", fmt.Errorf("state file %s is corrupt: expected one API key on one line (run `talos-satellite register` again)", path)
	}
	return key, nil
}

// WriteFileAtomic writes data to path with mode 0600 through a synced temporary file and a
// rename, so a crash leaves either the old or the new file, never half of one.
func WriteFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }() // no-op after the rename
	if err := writeAndSync(tmp, data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}

func writeAndSync(f *os.File, data []byte) error {
	if err := f.Chmod(0o600); err != nil {
		_ = f.Close()
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
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer func() { _ = d.Close() }()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
