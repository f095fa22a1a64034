package server_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/artifacts"
	"github.com/talos-gs/talos/backend/server"
	"github.com/talos-gs/talos/backend/server/servertest"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

// withArtifacts turns the artifact routes on, storing under dir.
func withArtifacts(t testing.TB, _ *store.Store, dir string, policy artifacts.Policy) func(*server.Options) {
	return servertest.WithArtifacts(t, dir, policy)
}

// sendObservation records an observation.schedule for observationID as delivered to s.
func (p *protocol) sendObservation(t testing.TB, s *station, observationID string) {
	t.Helper()
	servertest.SendObservation(t, p.Store, s.SatelliteID, p.team.ID, observationID)
}

func tusMeta(m map[string]string) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, k+" "+base64.StdEncoding.EncodeToString([]byte(v)))
	}
	return strings.Join(parts, ",")
}

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// create starts an upload of body (announcing hash) and returns the answer.
func (s *station) createUpload(t testing.TB, observationID, name, kind string, size int, hash string) *servertest.Response {
	t.Helper()
	return s.c.Do(t, http.MethodPost, s.path("/uploads"), nil, "Tus-Resumable", "1.0.0", "Upload-Length", strconv.Itoa(size),
		"Upload-Metadata", tusMeta(map[string]string{api.UploadMetaSource: api.SourceObservation, api.UploadMetaSourceID: observationID,
			api.UploadMetaName: name, api.UploadMetaKind: kind, api.UploadMetaSHA256: hash}))
}

func (s *station) patch(t testing.TB, location string, offset int, chunk []byte) *servertest.Response {
	t.Helper()
	return s.c.Do(t, http.MethodPatch, location, chunk, "Tus-Resumable", "1.0.0", "Upload-Offset", strconv.Itoa(offset),
		"Content-Type", "application/offset+octet-stream")
}

func (s *station) head(t testing.TB, location string) *servertest.Response {
	t.Helper()
	return s.c.Do(t, http.MethodHead, location, nil, "Tus-Resumable", "1.0.0")
}

