package update

import (
	"errors"
	"fmt"
	"os"
	"time"
)

// ErrRestart asks the runner to exit with ExitRestart: the binary on disk changed (an update was
// swapped in, or the previous binary was put back) and systemd must start it.
var ErrRestart = errors.New("the binary was replaced: restarting into it")

// Startup runs first thing in `talos-satellite run`, before the state directory's stores are
// opened: a binary on trial counts this start, and one that has started MaxTrialStarts times
// without passing its trial (it keeps crashing) is rolled back here, before it can crash again.
// It returns ErrRestart after a rollback. version is the running binary's.
func Startup(stateDir string, cfg Config, version string) error {
	m, ok, err := readMarker(stateDir)
	if err != nil || !ok || m.State != stateTrial {
		return err
	}
	if version != m.To {
		// Not the binary on trial (replaced by hand, or the swap never happened): nothing to judge.
		return removeMarker(stateDir)
	}
	m.Starts++
	if m.Starts > cfg.MaxTrialStarts {
		return rollback(stateDir, m, fmt.Sprintf("version %s started %d times without a successful poll and heartbeat (crash loop)",
			m.To, m.Starts-1))
	}
	return writeMarker(stateDir, m)
}

// rollback puts the previous binary back in place (a rename: atomic), keeps the failed one as
// <binary>.failed, records the rollback for the old binary to report, and returns ErrRestart.
func rollback(stateDir string, m marker, reason string) error {
	if _, err := os.Stat(m.Previous); err != nil {
		return fmt.Errorf("roll back to %s: the previous binary is gone: %w", m.From, err)
	}
	failed := m.Binary + ".failed"
	_ = os.Remove(failed)
	if err := os.Link(m.Binary, failed); err != nil && !errors.Is(err, os.ErrNotExist) {
		failed = ""
	}
	if err := os.Rename(m.Previous, m.Binary); err != nil {
		return fmt.Errorf("roll back to %s: %w", m.From, err)
	}
	if err := syncDir(dirOf(m.Binary)); err != nil {
		return fmt.Errorf("roll back to %s: %w", m.From, err)
	}
	m.State, m.Reason = stateRolledBack, reason
	if failed != "" {
		m.Reason += "; the failed binary is kept as " + failed
	}
	if err := writeMarker(stateDir, m); err != nil {
		return fmt.Errorf("roll back to %s: %w", m.From, err)
	}
	return ErrRestart
}

// trialDeadline is when the running trial (this start) ends.
func trialDeadline(started time.Time, cfg Config) time.Time { return started.Add(cfg.Trial) }
