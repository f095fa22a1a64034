package upload_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/events"
	"github.com/talos-gs/talos/satellite/internal/backoff"
	"github.com/talos-gs/talos/satellite/upload"
)

const chunk = 64 << 10

// station is a state directory and an output directory with files in it.
type station struct {
	state, out string
	events     *eventLog
}

type eventLog struct {
	mu  sync.Mutex
	evs []api.Event
}

func (l *eventLog) Emit(ev api.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evs = append(l.evs, ev)
}

func (l *eventLog) types() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.evs {
		out = append(out, e.Type)
	}
	return out
}

func newStation(t *testing.T) *station {
	dir := t.TempDir()
	s := &station{state: filepath.Join(dir, "state"), out: filepath.Join(dir, "team", "output", "observation-obs-1"), events: &eventLog{}}
	require.NoError(t, os.MkdirAll(s.state, 0o700))
	require.NoError(t, os.MkdirAll(s.out, 0o700))
	return s
}

func (s *station) write(t *testing.T, name string, size int) []byte {
	t.Helper()
	b := make([]byte, size)
	_, err := rand.Read(b)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(s.out, name), b, 0o600))
	return b
}

func (s *station) dir() upload.Dir {
	return upload.Dir{Path: s.out, Source: api.SourceObservation, SourceID: "obs-1", Team: "team-1"}
}

func (s *station) open(t *testing.T, backend upload.Backend, settings upload.Settings, tracking func() bool) *upload.Uploader {
	t.Helper()
	b := backoff.New(nil)
	b.Base, b.Max = time.Millisecond, 5*time.Millisecond
	u, err := upload.Open(upload.Options{Dir: s.state, Backend: backend, Settings: settings, Tracking: tracking,
		Events: events.Emitter(s.events), Logger: zaptest.NewLogger(t), Backoff: b})
	require.NoError(t, err)
	return u
}

// run runs u until stop is closed or the test ends, and returns a function waiting for it.
func run(t *testing.T, u *upload.Uploader) (context.CancelFunc, func()) {
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()
	return cancel, func() {
		cancel()
		require.NoError(t, <-done)
		require.NoError(t, u.Close())
	}
}

func entry(t *testing.T, u *upload.Uploader, name string) upload.Entry {
	t.Helper()
	all, err := u.Entries()
	require.NoError(t, err)
	for _, e := range all {
		if e.Name == name {
			return e
		}
	}
	t.Fatalf("no entry %s", name)
	return upload.Entry{}
}

// TestResumeAfterStopBetweenChunks: the runner stops after 3 of 10 chunks; a new runner on
// the same state directory asks the backend's offset and sends only the 7 missing chunks.
func TestResumeAfterStopBetweenChunks(t *testing.T) {
	t.Parallel()
	st, srv := newStation(t), newTusServer(t)
	body := st.write(t, "pass.cf32", 10*chunk)
	u := st.open(t, srv.sat, upload.Settings{ChunkBytes: chunk}, nil)
	require.NoError(t, u.CloseDir(st.dir()))

	stopped := make(chan struct{})
	var once sync.Once
	srv.onPatch = func(n int) {
		if n == 3 {
			once.Do(func() { close(stopped) })
		}
	}
	cancel, wait := run(t, u)
	<-stopped
	cancel()
	wait()
	inspect := st.open(t, srv.sat, upload.Settings{ChunkBytes: chunk}, nil)
	e := entry(t, inspect, "pass.cf32")
	require.NoError(t, inspect.Close())
	assert.Equal(t, upload.StateQueued, e.State)
	// The stop came while the answer to the third chunk was on its way.
	assert.GreaterOrEqual(t, e.Acked, int64(2*chunk), "the acknowledged offset is on disk")

	// The stop may have come while the fourth chunk was in flight: that one alone may be sent
	// again.
	srv.onPatch = nil
	u2 := st.open(t, srv.sat, upload.Settings{ChunkBytes: chunk}, nil)
	_, wait2 := run(t, u2)
	require.Eventually(t, func() bool { return entry(t, u2, "pass.cf32").State == upload.StateUploaded }, 10*time.Second, 5*time.Millisecond)
	wait2()
	received, arts := srv.stats()
	assert.Equal(t, body, arts["pass.cf32"], "the file arrived whole")
	assert.LessOrEqual(t, received, int64(len(body)+chunk), "no chunk was sent twice beyond the one in flight")
}

