package artifacts_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/artifacts"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

// fixture is a team with a satellite that was sent one observation and one process.start with
// output on.
type fixture struct {
	st      *store.Store
	svc     *artifacts.Service
	team    string
	sat     *store.Satellite
	obsID   string
	procCmd string
	mu      sync.Mutex
	now     *time.Time
}

// advance moves the store's clock.
func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	*f.now = f.now.Add(d)
}

// forEachDialect runs fn per dialect configured, in parallel subtests.
func forEachDialect(t *testing.T, fn func(t *testing.T, d store.Dialect)) {
	for _, d := range storetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			fn(t, d)
		})
	}
}

func newFixture(t *testing.T, d store.Dialect) *fixture {
	t.Helper()
	now := time.Date(2026, 6, 27, 0, 0, 0, 0, time.UTC)
	f := &fixture{now: &now}
	st, err := store.Open(t.Context(), store.Options{URL: storetest.NewURL(t, d), Now: func() time.Time {
		f.mu.Lock()
		defer f.mu.Unlock()
		return *f.now
	}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	_, err = st.Migrate(t.Context())
	require.NoError(t, err)
	f.st = st
	team, err := f.st.CreateTeam(t.Context(), "Lab "+uuid.NewString()[:8], "")
	require.NoError(t, err)
	f.team = team.ID
	f.sat = newSatellite(t, f.st, &f.team)
	f.obsID = "obs-" + uuid.NewString()[:8]
	f.sendCommand(t, f.sat, api.CommandObservationSchedule, map[string]any{"observation_id": f.obsID}, true)
	f.procCmd = f.sendCommand(t, f.sat, api.CommandProcessStart, api.ProcessStartPayload{Name: "rec", TeamID: f.team,
		Program: "rec", Output: &api.OutputSettings{Enabled: true}}, true)
	fs, err := artifacts.NewFS(filepath.Join(t.TempDir(), "artifacts"))
	require.NoError(t, err)
	f.svc = artifacts.New(artifacts.Service{Store: f.st, Storage: fs, Log: zaptest.NewLogger(t)})
	return f
}

func newSatellite(t *testing.T, st *store.Store, teamID *string) *store.Satellite {
	t.Helper()
	tok := &store.RegistrationToken{ID: store.NewID(), TeamID: teamID, ExpiresAt: st.Now().Add(time.Hour), UsesAllowed: 1}
	require.NoError(t, st.CreateRegistrationToken(t.Context(), tok))
	sat, err := st.RegisterSatellite(t.Context(), store.Registration{TokenID: tok.ID, Name: "roof",
		APIKeyID: uuid.NewString()[:16], APIKeyHash: "hash", HeartbeatSeconds: 30})
	require.NoError(t, err)
	return sat
}

// sendCommand records a command to sat, delivered or still pending.
func (f *fixture) sendCommand(t *testing.T, sat *store.Satellite, typ string, payload any, delivered bool) string {
	t.Helper()
	raw, err := json.Marshal(payload)
	require.NoError(t, err)
	p := string(raw)
	now := f.st.Now()
	c := &store.Command{ID: store.NewID(), SatelliteID: sat.ID, TeamID: f.team, Type: typ, Priority: api.PriorityNormal,
		Payload: &p, Status: api.CommandPending, CreatedAt: now, UpdatedAt: now}
	if delivered {
		c.Status, c.DeliveredAt = api.CommandDelivered, &now
	}
	require.NoError(t, f.st.DB().Create(c).Error)
	return c.ID
}

func upload(id string, sat *store.Satellite, meta api.UploadMeta, body []byte) artifacts.Upload {
	return artifacts.Upload{ID: id, Satellite: sat, Meta: meta, Size: int64(len(body)),
		Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }}
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func (f *fixture) meta(kind, name string, body []byte) api.UploadMeta {
	return api.UploadMeta{Source: api.SourceObservation, SourceID: f.obsID, Name: name, Kind: kind, SHA256: sum(body)}
}

func TestFinishChecksHashAndRecordsOnce(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d)
		ctx := t.Context()
		body := []byte("the whole recording")
		meta := f.meta(api.ArtifactIQ, "pass.cf32", body)

		bad := meta
		bad.SHA256 = sum([]byte("something else"))
		_, err := f.svc.Finish(ctx, upload("u-bad", f.sat, bad, body))
		require.ErrorIs(t, err, artifacts.ErrHashMismatch)
		_, err = f.st.ArtifactByUpload(ctx, "u-bad")
		require.ErrorIs(t, err, store.ErrNotFound, "a mismatching upload records nothing")
		entries, err := filepath.Glob(filepath.Join(f.svc.Storage.(*artifacts.FS).Dir, "*", "*", "*", "*"))
		require.NoError(t, err)
		assert.Empty(t, entries, "and keeps no bytes")

		a, err := f.svc.Finish(ctx, upload("u-1", f.sat, meta, body))
		require.NoError(t, err)
		assert.Equal(t, f.team, a.TeamID)
		again, err := f.svc.Finish(ctx, upload("u-1", f.sat, meta, body))
		require.NoError(t, err)
		assert.Equal(t, a.ID, again.ID, "finishing twice records once")
		list, err := f.st.ListArtifacts(ctx, f.team, api.SourceObservation, f.obsID)
		require.NoError(t, err)
		require.Len(t, list, 1)

		rs := artifacts.NewReadSeeker(ctx, f.svc.Storage, a.StorageKey, a.Size)
		_, err = rs.Seek(4, io.SeekStart)
		require.NoError(t, err)
		got, err := io.ReadAll(rs)
		require.NoError(t, err)
		assert.Equal(t, "whole recording", string(got))
	})
}

