package client

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/talos-gs/talos/backend/api"
)

// The satellite side of the upload protocol: tus 1.0 core, creation and termination
// (docs/protocol.md "Uploads"). It is small on purpose: create (POST), ask the offset (HEAD),
// send a chunk (PATCH), abandon (DELETE). Resuming is the caller's loop: HEAD, then PATCH from
// the offset the backend holds.

const tusVersion = "1.0.0"

// ForUploads returns a client of the same backend on its own transport: upload bodies hold a
// connection for seconds to minutes, and on a shared transport a poll or a heartbeat could wait
// for a connection behind them. With a transport given in Options (tests), that one is shared.
func (c *Client) ForUploads() (*Client, error) {
	o := c.opts
	o.Observer = nil
	return New(o)
}

// UploadStatus is what the backend says about an upload.
type UploadStatus struct {
	// Offset is how many bytes the backend holds.
	Offset int64
	// ArtifactID is set once the backend recorded the whole file as an artifact.
	ArtifactID string
}

// ErrUploadGone matches (errors.Is) a 404 on an upload: it was never created, was deleted
// after a hash mismatch, or was pruned after it became an artifact; start a new one.
var ErrUploadGone = errors.New("the backend no longer has this upload")

// CreateUpload starts an upload of size bytes with meta (api.UploadMeta* keys) and returns its
// path below the base URL.
func (s Satellite) CreateUpload(ctx context.Context, size int64, meta map[string]string) (string, error) {
	h := http.Header{}
	h.Set("Tus-Resumable", tusVersion)
	h.Set("Upload-Length", strconv.FormatInt(size, 10))
	h.Set("Upload-Metadata", encodeMetadata(meta))
	header, err := s.Client.do(ctx, call{op: "create upload", method: http.MethodPost, path: s.uploadsPath(), header: h})
	if err != nil {
		return "", err
	}
	return s.uploadPath(header.Get("Location"))
}

// UploadOffset asks how many bytes of the upload at path the backend holds.
func (s Satellite) UploadOffset(ctx context.Context, path string) (UploadStatus, error) {
	h := http.Header{}
	h.Set("Tus-Resumable", tusVersion)
	header, err := s.Client.do(ctx, call{op: "upload offset", method: http.MethodHead, path: path, header: h})
	if err != nil {
		return UploadStatus{}, gone(err)
	}
	return uploadStatus(header)
}

// UploadChunk sends n bytes from body at offset and returns the backend's new offset (and the
// artifact id once the file is whole). timeout bounds this one request.
func (s Satellite) UploadChunk(ctx context.Context, path string, offset int64, body io.Reader, n int64, timeout time.Duration) (UploadStatus, error) {
	h := http.Header{}
	h.Set("Tus-Resumable", tusVersion)
	h.Set("Upload-Offset", strconv.FormatInt(offset, 10))
	h.Set("Content-Type", "application/offset+octet-stream")
	header, err := s.Client.do(ctx, call{op: "upload chunk", method: http.MethodPatch, path: path, header: h,
		raw: body, rawLen: n, timeout: timeout})
	if err != nil {
		return UploadStatus{}, gone(err)
	}
	return uploadStatus(header)
}

// TerminateUpload abandons an upload; one the backend no longer has is no error.
func (s Satellite) TerminateUpload(ctx context.Context, path string) error {
	h := http.Header{}
	h.Set("Tus-Resumable", tusVersion)
	_, err := s.Client.do(ctx, call{op: "terminate upload", method: http.MethodDelete, path: path, header: h})
	if errors.Is(gone(err), ErrUploadGone) {
		return nil
	}
	return err
}

func (s Satellite) uploadsPath() string { return "/api/satellites/" + s.ID + "/uploads" }

// uploadPath accepts a Location only below this satellite's uploads path (as a path, or a URL
// of the same backend): the API key is sent there, so a Location elsewhere is refused, as
// redirects are (decision 0071).
func (s Satellite) uploadPath(location string) (string, error) {
	u, err := url.Parse(location)
	if err != nil {
		return "", fmt.Errorf("create upload: Location %q: %w", location, err)
	}
	if u.IsAbs() && (u.Scheme != s.Client.base.Scheme || u.Host != s.Client.base.Host) {
		return "", fmt.Errorf("create upload: Location %q is not on the backend %s", location, s.Client.base.Host)
	}
	path := strings.TrimPrefix(u.Path, strings.TrimRight(s.Client.base.Path, "/"))
	id, ok := strings.CutPrefix(path, s.uploadsPath()+"/")
	if !ok || id == "" || strings.ContainsAny(id, "/?#") {
		return "", fmt.Errorf("create upload: Location %q is not below %s", location, s.uploadsPath())
	}
	return path, nil
}

func uploadStatus(h http.Header) (UploadStatus, error) {
	off, err := strconv.ParseInt(h.Get("Upload-Offset"), 10, 64)
	if err != nil || off < 0 {
		return UploadStatus{}, &ProtocolError{Status: http.StatusOK, Err: fmt.Errorf("Upload-Offset %q", h.Get("Upload-Offset"))}
	}
	return UploadStatus{Offset: off, ArtifactID: h.Get(api.HeaderArtifactID)}, nil
}

func gone(err error) error {
	var ae *APIError
	if errors.As(err, &ae) && (ae.Status == http.StatusNotFound || ae.Status == http.StatusGone) {
		return fmt.Errorf("%w: %w", ErrUploadGone, err)
	}
	return err
}

// encodeMetadata is tus's Upload-Metadata: "key base64value" pairs, comma-separated, sorted
// so the header is the same for the same metadata.
func encodeMetadata(meta map[string]string) string {
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+" "+base64.StdEncoding.EncodeToString([]byte(meta[k])))
	}
	return strings.Join(parts, ",")
}
