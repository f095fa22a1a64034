// Package releases keeps talos-satellite release artifacts for runner.update (decision 0103):
// an upload is streamed to a temporary file in its own directory under the data directory,
// checked against the size and SHA-256 the operator declared (and the signature's form; the
// backend never holds the private key and cannot check it without the stations' public key),
// then renamed under the release's id and recorded. Stations download it through the
// satellite API. No HTTP here: the server's handlers call it.
package releases

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
	"github.com/talos-gs/talos/backend/store"
)

// Releases is the artifact store: rows in the database, bytes in Dir.
type Releases struct {
	Store *store.Store
	// Dir holds one file per release, named by its id (mode 0700).
	Dir string
}

// Upload is what the operator declares about an artifact.
type Upload struct {
	Version, OS, Arch string
	Size              int64
	SHA256, Signature string
	CreatedBy         *string
}

// InvalidError is an upload that does not match what was declared; Field names the parameter.
type InvalidError struct{ Field, Message string }

func (e *InvalidError) Error() string { return e.Field + ": " + e.Message }

// Create validates up, streams body to disk while hashing it, and records the release once the
// bytes match. Nothing is kept of a failed upload.
func (r *Releases) Create(ctx context.Context, up Upload, body io.Reader) (*store.Release, error) {
	if err := api.ValidateRelease(up.Version, up.OS, up.Arch, up.Size, up.SHA256, up.Signature); err != nil {
		var pe *api.RunnerPayloadError
		if errors.As(err, &pe) {
			return nil, &InvalidError{Field: pe.Field, Message: pe.Message}
		}
		return nil, err
	}
	if err := os.MkdirAll(r.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("release directory: %w", err)
	}
	rel := &store.Release{ID: store.NewID(), Version: up.Version, OS: up.OS, Arch: up.Arch, Size: up.Size,
		SHA256: up.SHA256, Signature: up.Signature, CreatedBy: up.CreatedBy, CreatedAt: r.Store.Now()}
	tmp, err := r.receive(body, up)
	if err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, r.path(rel.ID)); err != nil {
		_ = os.Remove(tmp)
		return nil, fmt.Errorf("store release: %w", err)
	}
	if err := r.Store.CreateRelease(ctx, rel); err != nil {
		_ = os.Remove(r.path(rel.ID))
		return nil, err
	}
	return rel, nil
}

func (r *Releases) receive(body io.Reader, up Upload) (string, error) {
	f, err := os.CreateTemp(r.Dir, ".upload-*")
	if err != nil {
		return "", fmt.Errorf("store release: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(body, up.Size+1))
	if err != nil {
		return "", fmt.Errorf("receive release: %w", err)
	}
	if n != up.Size {
		return "", &InvalidError{Field: "size", Message: fmt.Sprintf("the body is %s bytes, the upload declares %d", sizeText(n, up.Size), up.Size)}
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != up.SHA256 {
		return "", &InvalidError{Field: "sha256", Message: fmt.Sprintf("the body's SHA-256 is %s, the upload declares %s", got, up.SHA256)}
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("store release: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("store release: %w", err)
	}
	ok = true
	return f.Name(), nil
}

func sizeText(n, declared int64) string {
	if n > declared {
		return fmt.Sprintf("more than %d", declared)
	}
	return fmt.Sprint(n)
}

// Open returns a release and its bytes for download; the caller closes the file.
func (r *Releases) Open(ctx context.Context, id string) (*store.Release, *os.File, error) {
	rel, err := r.Store.ReleaseByID(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	f, err := os.Open(r.path(rel.ID))
	if err != nil {
		return nil, nil, fmt.Errorf("release %s: its file is missing from %s: %w", id, r.Dir, err)
	}
	return rel, f, nil
}

// Delete removes a release's row, then its file.
func (r *Releases) Delete(ctx context.Context, id string) error {
	if err := r.Store.DeleteRelease(ctx, id); err != nil {
		return err
	}
	if err := os.Remove(r.path(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("delete release %s: %w", id, err)
	}
	return nil
}

// UpdatePayload is the runner.update payload that installs rel.
func UpdatePayload(rel *store.Release) api.RunnerUpdatePayload {
	return api.RunnerUpdatePayload{ReleaseID: rel.ID, Version: rel.Version, OS: rel.OS, Arch: rel.Arch,
		Size: rel.Size, SHA256: rel.SHA256, Signature: rel.Signature}
}

func (r *Releases) path(id string) string { return filepath.Join(r.Dir, filepath.Base(id)) }
