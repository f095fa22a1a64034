package upload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/client"
	"github.com/talos-gs/talos/satellite/events"
	"github.com/talos-gs/talos/satellite/internal/backoff"
	"github.com/talos-gs/talos/satellite/internal/clock"
)

// During-pass behaviours (Settings.DuringPass).
const (
	// DuringPassPause stops uploading between chunks while a pass is tracked (the default).
	DuringPassPause = "pause"
	// DuringPassThrottle uploads at Settings.PassRate while a pass is tracked.
	DuringPassThrottle = "throttle"
	// DuringPassContinue uploads as usual.
	DuringPassContinue = "continue"
)

// Defaults of Settings.
const (
	DefaultChunkBytes = 4 << 20
	// DefaultDiskBudget is the bytes the spooled files may take on the station.
	DefaultDiskBudget = 10 << 30
	minChunk          = 64 << 10
	// chunkSeconds is how long one chunk may take at the bandwidth cap: short enough that a
	// cut connection loses little and the backend's read timeout is never reached.
	chunkSeconds = 20
	// maxMismatches: after this many hash mismatches in a row the file is refused.
	maxMismatches = 3
	// pauseCheck is how often a paused uploader looks whether the pass is over.
	pauseCheck = time.Second
)

// Settings are the station's upload settings (uploads.* in the configuration).
type Settings struct {
	// RateBytes caps the upload bandwidth, bytes per second (0: no cap).
	RateBytes int64
	// DuringPass is pause, throttle or continue.
	DuringPass string
	// PassRate is the cap while a pass is tracked with DuringPass throttle, bytes per second.
	PassRate int64
	// ChunkBytes is the most sent in one PATCH (default DefaultChunkBytes, at most
	// api.MaxUploadChunkBytes); it is lowered so a chunk takes about 20 s at the cap.
	ChunkBytes int64
	// DiskBudget bounds the bytes of spooled files kept on the station (default
	// DefaultDiskBudget).
	DiskBudget int64
}

func (s Settings) withDefaults() Settings {
	if s.ChunkBytes <= 0 {
		s.ChunkBytes = DefaultChunkBytes
	}
	s.ChunkBytes = min(max(s.ChunkBytes, minChunk), api.MaxUploadChunkBytes)
	if s.DiskBudget <= 0 {
		s.DiskBudget = DefaultDiskBudget
	}
	if s.DuringPass == "" {
		s.DuringPass = DuringPassPause
	}
	return s
}

// Backend is the part of client.Satellite the uploader uses.
type Backend interface {
	CreateUpload(ctx context.Context, size int64, meta map[string]string) (string, error)
	UploadOffset(ctx context.Context, path string) (client.UploadStatus, error)
	UploadChunk(ctx context.Context, path string, offset int64, body io.Reader, n int64, timeout time.Duration) (client.UploadStatus, error)
	TerminateUpload(ctx context.Context, path string) error
}

// Options build an Uploader.
type Options struct {
	// Dir is the state directory (uploads.db).
	Dir      string
	Backend  Backend
	Settings Settings
	// Tracking reports whether a pass is being tracked now (nil: never).
	Tracking func() bool
	Events   events.Emitter
	Logger   *zap.Logger
	Clock    clock.Clock
	Backoff  *backoff.Backoff
	// Waterfall, when set, renders a PNG spectrogram of an IQ or audio file: CloseDir calls it
	// for a directory holding IQ or audio but no waterfall, before collecting it (the hook for
	// satellite/waterfall).
	Waterfall WaterfallRenderer
}

// WaterfallRenderer renders a waterfall PNG of input (an IQ recording or WAV audio, kind
// api.ArtifactIQ or api.ArtifactAudio) into the file png.
type WaterfallRenderer func(ctx context.Context, input, kind, png string) error

// WaterfallName is the file a rendered waterfall is written to in the output directory.
const WaterfallName = "waterfall.png"

// Uploader is the spool and its upload loop.
type Uploader struct {
	sp       *spool
	backend  Backend
	settings Settings
	tracking func() bool
	ev       events.Emitter
	log      *zap.Logger
	clk      clock.Clock
	backoff  *backoff.Backoff
	limit    *rate.Limiter
	passLim  *rate.Limiter
	kick     chan struct{}
	render   WaterfallRenderer
	// mu serialises collection and the disk budget, which read and rewrite several entries.
	mu        sync.Mutex
	closeOnce sync.Once
}

