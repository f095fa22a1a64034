package fakebackend

import (
	"bytes"
	"net/http"
	"strings"
	"time"

	"github.com/talos-gs/talos/backend/api"
)

// AddRelease serves data as release artifact id at GET /api/satellites/{id}/releases/{rid}.
func (b *Backend) AddRelease(id string, data []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.releases == nil {
		b.releases = map[string][]byte{}
	}
	b.releases[id] = data
}

// RefusePollsFromVersion answers every poll of a runner whose User-Agent is
// talos-satellite/<version> with 500, as a backend that cannot serve that release would: such a
// runner never completes a successful poll. "" stops refusing.
func (b *Backend) RefusePollsFromVersion(version string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refuseVersion = version
}

func (b *Backend) refusedVersion(r *http.Request) bool {
	b.mu.Lock()
	v := b.refuseVersion
	b.mu.Unlock()
	return v != "" && strings.HasPrefix(r.Header.Get("User-Agent"), "talos-satellite/"+v)
}

func (b *Backend) release(w http.ResponseWriter, r *http.Request, _ *satellite) {
	b.mu.Lock()
	data, ok := b.releases[r.PathValue("rid")]
	b.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, api.ErrNotFound, "no such release")
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	http.ServeContent(w, r, "artifact", time.Time{}, bytes.NewReader(data))
}