// TestResumeAfterCutMidChunk: the connection drops in the middle of a chunk; the backend kept
// what arrived, the station resumes from the backend's offset.
func TestResumeAfterCutMidChunk(t *testing.T) {
	t.Parallel()
	st, srv := newStation(t), newTusServer(t)
	body := st.write(t, "audio.wav", 4*chunk)
	srv.cutAfter = chunk / 2
	u := st.open(t, srv.sat, upload.Settings{ChunkBytes: chunk}, nil)
	require.NoError(t, u.CloseDir(st.dir()))
	_, wait := run(t, u)
	require.Eventually(t, func() bool { return entry(t, u, "audio.wav").State == upload.StateUploaded }, 10*time.Second, 5*time.Millisecond)
	wait()
	received, arts := srv.stats()
	assert.Equal(t, body, arts["audio.wav"])
	assert.Equal(t, int64(len(body)), received, "the half chunk the backend kept was not sent again")
}

// TestHashMismatchUploadsAgain: the file changed after it was hashed; the backend refuses the
// hash, the station hashes it again and uploads it again.
func TestHashMismatchUploadsAgain(t *testing.T) {
	t.Parallel()
	st, srv := newStation(t), newTusServer(t)
	st.write(t, "frames.jsonl", 1000)
	u := st.open(t, srv.sat, upload.Settings{}, nil)
	require.NoError(t, u.CloseDir(st.dir()))
	changed := st.write(t, "frames.jsonl", 1000)
	_, wait := run(t, u)
	require.Eventually(t, func() bool { return entry(t, u, "frames.jsonl").State == upload.StateUploaded }, 10*time.Second, 5*time.Millisecond)
	e := entry(t, u, "frames.jsonl")
	wait()
	_, arts := srv.stats()
	assert.Equal(t, changed, arts["frames.jsonl"])
	assert.Equal(t, 0, e.Mismatches, "reset once uploaded")
}

// TestPauseDuringPass: nothing is sent while a pass is tracked; the upload goes on after it.
func TestPauseDuringPass(t *testing.T) {
	t.Parallel()
	st, srv := newStation(t), newTusServer(t)
	st.write(t, "w.iq", 2*chunk)
	var tracking atomic.Bool
	var asked atomic.Int32
	tracking.Store(true)
	u := st.open(t, srv.sat, upload.Settings{ChunkBytes: chunk}, func() bool { asked.Add(1); return tracking.Load() })
	require.NoError(t, u.CloseDir(st.dir()))
	_, wait := run(t, u)
	require.Eventually(t, func() bool { return asked.Load() >= 3 }, 10*time.Second, 5*time.Millisecond)
	received, _ := srv.stats()
	assert.Zero(t, received, "paused while the pass is tracked")
	tracking.Store(false)
	require.Eventually(t, func() bool { return entry(t, u, "w.iq").State == upload.StateUploaded }, 10*time.Second, 5*time.Millisecond)
	wait()
}

// TestDiskBudget: over the budget, uploaded files go first; then the oldest not uploaded, with
// an artifact.dropped event.
func TestDiskBudget(t *testing.T) {
	t.Parallel()
	st, srv := newStation(t), newTusServer(t)
	st.write(t, "a.log", 400)
	u := st.open(t, srv.sat, upload.Settings{DiskBudget: 1000}, nil)
	require.NoError(t, u.CloseDir(st.dir()))
	_, wait := run(t, u)
	require.Eventually(t, func() bool { return entry(t, u, "a.log").State == upload.StateUploaded }, 10*time.Second, 5*time.Millisecond)
	wait()
	assert.FileExists(t, filepath.Join(st.out, "a.log"), "within the budget an uploaded file stays")

	// Not running now: more files are queued; 400 + 700 > 1000.
	u = st.open(t, srv.sat, upload.Settings{DiskBudget: 1000}, nil)
	st.write(t, "b.log", 700)
	require.NoError(t, u.CloseDir(st.dir()))
	assert.NoFileExists(t, filepath.Join(st.out, "a.log"), "the uploaded file goes first")
	assert.FileExists(t, filepath.Join(st.out, "b.log"))
	assert.NotContains(t, st.events.types(), api.EventArtifactDropped)

	st.write(t, "c.log", 700)
	require.NoError(t, u.CloseDir(st.dir()))
	assert.NoFileExists(t, filepath.Join(st.out, "b.log"), "then the oldest not uploaded")
	assert.FileExists(t, filepath.Join(st.out, "c.log"))
	assert.Contains(t, st.events.types(), api.EventArtifactDropped)
	require.NoError(t, u.Close())
}