func TestAdmitBindsUploadsToWhatTheSatelliteWasSent(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d)
		ctx := t.Context()
		body := []byte("x")
		other := newSatellite(t, f.st, &f.team)
		pendingObs := "obs-pending"
		f.sendCommand(t, f.sat, api.CommandObservationSchedule, map[string]any{"observation_id": pendingObs}, false)
		noOutput := f.sendCommand(t, f.sat, api.CommandProcessStart, api.ProcessStartPayload{Name: "x", TeamID: f.team, Program: "x"}, true)

		cases := []struct {
			name string
			sat  *store.Satellite
			meta api.UploadMeta
			err  error
		}{
			{"own observation", f.sat, f.meta(api.ArtifactIQ, "a.iq", body), nil},
			{"own process with output", f.sat, api.UploadMeta{Source: api.SourceProcess, SourceID: f.procCmd, Name: "a", Kind: api.ArtifactLog, SHA256: sum(body)}, nil},
			{"another satellite's observation", other, f.meta(api.ArtifactIQ, "a.iq", body), artifacts.ErrNotBound},
			{"an observation not yet delivered", f.sat, api.UploadMeta{Source: api.SourceObservation, SourceID: pendingObs, Name: "a", Kind: api.ArtifactIQ, SHA256: sum(body)}, artifacts.ErrNotBound},
			{"a look-alike id (LIKE wildcard)", f.sat, api.UploadMeta{Source: api.SourceObservation, SourceID: strings.Replace(f.obsID, "-", "_", 1), Name: "a", Kind: api.ArtifactIQ, SHA256: sum(body)}, artifacts.ErrNotBound},
			{"a process without output", f.sat, api.UploadMeta{Source: api.SourceProcess, SourceID: noOutput, Name: "a", Kind: api.ArtifactLog, SHA256: sum(body)}, artifacts.ErrNotBound},
		}
		for _, c := range cases {
			team, err := f.svc.Admit(ctx, c.sat, c.meta, 1)
			if c.err != nil {
				assert.ErrorIs(t, err, c.err, c.name)
				continue
			}
			require.NoError(t, err, c.name)
			assert.Equal(t, f.team, team, c.name)
		}

		f.svc.Policy.Kinds = []string{api.ArtifactWaterfall}
		_, err := f.svc.Admit(ctx, f.sat, f.meta(api.ArtifactIQ, "a.iq", body), 1)
		assert.ErrorIs(t, err, artifacts.ErrKindNotAllowed)
	})
}

func TestQuotaPerTeam(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d)
		ctx := t.Context()
		f.svc.Policy.QuotaBytes = 10
		body := []byte("123456")
		_, err := f.svc.Finish(ctx, upload("q-1", f.sat, f.meta(api.ArtifactLog, "a.log", body), body))
		require.NoError(t, err)
		_, err = f.svc.Admit(ctx, f.sat, f.meta(api.ArtifactLog, "b.log", body), int64(len(body)))
		require.ErrorIs(t, err, artifacts.ErrQuota, "6 + 6 > 10")
		_, err = f.svc.Finish(ctx, upload("q-2", f.sat, f.meta(api.ArtifactLog, "b.log", body), body))
		require.ErrorIs(t, err, artifacts.ErrQuota, "checked again at the end: uploads run concurrently")

		quota := int64(100)
		require.NoError(t, f.st.PutArtifactSettings(ctx, &store.ArtifactTeamSettings{TeamID: f.team, QuotaBytes: &quota}))
		_, err = f.svc.Admit(ctx, f.sat, f.meta(api.ArtifactLog, "b.log", body), int64(len(body)))
		require.NoError(t, err, "the team's own quota wins over the default")
	})
}

