package station

import (
	"context"

	"go.uber.org/zap"

	"github.com/talos-gs/talos/satellite/proc"
	"github.com/talos-gs/talos/satellite/runner"
	"github.com/talos-gs/talos/satellite/tracker"
	"github.com/talos-gs/talos/satellite/upload"
	"github.com/talos-gs/talos/satellite/waterfall"
)

// buildUploads opens the upload spool, on the runner's upload client (connections of its
// own). It comes before the process manager, which hands it output directories.
func (st *hardware) buildUploads(_ context.Context, d stationDeps) error {
	sat, err := d.uploadClient()
	if err != nil {
		return err
	}
	u := d.cfg.Uploads
	st.uploads, err = upload.Open(upload.Options{Dir: d.cfg.StateDir, Backend: sat, Events: d.em, Logger: d.log.Named("uploads"),
		Clock: d.clk, Tracking: st.tracking,
		Settings: upload.Settings{RateBytes: u.RateBytes, DuringPass: u.DuringPass, PassRate: u.PassRateBytes,
			ChunkBytes: u.ChunkBytes, DiskBudget: u.DiskBudgetBytes},
		// A recording without a waterfall gets one rendered by the station (docs/waterfall.md);
		// the sample rate and centre come from a WAV header or a SigMF sidecar next to it.
		Waterfall: renderWaterfall,
	})
	return err
}

// tracking reports whether a pass is being tracked now (uploads pause or throttle then).
func (st *hardware) tracking() bool {
	if st.sched == nil {
		return false
	}
	ts := st.sched.Tracking()
	return ts != nil && (ts.State == tracker.StateTracking || ts.State == tracker.StatePreparing)
}

// uploadsLoop runs the upload loop and closes the spool after it.
func (st *hardware) uploadsLoop() runner.Loop {
	return runner.Loop{Name: "uploads", Run: func(ctx context.Context) error {
		st.uploadsRunning.Store(true)
		defer func() { _ = st.uploads.Close() }()
		return st.uploads.Run(ctx)
	}}
}

// outputs hands the process manager's output directories to the spool.
type outputs struct {
	u   *upload.Uploader
	log *zap.Logger
}

func dirOf(d proc.OutputDir) upload.Dir {
	return upload.Dir{Path: d.Path, Source: d.Source, SourceID: d.SourceID, Team: d.Team, Kinds: d.Kinds}
}

// Opened records the directory before the process starts.
func (o outputs) Opened(d proc.OutputDir) error { return o.u.OpenDir(dirOf(d)) }

// Closed collects the directory once the process has exited for good; if that fails the
// directory stays recorded and is collected at the next start.
func (o outputs) Closed(d proc.OutputDir) {
	if err := o.u.CloseDir(dirOf(d)); err != nil {
		o.log.Warn("collect output directory", zap.String("dir", d.Path), zap.Error(err))
	}
}

// renderWaterfall renders the station's own waterfall of an IQ or audio recording
// (upload.WaterfallRenderer).
func renderWaterfall(ctx context.Context, input, _, png string) error {
	_, err := waterfall.RenderFile(ctx, input, png, waterfall.Options{})
	return err
}