// Open opens (or creates) the spool.
func Open(o Options) (*Uploader, error) {
	sp, err := openSpool(o.Dir)
	if err != nil {
		return nil, err
	}
	u := &Uploader{sp: sp, backend: o.Backend, settings: o.Settings.withDefaults(), tracking: o.Tracking,
		ev: o.Events, log: o.Logger, clk: o.Clock, backoff: o.Backoff, kick: make(chan struct{}, 1), render: o.Waterfall}
	if u.log == nil {
		u.log = zap.NewNop()
	}
	if u.clk == nil {
		u.clk = clock.Real{}
	}
	if u.backoff == nil {
		u.backoff = backoff.New(nil)
	}
	if u.ev == nil {
		u.ev = events.EmitterFunc(func(api.Event) {})
	}
	if u.tracking == nil {
		u.tracking = func() bool { return false }
	}
	u.limit = limiter(u.settings.RateBytes)
	u.passLim = limiter(u.settings.PassRate)
	return u, nil
}

func limiter(bps int64) *rate.Limiter {
	if bps <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(bps), int(min(bps, minChunk)))
}

// Close closes the spool file; call it after Run returned. Closing twice is harmless.
func (u *Uploader) Close() error {
	var err error
	u.closeOnce.Do(func() { err = u.sp.db.Close() })
	return err
}

// Entries returns every spooled file, oldest first (status, tests).
func (u *Uploader) Entries() ([]Entry, error) { return u.sp.all() }

// OpenDir records an output directory handed to a process that is about to start, so its
// files are collected even if the runner stops before the process exits.
func (u *Uploader) OpenDir(d Dir) error { return u.sp.openDir(d) }

// CloseDir collects the files of an output directory whose process exited: each is hashed and
// spooled (to upload, or kept on the station when its kind is not uploaded), then the directory
// is forgotten. Collecting the same directory again adds nothing twice.
func (u *Uploader) CloseDir(d Dir) error {
	u.renderWaterfall(d)
	u.mu.Lock()
	entries, problems, err := collect(d)
	for _, p := range problems {
		u.log.Warn("output file not spooled", zap.String("dir", d.Path), zap.String("problem", p))
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		u.mu.Unlock()
		return err
	}
	now := u.clk.Now().UTC()
	for i := range entries {
		entries[i].AddedAt = now
	}
	added, err := u.sp.add(entries)
	if err == nil {
		err = u.sp.closeDir(d.Path)
	}
	u.mu.Unlock()
	if err != nil {
		return err
	}
	u.log.Info("output collected", zap.String("dir", d.Path), zap.String("source_id", d.SourceID), zap.Int("files", len(added)))
	u.enforceBudget()
	u.wake()
	return nil
}

// renderWaterfall makes a waterfall for a directory with IQ or audio and no waterfall of its
// own, when a renderer is set. A failure is logged: the recording is uploaded without one.
func (u *Uploader) renderWaterfall(d Dir) {
	if u.render == nil {
		return
	}
	entries, _, err := collect(d)
	if err != nil {
		return
	}
	var input *Entry
	for i := range entries {
		switch entries[i].Kind {
		case api.ArtifactWaterfall:
			return
		case api.ArtifactIQ, api.ArtifactAudio:
			if input == nil {
				input = &entries[i]
			}
		}
	}
	if input == nil {
		return
	}
	// Bounded: a pass's recording renders in seconds; a stuck renderer must not hold the
	// upload of the rest.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := u.render(ctx, input.Path, input.Kind, filepath.Join(d.Path, WaterfallName)); err != nil {
		u.log.Warn("waterfall not rendered", zap.String("input", input.Path), zap.Error(err))
	}
}

func (u *Uploader) wake() {
	select {
	case u.kick <- struct{}{}:
	default:
	}
}

// Run collects directories left open by an earlier run (their processes died with it), then
// uploads the queue, oldest first, until ctx ends.
func (u *Uploader) Run(ctx context.Context) error {
	dirs, err := u.sp.openDirs()
	if err != nil {
		return fmt.Errorf("upload spool: %w", err)
	}
	for _, d := range dirs {
		if err := u.CloseDir(d); err != nil {
			u.log.Warn("collect output left by the last run", zap.String("dir", d.Path), zap.Error(err))
		}
	}
	for ctx.Err() == nil {
		e, err := u.sp.next()
		if err != nil {
			return fmt.Errorf("upload spool: %w", err)
		}
		if e == nil {
			select {
			case <-ctx.Done():
			case <-u.kick:
			}
			continue
		}
		if err := u.uploadOne(ctx, e); err != nil && ctx.Err() == nil {
			d := u.backoff.Next()
			u.log.Warn("upload failed; retrying", zap.String("file", e.Name), zap.String("source_id", e.SourceID),
				zap.Duration("in", d), zap.Error(err))
			_ = clock.Wait(ctx, u.clk, d)
			continue
		}
		u.backoff.Reset()
	}
	return nil
}

