package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// sqliteFileMode is the mode of the SQLite database and its -wal and -shm files: they hold
// password hashes, session digests and every team's data, so only the backend's user may read
// them, wherever the file lives and whatever the umask or the directory's mode.
const sqliteFileMode fs.FileMode = 0o600

// sqliteCompanions are the files SQLite keeps beside the database in WAL mode. SQLite creates
// them with the database file's mode, so a 0600 database gets 0600 companions; existing ones
// (from a run before this rule) are tightened here.
var sqliteCompanions = []string{"-wal", "-shm"}

// sqliteFilePath is the file a SQLite URL names (the part before any "?options").
func sqliteFilePath(u string) string {
	base, _, _ := strings.Cut(strings.TrimPrefix(u, "file:"), "?")
	return base
}

// secureSQLiteFile creates the database file with mode 0600 if it does not exist yet, so SQLite
// never creates it with its default 0644, and tightens an existing database and its companions
// to 0600.
func secureSQLiteFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, sqliteFileMode)
	if err != nil {
		return fmt.Errorf("open database: create %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("open database: create %s: %w", path, err)
	}
	for _, p := range append([]string{path}, companionPaths(path)...) {
		if err := tighten(p); err != nil {
			return err
		}
	}
	return nil
}

func companionPaths(path string) []string {
	out := make([]string, len(sqliteCompanions))
	for i, suffix := range sqliteCompanions {
		out[i] = path + suffix
	}
	return out
}

// tighten sets p's mode to 0600 when it exists and is any wider.
func tighten(p string) error {
	info, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	if info.Mode().Perm() == sqliteFileMode {
		return nil
	}
	if err := os.Chmod(p, sqliteFileMode); err != nil {
		return fmt.Errorf("open database: restrict %s to mode 0600: %w", p, err)
	}
	return nil
}
