package runner

import (
	"context"
	"io"
	"time"
)

// Progress returns the last successful poll and heartbeat: a freshly updated binary passes its
// trial with both (satellite/update).
func (r *Runner) Progress() (poll, heartbeat time.Time) {
	return r.poller.Stats().LastSuccess, r.heartbeat.Stats().LastSuccess
}

// DownloadRelease streams a release artifact from the backend into w (runner.update).
func (r *Runner) DownloadRelease(ctx context.Context, releaseID string, w io.Writer) error {
	return r.sat.Client.DownloadRelease(ctx, r.sat.ID, releaseID, w)
}
