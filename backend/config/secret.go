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
	return loadOrCreateKeyFile(filepath.Join(c.DataDir, SecretKeyFile))
}

func loadOrCreateKeyFile(path string) ([]byte, error) {
	key, err := readKeyFile(path)
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
		return readKeyFile(path)
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

func readKeyFile(path string) ([]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("secret key file: %w", err)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("secret key file %s has mode %04o, which lets other users read it; "+
			"run `chmod 600 %s` (or set TALOS_SECRET_KEY)", path, perm, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read secret key file: %w", err)
	}
	key := strings.TrimSpace(string(b))
	if len(key) < 32 {
		return nil, fmt.Errorf("secret key file %s holds fewer than 32 characters", path)
	}
	return []byte(key), nil
}
