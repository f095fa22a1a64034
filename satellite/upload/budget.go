package upload

import (
	"errors"
	"os"

	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/events"
)

// enforceBudget deletes spooled files from the station while they take more than the disk
// budget: the oldest uploaded (or kept) files first, then, with an artifact.dropped event
// each, the oldest not yet uploaded.
func (u *Uploader) enforceBudget() {
	u.mu.Lock()
	defer u.mu.Unlock()
	all, err := u.sp.all()
	if err != nil {
		u.log.Warn("disk budget: read spool", zap.Error(err))
		return
	}
	var used int64
	for _, e := range all {
		if !e.Deleted {
			used += e.Size
		}
	}
	for _, tier := range [][]string{{StateUploaded, StateKept}, {StateQueued, StateRefused}} {
		for i := range all {
			if used <= u.settings.DiskBudget {
				return
			}
			e := &all[i]
			if e.Deleted || !in(e.State, tier) {
				continue
			}
			if err := u.deleteFile(e); err != nil {
				u.log.Warn("disk budget: delete", zap.String("file", e.Path), zap.Error(err))
				continue
			}
			used -= e.Size
		}
	}
}

func in(s string, set []string) bool {
	for _, x := range set {
		if x == s {
			return true
		}
	}
	return false
}

func (u *Uploader) deleteFile(e *Entry) error {
	if err := os.Remove(e.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	e.Deleted = true
	if err := u.sp.update(e); err != nil {
		return err
	}
	if e.State == StateQueued || e.State == StateRefused {
		u.log.Warn("disk budget: deleted a file not uploaded", zap.String("file", e.Path), zap.Int64("bytes", e.Size))
		u.ev.Emit(events.New(u.clk.Now(), api.EventArtifactDropped, api.SeverityWarning,
			"disk budget full: deleted "+e.Name+" before it was uploaded", eventData(e)))
	}
	return nil
}