func meta(e *Entry) map[string]string {
	m := map[string]string{api.UploadMetaSource: e.Source, api.UploadMetaSourceID: e.SourceID,
		api.UploadMetaName: e.Name, api.UploadMetaKind: e.Kind, api.UploadMetaSHA256: e.SHA256}
	if e.ContentType != "" {
		m[api.UploadMetaContentType] = e.ContentType
	}
	return m
}

// uploadOne takes one file as far as it goes: created, resumed from the backend's offset,
// chunk after chunk, until the backend records it. An error is retried after a backoff; a
// refusal for good ends in StateRefused.
func (u *Uploader) uploadOne(ctx context.Context, e *Entry) error {
	if e.Location == "" {
		loc, err := u.backend.CreateUpload(ctx, e.Size, meta(e))
		if err != nil {
			return u.refuseOrRetry(e, err)
		}
		e.Location, e.Acked = loc, 0
		if err := u.sp.update(e); err != nil {
			return err
		}
	}
	st, err := u.backend.UploadOffset(ctx, e.Location)
	for err == nil && st.ArtifactID == "" {
		if st.Offset >= e.Size {
			st, err = u.backend.UploadOffset(ctx, e.Location) // whole: the backend records it now
			if err == nil && st.ArtifactID == "" {
				err = errors.New("the backend holds every byte but has not recorded the artifact yet")
			}
			break
		}
		if err = u.waitForPass(ctx); err != nil {
			return err
		}
		st, err = u.sendChunk(ctx, e, st.Offset)
	}
	if err != nil {
		return u.handleUploadError(ctx, e, err)
	}
	return u.uploaded(e, st.ArtifactID)
}

// sendChunk sends the next chunk from offset and records the acknowledged offset.
func (u *Uploader) sendChunk(ctx context.Context, e *Entry, offset int64) (client.UploadStatus, error) {
	f, err := openRegular(e.Path)
	if err != nil {
		return client.UploadStatus{}, fmt.Errorf("%w: %w", errFileGone, err)
	}
	defer func() { _ = f.Close() }()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return client.UploadStatus{}, err
	}
	lim, bps := u.currentLimit()
	n := min(e.Size-offset, u.chunkFor(bps))
	body := io.LimitReader(f, n)
	if lim != nil {
		body = &limitedReader{ctx: ctx, r: body, lim: lim}
	}
	st, err := u.backend.UploadChunk(ctx, e.Location, offset, body, n, chunkTimeout(n, bps))
	if err != nil {
		return st, err
	}
	e.Acked = st.Offset
	return st, u.sp.update(e)
}

var errFileGone = errors.New("spooled file is gone")

// currentLimit is the limiter in force now (the pass rate while throttled) and its rate.
func (u *Uploader) currentLimit() (*rate.Limiter, int64) {
	if u.settings.DuringPass == DuringPassThrottle && u.passLim != nil && u.tracking() {
		return u.passLim, u.settings.PassRate
	}
	return u.limit, u.settings.RateBytes
}

func (u *Uploader) chunkFor(bps int64) int64 {
	if bps <= 0 {
		return u.settings.ChunkBytes
	}
	return min(u.settings.ChunkBytes, max(bps*chunkSeconds, minChunk))
}

// chunkTimeout allows a chunk twice its time at the cap (or at 64 KiB/s uncapped), plus a
// minute.
func chunkTimeout(n, bps int64) time.Duration {
	if bps <= 0 {
		bps = minChunk
	}
	return time.Minute + 2*time.Duration(n/bps)*time.Second
}

// waitForPass holds uploading while a pass is tracked, with DuringPass pause.
func (u *Uploader) waitForPass(ctx context.Context) error {
	for u.settings.DuringPass == DuringPassPause && u.tracking() {
		if err := clock.Wait(ctx, u.clk, pauseCheck); err != nil {
			return err
		}
	}
	return ctx.Err()
}

