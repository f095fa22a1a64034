package server_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/server"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

type releaseResp struct {
	ID            string                  `json:"id"`
	Version       string                  `json:"version"`
	Size          int64                   `json:"size"`
	SHA256        string                  `json:"sha256"`
	UpdatePayload api.RunnerUpdatePayload `json:"update_payload"`
}

func releaseQuery(version string, data []byte, key ed25519.PrivateKey) url.Values {
	sum := sha256.Sum256(data)
	h := hex.EncodeToString(sum[:])
	sig := ed25519.Sign(key, api.ReleaseMessage(version, "linux", "arm64", h))
	return url.Values{"version": {version}, "os": {"linux"}, "arch": {"arm64"}, "size": {fmt.Sprint(len(data))},
		"sha256": {h}, "signature": {base64.StdEncoding.EncodeToString(sig)}}
}

func withReleases(dir string) func(*server.Options) {
	return func(o *server.Options) { o.ReleasesDir = dir }
}

// TestReleasesUploadDownloadDelete: a global administrator uploads an artifact (size and hash
// checked against what is declared), a station downloads it whole or by range with its key,
// others may not upload, and a deleted release is gone for stations too.
func TestReleasesUploadDownloadDelete(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		p := newProtocol(t, st, withReleases(t.TempDir()))
		_, key, err := ed25519.GenerateKey(rand.Reader)
		require.NoError(t, err)
		data := []byte("#!talos-satellite 2.0.0 for linux/arm64, not a real binary\n")
		q := releaseQuery("2.0.0", data, key)

		r := p.owner.Do(t, http.MethodPost, "/api/releases?"+q.Encode(), data, "Content-Type", "application/octet-stream")
		require.Equal(t, http.StatusForbidden, r.Status, "a team owner is not a global administrator")

		bad := releaseQuery("2.0.0", data, key)
		bad.Set("sha256", hex.EncodeToString(make([]byte, 32)))
		r = p.admin.Do(t, http.MethodPost, "/api/releases?"+bad.Encode(), data, "Content-Type", "application/octet-stream")
		require.Equal(t, http.StatusBadRequest, r.Status, string(r.Body))
		assert.Equal(t, "sha256", r.Error(t).Field)
		short := releaseQuery("2.0.0", data, key)
		short.Set("size", fmt.Sprint(len(data)+1))
		r = p.admin.Do(t, http.MethodPost, "/api/releases?"+short.Encode(), data, "Content-Type", "application/octet-stream")
		require.Equal(t, http.StatusBadRequest, r.Status, string(r.Body))
		assert.Equal(t, "size", r.Error(t).Field)
		noSig := releaseQuery("2.0.0", data, key)
		noSig.Set("signature", "c2lnbmF0dXJl")
		r = p.admin.Do(t, http.MethodPost, "/api/releases?"+noSig.Encode(), data, "Content-Type", "application/octet-stream")
		require.Equal(t, http.StatusBadRequest, r.Status, string(r.Body))
		assert.Equal(t, "signature", r.Error(t).Field)

		r = p.admin.Do(t, http.MethodPost, "/api/releases?"+q.Encode(), data, "Content-Type", "application/octet-stream")
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		var rel releaseResp
		r.JSON(t, &rel)
		assert.Equal(t, int64(len(data)), rel.Size)
		require.NoError(t, rel.UpdatePayload.Validate())
		r = p.admin.Do(t, http.MethodPost, "/api/releases?"+q.Encode(), data, "Content-Type", "application/octet-stream")
		require.Equal(t, http.StatusConflict, r.Status, "the same version and platform twice")

		r = p.admin.Do(t, http.MethodGet, "/api/releases", nil)
		require.Equal(t, http.StatusOK, r.Status)
		assert.Contains(t, string(r.Body), rel.ID)
		require.Equal(t, http.StatusForbidden, p.owner.Do(t, http.MethodGet, "/api/releases", nil).Status)

		sta := p.newStation(t, "gs-1")
		r = sta.c.Do(t, http.MethodGet, sta.path("/releases/"+rel.ID), nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		assert.Equal(t, data, r.Body)
		r = sta.c.Do(t, http.MethodGet, sta.path("/releases/"+rel.ID), nil, "Range", "bytes=10-")
		require.Equal(t, http.StatusPartialContent, r.Status)
		assert.Equal(t, data[10:], r.Body)
		other := p.newStation(t, "gs-2")
		r = other.c.Do(t, http.MethodGet, sta.path("/releases/"+rel.ID), nil)
		assert.Equal(t, http.StatusNotFound, r.Status, "a station downloads on its own path only: %s", r.Body)

		// The runner.update payload is checked at queueing like every built-in command's.
		payload := rel.UpdatePayload
		payload.SHA256 = "XYZ"
		r = p.owner.Do(t, http.MethodPost, sta.path("/commands"), map[string]any{"type": api.CommandRunnerUpdate, "payload": payload})
		require.Equal(t, http.StatusBadRequest, r.Status, string(r.Body))
		assert.Equal(t, "payload.sha256", r.Error(t).Field)
		p.queue(t, p.owner, sta.SatelliteID, map[string]any{"type": api.CommandRunnerUpdate, "payload": rel.UpdatePayload})

		require.Equal(t, http.StatusNoContent, p.admin.Do(t, http.MethodDelete, "/api/releases/"+rel.ID, nil).Status)
		assert.Equal(t, http.StatusNotFound, sta.c.Do(t, http.MethodGet, sta.path("/releases/"+rel.ID), nil).Status)
		assert.Equal(t, http.StatusNotFound, p.admin.Do(t, http.MethodDelete, "/api/releases/"+rel.ID, nil).Status)
	})
}

// uploadRelease uploads data as a release for linux/arm64 as the global administrator and
// returns its id.
func (p *protocol) uploadRelease(t *testing.T, version string, data []byte) string {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	r := p.admin.Do(t, http.MethodPost, "/api/releases?"+releaseQuery(version, data, key).Encode(), data,
		"Content-Type", "application/octet-stream")
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	var rel releaseResp
	r.JSON(t, &rel)
	return rel.ID
}