func TestUploadResumeDownloadWithRange(t *testing.T) {
	t.Parallel()
	forEachClocked(t, func(t *testing.T, st *store.Store, clk *testClock) {
		dir := t.TempDir()
		p := newProtocol(t, st, withClock(clk), withArtifacts(t, st, dir, artifacts.Policy{}))
		s := p.newStation(t, "roof")
		p.sendObservation(t, s, "obs-1")
		body := []byte(strings.Repeat("0123456789", 1000))

		r := s.createUpload(t, "obs-1", "pass.wav", api.ArtifactAudio, len(body), sha(body))
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		loc := r.Header.Get("Location")
		require.True(t, strings.HasPrefix(loc, s.path("/uploads/")), loc)

		r = s.patch(t, loc, 0, body[:4000])
		require.Equal(t, http.StatusNoContent, r.Status, string(r.Body))
		assert.Equal(t, "4000", r.Header.Get("Upload-Offset"))
		assert.Empty(t, r.Header.Get(api.HeaderArtifactID), "not whole yet")

		// The backend restarts: a new server on the same database and directories.
		p2 := servertest.New(t, st, withClock(clk), withArtifacts(t, st, dir, artifacts.Policy{}))
		s.c = p2.Anonymous(t)
		s.c.Bearer = s.APIKey
		r = s.head(t, loc)
		require.Equal(t, http.StatusOK, r.Status)
		assert.Equal(t, "4000", r.Header.Get("Upload-Offset"), "the acknowledged offset survives a restart")
		r = s.patch(t, loc, 3000, body[3000:])
		assert.Equal(t, http.StatusConflict, r.Status, "a wrong offset is refused")
		r = s.patch(t, loc, 4000, body[4000:])
		require.Equal(t, http.StatusNoContent, r.Status, string(r.Body))
		artifactID := r.Header.Get(api.HeaderArtifactID)
		require.NotEmpty(t, artifactID)
		r = s.head(t, loc)
		require.Equal(t, http.StatusOK, r.Status)
		assert.Equal(t, artifactID, r.Header.Get(api.HeaderArtifactID), "a HEAD after a lost answer names the same artifact")

		// Users: list, download, range.
		viewerU := p2.CreateUser(t, "viewer@example.org", false)
		p2.AddMember(t, p.team, viewerU, store.RoleViewer)
		viewer := p2.Login(t, viewerU)
		r = viewer.Do(t, http.MethodGet, "/api/teams/"+p.team.ID+"/artifacts?observation_id=obs-1", nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		var list struct {
			Artifacts []struct {
				ID, Kind, Name, SHA256 string
				Size                   int64
			}
		}
		r.JSON(t, &list)
		require.Len(t, list.Artifacts, 1)
		assert.Equal(t, artifactID, list.Artifacts[0].ID)
		assert.Equal(t, sha(body), list.Artifacts[0].SHA256)
		content := "/api/teams/" + p.team.ID + "/artifacts/" + artifactID + "/content"
		r = viewer.Do(t, http.MethodGet, content, nil)
		require.Equal(t, http.StatusOK, r.Status)
		assert.Equal(t, body, r.Body)
		r = viewer.Do(t, http.MethodGet, content, nil, "Range", "bytes=10-19")
		require.Equal(t, http.StatusPartialContent, r.Status)
		assert.Equal(t, "0123456789", string(r.Body))
		assert.Equal(t, "bytes 10-19/10000", r.Header.Get("Content-Range"))

		outsiderU := p2.CreateUser(t, "outsider@example.org", false)
		r = p2.Login(t, outsiderU).Do(t, http.MethodGet, content, nil)
		assert.Equal(t, http.StatusNotFound, r.Status, "team scope")
	})
}

func TestUploadHashMismatchIsRefusedAndDeleted(t *testing.T) {
	t.Parallel()
	forEachClocked(t, func(t *testing.T, st *store.Store, clk *testClock) {
		p := newProtocol(t, st, withClock(clk), withArtifacts(t, st, t.TempDir(), artifacts.Policy{}))
		s := p.newStation(t, "roof")
		p.sendObservation(t, s, "obs-1")
		body := []byte("frames that got damaged")
		r := s.createUpload(t, "obs-1", "frames.jsonl", api.ArtifactFrames, len(body), sha([]byte("what the station hashed")))
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		loc := r.Header.Get("Location")
		r = s.patch(t, loc, 0, body)
		require.Equal(t, http.StatusConflict, r.Status, string(r.Body))
		assert.Equal(t, api.ErrUploadHashMismatch, r.Error(t).Code)
		assert.Equal(t, http.StatusNotFound, s.head(t, loc).Status, "the upload is deleted: the station starts again")
		var n int64
		require.NoError(t, st.DB().Model(&store.Artifact{}).Count(&n).Error)
		assert.Zero(t, n)
	})
}

func TestUploadBoundToTheSatellitesOwnObservation(t *testing.T) {
	t.Parallel()
	forEachClocked(t, func(t *testing.T, st *store.Store, clk *testClock) {
		p := newProtocol(t, st, withClock(clk), withArtifacts(t, st, t.TempDir(), artifacts.Policy{QuotaBytes: 100}))
		a, b := p.newStation(t, "a"), p.newStation(t, "b")
		p.sendObservation(t, a, "obs-a")
		body := []byte("abc")

		r := b.createUpload(t, "obs-a", "x.iq", api.ArtifactIQ, len(body), sha(body))
		require.Equal(t, http.StatusForbidden, r.Status, string(r.Body))
		assert.Equal(t, api.ErrUploadNotBound, r.Error(t).Code)

		r = a.createUpload(t, "obs-a", "x.iq", api.ArtifactIQ, len(body), sha(body))
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		loc := r.Header.Get("Location")
		other := strings.Replace(loc, a.SatelliteID, b.SatelliteID, 1)
		assert.Equal(t, http.StatusNotFound, b.head(t, other).Status, "b cannot see a's upload")
		assert.Equal(t, http.StatusNotFound, b.patch(t, other, 0, body).Status, "nor write to it")
		assert.Equal(t, http.StatusNotFound, b.head(t, loc).Status, "nor use a's path with its own key")

		r = a.createUpload(t, "obs-a", "big.iq", api.ArtifactIQ, 101, sha(body))
		require.Equal(t, http.StatusRequestEntityTooLarge, r.Status, string(r.Body))
		assert.Equal(t, api.ErrUploadQuota, r.Error(t).Code)

		r = a.createUpload(t, "obs-a", "../x.iq", api.ArtifactIQ, 3, sha(body))
		require.Equal(t, http.StatusBadRequest, r.Status, string(r.Body))
		assert.Equal(t, api.UploadMetaName, r.Error(t).Field)

		r = p.owner.Do(t, http.MethodGet, "/api/teams/"+p.team.ID+"/artifacts", nil)
		assert.Equal(t, http.StatusBadRequest, r.Status, "a listing names its observation")
	})
}

func TestFramesListingIsPaged(t *testing.T) {
	t.Parallel()
	forEachClocked(t, func(t *testing.T, st *store.Store, clk *testClock) {
		p := newProtocol(t, st, withClock(clk), withArtifacts(t, st, t.TempDir(), artifacts.Policy{}))
		s := p.newStation(t, "roof")
		p.sendObservation(t, s, "obs-1")
		var lines []string
		for i := range 5 {
			lines = append(lines, `{"time":"2026-06-27T00:0`+strconv.Itoa(i)+`:00Z","hex":"0`+strconv.Itoa(i)+`"}`)
		}
		body := []byte(strings.Join(lines, "\n") + "\n")
		r := s.createUpload(t, "obs-1", "frames.jsonl", api.ArtifactFrames, len(body), sha(body))
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		require.Equal(t, http.StatusNoContent, s.patch(t, r.Header.Get("Location"), 0, body).Status)

		r = p.owner.Do(t, http.MethodGet, "/api/teams/"+p.team.ID+"/frames?observation_id=obs-1&limit=2&offset=2", nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		var page struct {
			Count      int64
			First      string
			Last       string
			NextOffset int `json:"next_offset"`
			Frames     []struct{ Hex string }
		}
		require.NoError(t, json.Unmarshal(r.Body, &page))
		assert.Equal(t, int64(5), page.Count)
		assert.Equal(t, "2026-06-27T00:00:00Z", page.First)
		assert.Equal(t, "2026-06-27T00:04:00Z", page.Last)
		assert.Equal(t, 4, page.NextOffset)
		require.Len(t, page.Frames, 2)
		assert.Equal(t, "02", page.Frames[0].Hex)
	})
}

// TestPruneUploads: a staged upload is kept an hour after it became an artifact (a HEAD after
// a lost answer still names it), then deleted; an abandoned one is kept 7 days.
func TestPruneUploads(t *testing.T) {
	t.Parallel()
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	st := storetest.Open(t, store.SQLite)
	p := newProtocol(t, st, func(o *server.Options) { o.Now = now }, withArtifacts(t, st, t.TempDir(), artifacts.Policy{}))
	s := p.newStation(t, "roof")
	p.sendObservation(t, s, "obs-1")
	body := []byte("whole")
	r := s.createUpload(t, "obs-1", "a.log", api.ArtifactLog, len(body), sha(body))
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	finished := r.Header.Get("Location")
	require.Equal(t, http.StatusNoContent, s.patch(t, finished, 0, body).Status)
	r = s.createUpload(t, "obs-1", "b.log", api.ArtifactLog, 10, sha(body))
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	abandoned := r.Header.Get("Location")

	n, err := p.Server.PruneUploads(t.Context())
	require.NoError(t, err)
	assert.Zero(t, n)
	offset.Store(int64(2 * time.Hour))
	n, err = p.Server.PruneUploads(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Equal(t, http.StatusNotFound, s.head(t, finished).Status, "the finished upload is gone")
	assert.Equal(t, http.StatusOK, s.head(t, abandoned).Status, "the unfinished one is kept")
	offset.Store(int64(8 * 24 * time.Hour))
	n, err = p.Server.PruneUploads(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Equal(t, http.StatusNotFound, s.head(t, abandoned).Status)
}
