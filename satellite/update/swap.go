package update

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/talos-gs/talos/backend/api"
)

func dirOf(path string) string { return filepath.Dir(path) }

// download writes the artifact to a temporary file next to the binary (same file system, so
// the swap is a rename), hashing it on the way, fsyncs it and checks size and SHA-256; a
// mismatch is refused and the file removed.
func (u *Updater) download(ctx context.Context, p api.RunnerUpdatePayload) (string, error) {
	tmp := u.binary + ".download"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o700) // #nosec G302 G304 -- our own binary's directory
	if err != nil {
		return "", fmt.Errorf("download %s: %w (the binary's directory must be writable: see the unit's ReadWritePaths)", p.Version, err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	h := sha256.New()
	w := &limitedWriter{w: io.MultiWriter(f, h), left: p.Size}
	if err := u.opts.Download(ctx, p.ReleaseID, w); err != nil {
		return "", fmt.Errorf("download %s: %w", p.Version, err)
	}
	if w.over || w.left != 0 {
		return "", u.refuse(p, fmt.Sprintf("the artifact is not %d bytes long", p.Size))
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != p.SHA256 {
		return "", u.refuse(p, fmt.Sprintf("the artifact's SHA-256 is %s, the signed release says %s", got, p.SHA256))
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("download %s: %w", p.Version, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("download %s: %w", p.Version, err)
	}
	// #nosec G302 -- an executable
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", fmt.Errorf("download %s: %w", p.Version, err)
	}
	ok = true
	return tmp, nil
}

// limitedWriter fails a write past the expected size, so a wrong artifact cannot fill the disk.
type limitedWriter struct {
	w    io.Writer
	left int64
	over bool
}

var errTooLong = errors.New("the artifact is longer than the release says")

func (l *limitedWriter) Write(b []byte) (int, error) {
	if int64(len(b)) > l.left {
		l.over = true
		return 0, errTooLong
	}
	n, err := l.w.Write(b)
	l.left -= int64(n)
	return n, err
}

// swap keeps the running binary as <binary>.previous (a hard link, else a copy), records the
// trial marker, then renames the new binary over the old one and makes the rename durable.
func (u *Updater) swap(tmp string, p api.RunnerUpdatePayload) error {
	prev := u.binary + ".previous"
	if err := keepPrevious(u.binary, prev); err != nil {
		return fmt.Errorf("keep the previous binary as %s: %w", prev, err)
	}
	m := marker{State: stateTrial, From: u.opts.Version, To: p.Version, ReleaseID: p.ReleaseID, Binary: u.binary,
		Previous: prev, SwappedAt: u.opts.Clock.Now().UTC()}
	if err := writeMarker(u.opts.StateDir, m); err != nil {
		return err
	}
	if err := os.Rename(tmp, u.binary); err != nil {
		_ = removeMarker(u.opts.StateDir)
		return fmt.Errorf("swap in %s: %w", p.Version, err)
	}
	return syncDir(dirOf(u.binary))
}

func keepPrevious(bin, prev string) error {
	if err := os.Remove(prev); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.Link(bin, prev); err == nil {
		return syncDir(dirOf(prev))
	}
	src, err := os.Open(bin) // #nosec G304 -- our own binary
	if err != nil {
		return err
	}
	defer func() { _ = src.Close() }()
	raw, err := io.ReadAll(src)
	if err != nil {
		return err
	}
	return writeFileAtomic(prev, raw, 0o755)
}
