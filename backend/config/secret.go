package config

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// SecretKeyFile is the name of the generated key file inside the data directory.
const SecretKeyFile = "secret.key"

// SecretKey returns the server's secret key: TALOS_SECRET_KEY when set, else the key in
// <data dir>/secret.key, generated (32 random bytes, hex) with mode 0600 on first use. A key
// file readable by group or others is refused: anyone who can read it can forge CSRF tokens and
// registration tokens.
func (c *Config) SecretKey() ([]byte, error) {
	if c.SecretKeyEnv != "" {
		return []byte(c.SecretKeyEnv), nil
	}
	return loadOrCreateKeyFile(filepath.Join(c.DataDir, SecretKeyFile), "TALOS_SECRET_KEY")
}

// KeyPepperFile is the name of the generated pepper file inside the data directory.
const KeyPepperFile = "key-pepper"

// KeyPeppers returns the pepper of the keyed hash of API keys and personal tokens (decision
// 0092) and the previous peppers whose hashes still verify: TALOS_KEY_PEPPER when set, else the
// first line of <data dir>/key-pepper, generated (32 random bytes, hex) with mode 0600 on first
// use; previous ones are TALOS_KEY_PEPPER_PREVIOUS and the file's further lines. The pepper is
// kept apart from the secret key on purpose: changing that key must not revoke every station.
// A pepper file readable by group or others is refused, like the key file.
func (c *Config) KeyPeppers() (current []byte, previous [][]byte, err error) {
	for _, p := range c.PreviousPeppersEnv {
		previous = append(previous, []byte(p))
	}
	if c.KeyPepperEnv != "" {
		return []byte(c.KeyPepperEnv), previous, nil
	}
	path := filepath.Join(c.DataDir, KeyPepperFile)
	content, err := loadOrCreateKeyFile(path, "TALOS_KEY_PEPPER")
	if err != nil {
		return nil, nil, err
	}
	lines := strings.Split(string(content), "\n") // one pepper a line; content is trimmed
	for i, line := range lines[1:] {
		line = strings.TrimSpace(line)
		if len(line) < 32 {
			return nil, nil, fmt.Errorf("pepper file %s: line %d holds fewer than 32 characters", path, i+2)
		}
		previous = append(previous, []byte(line))
	}
	return []byte(strings.TrimSpace(lines[0])), previous, nil
}

// loadOrCreateKeyFile reads the key file at path, or creates it with a new random key; env names
// the variable that replaces the file, for the error messages.
func loadOrCreateKeyFile(path, env string) ([]byte, error) {
	key, err := readKeyFile(path, env)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create data directory for the secret key: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("generate secret key: %w", err)
	}
	encoded := hex.EncodeToString(raw)
	// O_EXCL: if two processes start at once, one creates the file and the other reads it.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return readKeyFile(path, env)
	}
	if err != nil {
		return nil, fmt.Errorf("create secret key file: %w", err)
	}
	if _, err := f.WriteString(encoded + "\n"); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("write secret key file %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write secret key file %s: %w", path, err)
	}
	return []byte(encoded), nil
}

func readKeyFile(path, env string) ([]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("key file %s has mode %04o, which lets other users read it; "+
			"run `chmod 600 %s` (or set %s)", path, perm, path, env)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	key := strings.TrimSpace(string(b))
	if first, _, _ := strings.Cut(key, "\n"); len(strings.TrimSpace(first)) < 32 {
		return nil, fmt.Errorf("key file %s holds fewer than 32 characters", path)
	}
	return []byte(key), nil
}
