package update

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/command"
	"github.com/talos-gs/talos/satellite/events"
	"github.com/talos-gs/talos/satellite/internal/clock"
)

// Downloader writes a release artifact's bytes to w (the client's release download).
type Downloader func(ctx context.Context, releaseID string, w io.Writer) error

// Busy says whether an update must wait at now: a non-empty reason while a pass runs or one is
// due within margin, with the time to look again.
type Busy func(now time.Time, margin time.Duration) (reason string, until time.Time)

// Options build an Updater.
type Options struct {
	Config   Config
	StateDir string
	// Version is the running binary's version (api.Version).
	Version  string
	Download Downloader
	// Progress returns the last successful poll and heartbeat; required to judge a trial.
	Progress func() (poll, heartbeat time.Time)
	// Busy; nil: never busy (a runner without a scheduler).
	Busy Busy
	// Recheck is the longest wait between two looks at Busy while deferred; default 30 s.
	Recheck time.Duration
	Clock   clock.Clock
	Emitter events.Emitter
	Logger  *zap.Logger
}

// Updater serves runner.update and runs the trial of a freshly updated binary.
type Updater struct {
	opts    Options
	pub     ed25519.PublicKey
	binary  string
	started time.Time
	restart chan struct{}
	busyMu  sync.Mutex // one update at a time
}

// New checks the options and resolves the binary to replace.
func New(opts Options) (*Updater, error) {
	if opts.Download == nil || opts.Progress == nil || opts.Emitter == nil || opts.StateDir == "" {
		return nil, errors.New("update: download, progress, emitter and state dir are required")
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.Recheck <= 0 {
		opts.Recheck = 30 * time.Second
	}
	u := &Updater{opts: opts, started: opts.Clock.Now(), restart: make(chan struct{}, 1)}
	if opts.Config.PublicKey != "" {
		pub, err := ParsePublicKey(opts.Config.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("update.public_key: %w", err)
		}
		u.pub = pub
	}
	bin, err := resolveBinary(opts.Config.Binary)
	if err != nil {
		return nil, err
	}
	u.binary = bin
	return u, nil
}

func resolveBinary(configured string) (string, error) {
	bin := configured
	if bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return "", fmt.Errorf("update: find the running binary (set update.binary): %w", err)
		}
		bin = exe
	}
	resolved, err := filepath.EvalSymlinks(bin)
	if err != nil {
		return "", fmt.Errorf("update.binary %s: %w", bin, err)
	}
	return filepath.Abs(resolved)
}

// Handlers serve runner.update.
func (u *Updater) Handlers() command.Handlers {
	return command.Handlers{api.CommandRunnerUpdate: u.handle}
}

// Run reports a rollback the previous start made, judges the trial of a new binary, and returns
// ErrRestart when an update was swapped in or the trial failed.
func (u *Updater) Run(ctx context.Context) error {
	m, ok, err := readMarker(u.opts.StateDir)
	if err != nil {
		return err
	}
	if ok && m.State == stateRolledBack {
		u.emit(api.EventRunnerRolledBack, api.SeverityError, "rolled back from "+m.To+" to "+m.From+": "+m.Reason,
			api.RunnerUpdateEventData{From: m.To, To: m.From, Reason: m.Reason, ReleaseID: m.ReleaseID})
		if err := removeMarker(u.opts.StateDir); err != nil {
			return err
		}
	}
	if ok && m.State == stateTrial && m.To == u.opts.Version {
		if err := u.judge(ctx, m); err != nil {
			return err
		}
	}
	select {
	case <-ctx.Done():
		return nil
	case <-u.restart:
		return ErrRestart
	}
}

// judge waits for a successful poll and heartbeat of this start within the trial time; the
// binary then stays. Otherwise the previous binary is put back and the runner restarts.
func (u *Updater) judge(ctx context.Context, m marker) error {
	deadline := trialDeadline(u.started, u.opts.Config)
	log := u.opts.Logger.With(zap.String("from", m.From), zap.String("to", m.To))
	log.Info("new version on trial: it must complete a successful poll and heartbeat", zap.Time("deadline", deadline))
	for {
		poll, hb := u.opts.Progress()
		if !poll.Before(u.started) && !hb.Before(u.started) {
			if err := removeMarker(u.opts.StateDir); err != nil {
				return err
			}
			log.Info("update passed its trial")
			u.emit(api.EventRunnerUpdated, api.SeverityInfo, "updated from "+m.From+" to "+m.To,
				api.RunnerUpdateEventData{From: m.From, To: m.To, ReleaseID: m.ReleaseID})
			return nil
		}
		now := u.opts.Clock.Now()
		if !now.Before(deadline) {
			reason := fmt.Sprintf("version %s did not complete a successful poll and heartbeat within %s", m.To, u.opts.Config.Trial)
			log.Error("update failed its trial; rolling back", zap.String("reason", reason))
			return rollback(u.opts.StateDir, m, reason)
		}
		if err := clock.Wait(ctx, u.opts.Clock, min(250*time.Millisecond, deadline.Sub(now))); err != nil {
			return nil //nolint:nilerr // stopped during the trial: the next start goes on judging
		}
	}
}

