package e2e

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/server/servertest"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/satellite/client"
	"github.com/talos-gs/talos/satellite/state"
	"github.com/talos-gs/talos/satellite/upload"
)

// TestUploadSurvivesCutsStopAndBackendRestart is issue 15's acceptance scenario scaled down to
// seconds: a 16 MiB recording goes through a proxy limiting the link to 2 MB/s and cutting every
// connection every 2 s; a quarter of the way the station's upload loop is stopped without any
// clean-up (its state is what a kill -9 leaves: every change was committed when made), the
// backend is restarted, a new loop starts on the same state directory. The file arrives whole
// (SHA-256 checked by the backend, and again here), and the bytes sent towards the backend stay
// within the file plus one chunk in flight plus request headers. Skipped with -short.
func TestUploadSurvivesCutsStopAndBackendRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("a fault scenario of about 15 s; run without -short")
	}
	t.Parallel()
	const size, chunkBytes = 16 << 20, 1 << 20
	b := startBackend(t, store.SQLite, storeURL(t), withArtifacts(t, t.TempDir()))
	c := seed(t, b)
	dir, id := register(t, b.URL, c.registrationToken(t), "faulty link")
	_, key, err := state.LoadIdentity(dir)
	require.NoError(t, err)
	proxy := startLinkProxy(t, b.addr, 2_000_000, 2*time.Second)
	servertest.SendObservation(t, b.store(), id, c.team.ID, "obs-faults")

	out := filepath.Join(t.TempDir(), "out")
	require.NoError(t, os.MkdirAll(out, 0o700))
	data := make([]byte, size)
	_, _ = rand.Read(data)
	require.NoError(t, os.WriteFile(filepath.Join(out, "pass.cf32"), data, 0o600))
	spool := t.TempDir()
	open := func() *upload.Uploader {
		pc, err := client.New(client.Options{BaseURL: proxy.url(), APIKey: key, Timeout: 30 * time.Second})
		require.NoError(t, err)
		uc, err := pc.ForUploads()
		require.NoError(t, err)
		u, err := upload.Open(upload.Options{Dir: spool, Backend: client.Satellite{Client: uc, ID: id},
			Logger: zaptest.NewLogger(t).Named("uploads"), Settings: upload.Settings{ChunkBytes: chunkBytes}})
		require.NoError(t, err)
		return u
	}
	entryOf := func(u *upload.Uploader) upload.Entry {
		es, err := u.Entries()
		require.NoError(t, err)
		require.Len(t, es, 1)
		return es[0]
	}

	u := open()
	require.NoError(t, u.CloseDir(upload.Dir{Path: out, Source: api.SourceObservation, SourceID: "obs-faults", Team: c.team.ID}))
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()
	eventually(t, func() bool { return entryOf(u).Acked >= size/4 }, "a quarter acknowledged")
	stop() // no flush, no goodbye: what is on disk is what a kill -9 would leave
	require.NoError(t, <-done)
	require.NoError(t, u.Close())

	b.stop()
	b.start()

	u = open()
	ctx, stop = context.WithCancel(context.Background())
	defer stop()
	go func() { done <- u.Run(ctx) }()
	eventually(t, func() bool { return entryOf(u).State == upload.StateUploaded }, "uploaded after the restart")
	e := entryOf(u)
	stop()
	require.NoError(t, <-done)
	require.NoError(t, u.Close())

	r := c.operator.Do(t, http.MethodGet, "/api/teams/"+c.team.ID+"/artifacts/"+e.ArtifactID+"/content", nil)
	require.Equal(t, http.StatusOK, r.Status)
	sum := sha256.Sum256(r.Body)
	want := sha256.Sum256(data)
	assert.Equal(t, hex.EncodeToString(want[:]), hex.EncodeToString(sum[:]), "the file arrived whole")
	// Every cut and the stop may each lose at most the chunk in flight; each request carries
	// well under 2 KiB of headers.
	cuts := proxy.drops.Load() + 1
	assert.LessOrEqual(t, proxy.upstream.Load(), int64(size)+cuts*chunkBytes+4096*int64(size/chunkBytes+20*int(cuts)),
		"bytes sent towards the backend: the file, plus at most one chunk in flight per cut")
	t.Logf("link cuts: %d, bytes towards the backend: %d for a %d-byte file", proxy.drops.Load(), proxy.upstream.Load(), size)
}