func TestRetentionPerKindAndTeam(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d)
		ctx := t.Context()
		put := func(id, kind string) *store.Artifact {
			body := []byte(id)
			a, err := f.svc.Finish(ctx, upload(id, f.sat, f.meta(kind, id+".bin", body), body))
			require.NoError(t, err)
			return a
		}
		iq := put("iq-old", api.ArtifactIQ)
		wf := put("wf-old", api.ArtifactWaterfall)
		fr := put("fr-old", api.ArtifactOther)
		f.advance(8 * 24 * time.Hour)
		iqNew := put("iq-new", api.ArtifactIQ)

		n, err := f.svc.Sweep(ctx)
		require.NoError(t, err)
		assert.Equal(t, int64(1), n, "only the 8-day-old IQ file is past its 7 days")
		_, err = f.st.ArtifactInTeam(ctx, f.team, iq.ID)
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = f.svc.Storage.Stat(ctx, iq.StorageKey)
		require.ErrorIs(t, err, artifacts.ErrObjectNotFound, "its bytes are gone too")
		for _, a := range []*store.Artifact{wf, fr, iqNew} {
			_, err = f.st.ArtifactInTeam(ctx, f.team, a.ID)
			require.NoError(t, err, a.Name)
		}

		// The team keeps "other" for 1 day only, and IQ for ever.
		require.NoError(t, f.st.PutArtifactSettings(ctx, &store.ArtifactTeamSettings{TeamID: f.team, Retention: `{"other": 86400, "iq": 0}`}))
		f.advance(30 * 24 * time.Hour)
		n, err = f.svc.Sweep(ctx)
		require.NoError(t, err)
		assert.Equal(t, int64(1), n, "the other file goes by the team's day; IQ stays by the team's for ever")
		_, err = f.st.ArtifactInTeam(ctx, f.team, iqNew.ID)
		require.NoError(t, err)
		_, err = f.st.ArtifactInTeam(ctx, f.team, wf.ID)
		require.NoError(t, err, "waterfalls keep a year")
	})
}

func TestFramesIndexed(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d)
		ctx := t.Context()
		body := []byte(`{"time":"2026-06-27T00:03:00Z","hex":"C0FFEE","fields":{"callsign":"DP0ISS"}}
{"time":"2026-06-27T00:01:00Z","base64":"AQID"}

not json
{"time":"2026-06-27T00:02:00Z","hex":"zz"}
{"time":"2026-06-27T00:02:30Z","hex":"00"}
`)
		a, err := f.svc.Finish(ctx, upload("fr", f.sat, f.meta(api.ArtifactFrames, "frames.jsonl", body), body))
		require.NoError(t, err)
		assert.Equal(t, 2, a.FramesSkipped)
		s, err := f.st.SummarizeFrames(ctx, f.team, api.SourceObservation, f.obsID)
		require.NoError(t, err)
		assert.Equal(t, int64(3), s.Count)
		require.NotNil(t, s.First)
		assert.Equal(t, "2026-06-27T00:01:00Z", s.First.Format(time.RFC3339))
		assert.Equal(t, "2026-06-27T00:03:00Z", s.Last.Format(time.RFC3339))
		page, err := f.st.ListFrames(ctx, f.team, api.SourceObservation, f.obsID, 1, 5)
		require.NoError(t, err)
		require.Len(t, page, 2)
		assert.Equal(t, "00", page[0].Data)
		assert.Equal(t, "c0ffee", page[1].Data)
		assert.JSONEq(t, `{"callsign":"DP0ISS"}`, page[1].Fields)
		other, err := f.st.SummarizeFrames(ctx, uuid.NewString(), api.SourceObservation, f.obsID)
		require.NoError(t, err)
		assert.Zero(t, other.Count, "team scope")
	})
}

func TestFSStorageRefusesKeysOutsideItsDirectory(t *testing.T) {
	t.Parallel()
	fs, err := artifacts.NewFS(t.TempDir())
	require.NoError(t, err)
	ctx := context.Background()
	for _, key := range []string{"", "../x", "a/../../x"} {
		assert.Error(t, fs.Put(ctx, key, strings.NewReader("x"), 1), key)
	}
	require.Error(t, fs.Put(ctx, "a/b", strings.NewReader("short"), 10), "fewer bytes than announced")
	_, err = fs.Stat(ctx, "a/b")
	require.ErrorIs(t, err, artifacts.ErrObjectNotFound, "a failed put leaves nothing")
	left, err := os.ReadDir(filepath.Join(fs.Dir, "a"))
	require.NoError(t, err)
	assert.Empty(t, left, "nor a temporary file")
}
