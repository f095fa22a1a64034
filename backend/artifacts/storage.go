package artifacts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ErrObjectNotFound is returned by a Storage for a key it does not hold.
var ErrObjectNotFound = errors.New("artifact object not found")

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Size    int64
	ModTime time.Time
}

// Storage holds the bytes of artifacts by key. Put is atomic: a reader sees the whole object
// or none (a crash mid-Put leaves no object). The interface is what an object store offers
// (put, ranged get, delete, head), so an S3 implementation fits beside the filesystem one.
type Storage interface {
	// Put stores size bytes read from r under key, replacing any object there. It fails if r
	// gives fewer or more bytes than size.
	Put(ctx context.Context, key string, r io.Reader, size int64) error
	// OpenRange reads length bytes of the object from offset (length < 0: to the end).
	OpenRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error)
	// Stat describes the object.
	Stat(ctx context.Context, key string) (ObjectInfo, error)
	// Delete removes the object; deleting a missing object is no error.
	Delete(ctx context.Context, key string) error
}

// FS is the filesystem Storage: objects are files under Dir, written to a temporary file in
// the same directory, fsynced, renamed into place and the directory fsynced.
type FS struct {
	Dir string
}

// NewFS makes the storage directory (0700) and returns the storage.
func NewFS(dir string) (*FS, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("artifact storage %s: %w", dir, err)
	}
	return &FS{Dir: dir}, nil
}

// path maps a key ("team/source/id/artifact") to a file under Dir, refusing anything that
// would leave it.
func (f *FS) path(key string) (string, error) {
	clean := filepath.Clean("/" + key)
	if key == "" || clean == "/" || strings.Contains(key, "..") || strings.ContainsRune(key, 0) {
		return "", fmt.Errorf("artifact storage: invalid key %q", key)
	}
	return filepath.Join(f.Dir, clean), nil
}

// Put implements Storage.
func (f *FS) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	p, err := f.path(key)
	if err != nil {
		return err
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("artifact storage: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".put-*")
	if err != nil {
		return fmt.Errorf("artifact storage: %w", err)
	}
	done := false
	defer func() {
		if !done {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	n, err := io.Copy(tmp, io.LimitReader(ctxReader{ctx, r}, size+1))
	switch {
	case err != nil:
		return fmt.Errorf("artifact storage: write %s: %w", key, err)
	case n != size:
		return fmt.Errorf("artifact storage: write %s: got %d bytes, expected %d", key, n, size)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("artifact storage: sync %s: %w", key, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("artifact storage: close %s: %w", key, err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return fmt.Errorf("artifact storage: %w", err)
	}
	done = true
	return syncDir(dir)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir) // #nosec G304 -- a directory under the storage root
	if err != nil {
		return fmt.Errorf("artifact storage: %w", err)
	}
	defer func() { _ = d.Close() }()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("artifact storage: sync %s: %w", dir, err)
	}
	return nil
}

// OpenRange implements Storage.
func (f *FS) OpenRange(_ context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	p, err := f.path(key)
	if err != nil {
		return nil, err
	}
	file, err := os.Open(p) // #nosec G304 -- p is under the storage root (path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrObjectNotFound, key)
	}
	if err != nil {
		return nil, fmt.Errorf("artifact storage: %w", err)
	}
	if _, err := file.Seek(offset, io.SeekStart); err != nil {
		_ = file.Close()
		return nil, fmt.Errorf("artifact storage: %w", err)
	}
	if length < 0 {
		return file, nil
	}
	return struct {
		io.Reader
		io.Closer
	}{io.LimitReader(file, length), file}, nil
}

// Stat implements Storage.
func (f *FS) Stat(_ context.Context, key string) (ObjectInfo, error) {
	p, err := f.path(key)
	if err != nil {
		return ObjectInfo{}, err
	}
	fi, err := os.Stat(p)
	if errors.Is(err, os.ErrNotExist) {
		return ObjectInfo{}, fmt.Errorf("%w: %s", ErrObjectNotFound, key)
	}
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("artifact storage: %w", err)
	}
	return ObjectInfo{Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// Delete implements Storage.
func (f *FS) Delete(_ context.Context, key string) error {
	p, err := f.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("artifact storage: %w", err)
	}
	return nil
}

// ctxReader stops a long copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// ReadSeeker reads a stored object of a known size through ranged reads, so http.ServeContent
// can answer range requests from any Storage: each Seek drops the open range, the next Read
// opens one from the new offset to the end.
type ReadSeeker struct {
	ctx     context.Context
	storage Storage
	key     string
	size    int64
	off     int64
	body    io.ReadCloser
}

// NewReadSeeker reads key (size bytes) from storage.
func NewReadSeeker(ctx context.Context, storage Storage, key string, size int64) *ReadSeeker {
	return &ReadSeeker{ctx: ctx, storage: storage, key: key, size: size}
}

// Read implements io.Reader.
func (r *ReadSeeker) Read(p []byte) (int, error) {
	if r.off >= r.size {
		return 0, io.EOF
	}
	if r.body == nil {
		body, err := r.storage.OpenRange(r.ctx, r.key, r.off, r.size-r.off)
		if err != nil {
			return 0, err
		}
		r.body = body
	}
	n, err := r.body.Read(p)
	r.off += int64(n)
	return n, err
}

// Seek implements io.Seeker.
func (r *ReadSeeker) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = r.off + offset
	case io.SeekEnd:
		abs = r.size + offset
	default:
		return 0, errors.New("artifact reader: invalid whence")
	}
	if abs < 0 {
		return 0, errors.New("artifact reader: negative position")
	}
	if abs != r.off {
		r.closeBody()
		r.off = abs
	}
	return abs, nil
}

// Close releases the open range.
func (r *ReadSeeker) Close() error {
	r.closeBody()
	return nil
}

func (r *ReadSeeker) closeBody() {
	if r.body != nil {
		_ = r.body.Close()
		r.body = nil
	}
}