// TestCollectKindsManifestAndLinks: kinds come from the manifest or the name; a manifest can
// skip a file; links are never followed; kinds not uploaded are kept on the station.
func TestCollectKindsManifestAndLinks(t *testing.T) {
	t.Parallel()
	st := newStation(t)
	st.write(t, "waterfall.png", 10)
	st.write(t, "pass.raw", 10)
	st.write(t, "scratch.bin", 10)
	st.write(t, "frames.jsonl", 10)
	st.write(t, ".partial", 10)
	require.NoError(t, os.WriteFile(filepath.Join(st.out, upload.ManifestName),
		[]byte(`{"files":[{"name":"pass.raw","kind":"iq"},{"name":"scratch.bin","skip":true}]}`), 0o600))
	secret := filepath.Join(t.TempDir(), "secret")
	require.NoError(t, os.WriteFile(secret, []byte("not the team's"), 0o600))
	require.NoError(t, os.Symlink(secret, filepath.Join(st.out, "link.log")))
	require.NoError(t, os.Link(secret, filepath.Join(st.out, "hard.log")))

	u := st.open(t, nil, upload.Settings{}, nil)
	d := st.dir()
	d.Kinds = []string{api.ArtifactWaterfall, api.ArtifactFrames}
	require.NoError(t, u.CloseDir(d))
	all, err := u.Entries()
	require.NoError(t, err)
	got := map[string]string{}
	for _, e := range all {
		got[e.Name] = e.Kind + "/" + e.State
	}
	assert.Equal(t, map[string]string{
		"waterfall.png": "waterfall/queued",
		"frames.jsonl":  "frames/queued",
		"pass.raw":      "iq/kept",
	}, got)
	require.NoError(t, u.CloseDir(d))
	again, err := u.Entries()
	require.NoError(t, err)
	assert.Len(t, again, len(all), "collecting twice adds nothing")
	require.NoError(t, u.Close())
}

// TestOpenDirCollectedAtNextStart: a runner killed while the decoder ran collects its output
// when it starts again.
func TestOpenDirCollectedAtNextStart(t *testing.T) {
	t.Parallel()
	st, srv := newStation(t), newTusServer(t)
	u := st.open(t, srv.sat, upload.Settings{}, nil)
	require.NoError(t, u.OpenDir(st.dir()))
	require.NoError(t, u.Close())
	body := st.write(t, "late.log", 100)

	u = st.open(t, srv.sat, upload.Settings{}, nil)
	_, wait := run(t, u)
	require.Eventually(t, func() bool {
		all, err := u.Entries()
		return err == nil && len(all) == 1 && all[0].State == upload.StateUploaded
	}, 10*time.Second, 5*time.Millisecond)
	wait()
	_, arts := srv.stats()
	assert.True(t, bytes.Equal(body, arts["late.log"]))
}

// TestWaterfallHook: a directory with IQ and no waterfall gets one rendered before it is
// collected; one with its own waterfall is left alone.
func TestWaterfallHook(t *testing.T) {
	t.Parallel()
	st := newStation(t)
	st.write(t, "pass.cf32", 100)
	var calls atomic.Int32
	render := func(_ context.Context, input, kind, png string) error {
		calls.Add(1)
		assert.Equal(t, filepath.Join(st.out, "pass.cf32"), input)
		assert.Equal(t, api.ArtifactIQ, kind)
		return os.WriteFile(png, []byte("\x89PNG"), 0o600)
	}
	u, err := upload.Open(upload.Options{Dir: st.state, Waterfall: render, Logger: zaptest.NewLogger(t)})
	require.NoError(t, err)
	require.NoError(t, u.CloseDir(st.dir()))
	assert.Equal(t, int32(1), calls.Load())
	assert.Equal(t, api.ArtifactWaterfall, entry(t, u, upload.WaterfallName).Kind)
	require.NoError(t, u.CloseDir(st.dir()))
	assert.Equal(t, int32(1), calls.Load(), "a directory with a waterfall gets no other")
	require.NoError(t, u.Close())
}