func (u *Updater) emit(typ string, sev api.Severity, msg string, data api.RunnerUpdateEventData) {
	u.opts.Emitter.Emit(events.New(u.opts.Clock.Now(), typ, sev, msg, data))
}

// refusal is an update the station will not apply; the command fails with it.
type refusal struct{ reason string }

func (r *refusal) Error() string { return "update refused: " + r.reason }

func (u *Updater) handle(ctx context.Context, cmd api.Command) (json.RawMessage, error) {
	var p api.RunnerUpdatePayload
	if err := command.DecodePayload(cmd, &p); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if !u.busyMu.TryLock() {
		return nil, u.refuse(p, "another runner.update is in progress")
	}
	defer u.busyMu.Unlock()
	if err := u.admissible(p); err != nil {
		return nil, err
	}
	if p.Version == u.opts.Version {
		return json.Marshal(api.RunnerUpdateResult{From: u.opts.Version, To: p.Version, Status: api.UpdateCurrent})
	}
	if err := u.waitForQuiet(ctx, p); err != nil {
		return nil, err
	}
	tmp, err := u.download(ctx, p)
	if err != nil {
		return nil, err
	}
	if err := u.swap(tmp, p); err != nil {
		_ = os.Remove(tmp)
		return nil, err
	}
	u.emit(api.EventRunnerUpdateRestarting, api.SeverityInfo, "swapped "+u.opts.Version+" for "+p.Version+"; restarting",
		api.RunnerUpdateEventData{From: u.opts.Version, To: p.Version, ReleaseID: p.ReleaseID})
	select {
	case u.restart <- struct{}{}:
	default:
	}
	return json.Marshal(api.RunnerUpdateResult{From: u.opts.Version, To: p.Version, Status: api.UpdateRestarting})
}

// admissible refuses what must never be applied: manual mode, no key, another platform, a
// version on trial, a signature that does not verify.
func (u *Updater) admissible(p api.RunnerUpdatePayload) error {
	switch {
	case u.opts.Config.Mode == ModeManual:
		return u.refuse(p, api.UpdateManualReason)
	case u.pub == nil:
		return u.refuse(p, "no update.public_key is configured, so no release can be verified")
	case p.OS != runtime.GOOS || p.Arch != runtime.GOARCH:
		return u.refuse(p, fmt.Sprintf("the release is for %s/%s, this station runs %s/%s", p.OS, p.Arch, runtime.GOOS, runtime.GOARCH))
	}
	if m, ok, err := readMarker(u.opts.StateDir); err != nil || ok {
		return u.refuse(p, fmt.Sprintf("the previous update (%s → %s) is not settled yet", m.From, m.To))
	}
	if err := api.VerifyRelease(u.pub, p.Version, p.OS, p.Arch, p.SHA256, p.Signature); err != nil {
		return u.refuse(p, err.Error())
	}
	return nil
}

func (u *Updater) refuse(p api.RunnerUpdatePayload, reason string) error {
	u.opts.Logger.Warn("runner.update refused", zap.String("to", p.Version), zap.String("reason", reason))
	u.emit(api.EventRunnerUpdateRefused, api.SeverityWarning, "update to "+p.Version+" refused: "+reason,
		api.RunnerUpdateEventData{From: u.opts.Version, To: p.Version, Reason: reason, ReleaseID: p.ReleaseID})
	return &refusal{reason: reason}
}

// waitForQuiet defers the update while a pass runs or one is due within the margin, saying so
// once per busy stretch, and looks again when the pass ends or every Recheck.
func (u *Updater) waitForQuiet(ctx context.Context, p api.RunnerUpdatePayload) error {
	if u.opts.Busy == nil {
		return nil
	}
	said := ""
	for {
		now := u.opts.Clock.Now()
		reason, until := u.opts.Busy(now, u.opts.Config.DeferMargin)
		if reason == "" {
			return nil
		}
		if reason != said {
			said = reason
			u.opts.Logger.Info("runner.update deferred", zap.String("to", p.Version), zap.String("reason", reason))
			u.emit(api.EventRunnerUpdateDeferred, api.SeverityInfo, "update to "+p.Version+" deferred: "+reason,
				api.RunnerUpdateEventData{From: u.opts.Version, To: p.Version, Reason: reason, ReleaseID: p.ReleaseID})
		}
		wait := u.opts.Recheck
		if d := until.Sub(now); d > 0 && d < wait {
			wait = d
		}
		if err := clock.Wait(ctx, u.opts.Clock, wait); err != nil {
			return fmt.Errorf("deferred update to %s not applied: %w", p.Version, err)
		}
	}
}
