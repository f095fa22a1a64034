package runner

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/client"
	"github.com/talos-gs/talos/satellite/events"
	"github.com/talos-gs/talos/satellite/statusapi"
	"github.com/talos-gs/talos/satellite/update"
)

// Run runs every loop and part until ctx is done or one fails. Shutdown is staged: polling,
// heartbeats and parts stop at once; running commands get DrainTimeout to finish; then the
// outbox makes its final flush under FlushTimeout (detached from ctx). Stores are closed before
// Run returns, so a Runner runs once.
func (r *Runner) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return errors.New("runner: Run called twice")
	}
	defer r.closeStores()
	r.log.Info("talos-satellite starting", zap.String("version", api.Version), zap.String("backend", r.backendURL()),
		zap.String("state_dir", r.cfg.StateDir))
	r.started = r.clk.Now()
	r.outbox.Emit(events.New(r.clk.Now(), api.EventSatelliteOnline, api.SeverityInfo, "runner started",
		map[string]string{"version": api.Version}))

	intakeCtx, stopIntake := context.WithCancelCause(ctx)
	defer stopIntake(nil)
	outboxCtx, stopOutbox := context.WithCancel(context.WithoutCancel(ctx))
	defer stopOutbox()
	outboxDone := make(chan error, 1)
	go func() {
		err := r.outbox.Run(outboxCtx)
		if err != nil {
			stopIntake(err) // a revoked key stops everything
		}
		outboxDone <- err
	}()

	intakeErr := r.runIntake(intakeCtx)
	r.announceStop(intakeErr)
	r.sayGoodbye(ctx, intakeErr)
	stopOutbox()
	outboxErr := <-outboxDone
	r.saveSnapshot()
	r.log.Info("talos-satellite stopped", zap.Int("events_queued", r.outbox.Depth()))
	return firstError(intakeErr, outboxErr)
}

// runIntake runs everything but the outbox under one errgroup.
func (r *Runner) runIntake(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	loops := map[string]func(context.Context) error{
		"executor": r.executor.Run, "poller": r.poller.Run, "heartbeat": r.heartbeat.Run,
		"status endpoint": r.status.Run, "housekeeping": r.housekeeping,
	}
	for name, run := range loops {
		g.Go(func() error { return wrap(name, run(gctx)) })
	}
	for _, x := range r.extras {
		for _, loop := range x.Loops {
			g.Go(func() error { return wrap(loop.Name, loop.Run(gctx)) })
		}
	}
	err := g.Wait()
	if cause := context.Cause(ctx); err == nil && cause != nil && !errors.Is(cause, context.Canceled) {
		err = cause
	}
	return err
}

func wrap(name string, err error) error {
	if err == nil || errors.Is(err, context.Canceled) {
		return nil
	}
	return fmt.Errorf("%s: %w", name, err)
}

// announceStop queues a last event saying why the runner stops; the final flush sends it.
func (r *Runner) announceStop(cause error) {
	msg, sev := "runner stopping", api.SeverityInfo
	switch {
	case errors.Is(cause, update.ErrRestart):
		msg = "runner restarting: " + cause.Error()
		r.log.Info("restarting into the binary now on disk", zap.Error(cause))
	case cause != nil:
		msg, sev = "runner stopping: "+cause.Error(), api.SeverityError
		r.log.Error("stopping on error", zap.Error(cause))
	}
	r.outbox.Emit(events.New(r.clk.Now(), api.EventSatelliteOffline, sev, msg, nil))
}

// sayGoodbye sends the final heartbeat (status stopping), so the backend shows the station
// offline at once. It is bounded by outbox.flush_timeout, detached from the cancelled ctx, and
// skipped when the backend refused the key: it would refuse this call too.
func (r *Runner) sayGoodbye(ctx context.Context, cause error) {
	if errors.Is(cause, client.ErrUnauthorized) {
		return
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.Outbox.FlushTimeout)
	defer cancel()
	if err := r.heartbeat.Final(fctx); err != nil {
		r.log.Warn("could not tell the backend this station is stopping; it will show offline after 2.5 heartbeat intervals", zap.Error(err))
	}
}

func (r *Runner) saveSnapshot() {
	if err := statusapi.SaveSnapshot(r.cfg.StateDir, r.Snapshot()); err != nil {
		r.log.Warn("cannot save the status snapshot", zap.Error(err))
	}
}

func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