func (u *Uploader) uploaded(e *Entry, artifactID string) error {
	e.State, e.ArtifactID, e.Acked, e.Error, e.Mismatches = StateUploaded, artifactID, e.Size, "", 0
	e.UploadedAt = u.clk.Now().UTC()
	if err := u.sp.update(e); err != nil {
		return err
	}
	u.log.Info("artifact uploaded", zap.String("file", e.Name), zap.String("source_id", e.SourceID),
		zap.String("artifact_id", artifactID), zap.Int64("bytes", e.Size))
	u.ev.Emit(events.New(u.clk.Now(), api.EventArtifactUploaded, api.SeverityInfo, "uploaded "+e.Name, eventData(e)))
	u.enforceBudget()
	return nil
}

// handleUploadError deals with what the backend said: the upload gone (start again), a hash
// mismatch (hash the file again, start again), a refusal for good, or a failure to retry.
func (u *Uploader) handleUploadError(ctx context.Context, e *Entry, err error) error {
	var ae *client.APIError
	switch {
	case errors.Is(err, errFileGone):
		return u.refuse(e, err.Error())
	case errors.Is(err, client.ErrUploadGone):
		e.Location, e.Acked = "", 0
		if uerr := u.sp.update(e); uerr != nil {
			return uerr
		}
		return err
	case errors.As(err, &ae) && ae.Code == api.ErrUploadHashMismatch:
		return u.rehash(ctx, e, err)
	}
	return u.refuseOrRetry(e, err)
}

// rehash: the bytes that arrived did not have the hash announced. The file is hashed again (it
// may have changed since), and uploaded again from the start; after maxMismatches the file is
// refused.
func (u *Uploader) rehash(ctx context.Context, e *Entry, cause error) error {
	e.Mismatches++
	if e.Location != "" {
		_ = u.backend.TerminateUpload(ctx, e.Location)
	}
	e.Location, e.Acked = "", 0
	if e.Mismatches >= maxMismatches {
		return u.refuse(e, fmt.Sprintf("hash mismatch %d times in a row: %v", e.Mismatches, cause))
	}
	size, sum, err := hashFile(e.Path)
	if err != nil {
		return u.refuse(e, err.Error())
	}
	e.Size, e.SHA256 = size, sum
	u.log.Warn("upload hash mismatch; uploading again", zap.String("file", e.Name), zap.Int("mismatches", e.Mismatches))
	if err := u.sp.update(e); err != nil {
		return err
	}
	return cause
}

// refuseOrRetry refuses the file for good on a 4xx other than 401, 408, 409, 413 (quota: space
// may be freed), 429; anything else is retried.
func (u *Uploader) refuseOrRetry(e *Entry, err error) error {
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Status < 400 || ae.Status >= 500 {
		return err
	}
	switch ae.Status {
	case http.StatusUnauthorized, http.StatusRequestTimeout, http.StatusConflict, http.StatusRequestEntityTooLarge,
		http.StatusTooManyRequests:
		return err
	}
	return u.refuse(e, err.Error())
}

func (u *Uploader) refuse(e *Entry, why string) error {
	e.State, e.Error = StateRefused, why
	if err := u.sp.update(e); err != nil {
		return err
	}
	u.log.Warn("upload refused for good; the file stays on the station", zap.String("file", e.Path), zap.String("why", why))
	u.ev.Emit(events.New(u.clk.Now(), api.EventArtifactRefused, api.SeverityWarning, "not uploaded: "+e.Name+": "+why, eventData(e)))
	return nil
}

// artifactEvent is the data of the artifact.* events.
type artifactEvent struct {
	Source     string `json:"source"`
	SourceID   string `json:"source_id"`
	Name       string `json:"name"`
	Kind       string `json:"kind"`
	Size       int64  `json:"size"`
	SHA256     string `json:"sha256"`
	ArtifactID string `json:"artifact_id,omitempty"`
	Error      string `json:"error,omitempty"`
}

func eventData(e *Entry) artifactEvent {
	return artifactEvent{Source: e.Source, SourceID: e.SourceID, Name: e.Name, Kind: e.Kind, Size: e.Size,
		SHA256: e.SHA256, ArtifactID: e.ArtifactID, Error: e.Error}
}

// limitedReader paces reads by a token bucket of bytes.
type limitedReader struct {
	ctx context.Context
	r   io.Reader
	lim *rate.Limiter
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if len(p) > l.lim.Burst() {
		p = p[:l.lim.Burst()]
	}
	n, err := l.r.Read(p)
	if n > 0 {
		if werr := l.lim.WaitN(l.ctx, n); werr != nil {
			return n, werr
		}
	}
	return n, err
}

// OutputDir is where a process's output directory goes inside its team directory.
func OutputDir(teamDir, source, sourceID string) string {
	return filepath.Join(teamDir, "output", source+"-"+sourceID)
}
