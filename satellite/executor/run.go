package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"

	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/state"
)

// handle takes one delivered command through its lifecycle.
func (e *Executor) handle(ctx context.Context, cmd api.Command) {
	log := e.log.With(zap.String("command_id", cmd.ID), zap.String("command_type", cmd.Type),
		zap.String("correlation_id", cmd.CorrelationID))
	if !e.claim(cmd.ID) {
		log.Debug("command already running; ignoring the second delivery")
		return
	}
	defer e.release(cmd.ID)
	rec, created, err := e.store.Accept(cmd, e.clk.Now())
	if err != nil {
		// Without the record the command could run twice after a crash: do not run it.
		log.Error("cannot record the command; not running it", zap.Error(err))
		return
	}
	if !created {
		e.settleKnown(ctx, log, rec)
		return
	}
	e.execute(ctx, log, cmd)
}

func (e *Executor) claim(id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.running[id] {
		return false
	}
	e.running[id] = true
	return true
}

func (e *Executor) release(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.running, id)
}

func (e *Executor) execute(ctx context.Context, log *zap.Logger, cmd api.Command) {
	ack := api.CommandStatusUpdate{Status: api.CommandAcknowledged, CorrelationID: cmd.CorrelationID}
	if err := e.report(ctx, log, cmd.ID, ack); err != nil {
		// Refused (cancelled, expired): nothing to tell the backend. Otherwise (shutdown, a
		// revoked key) the outcome stays unreported and is sent at the next start.
		e.finish(ctx, log, cmd.ID, failed(cmd, fmt.Sprintf("not run: could not acknowledge: %v", err)),
			!errors.Is(err, errRefused))
		return
	}
	running := api.CommandStatusUpdate{Status: api.CommandRunning, CorrelationID: cmd.CorrelationID}
	if err := e.report(ctx, log, cmd.ID, running); err != nil {
		log.Warn("could not report running; continuing", zap.Error(err))
	}
	log.Info("running command")
	e.finish(ctx, log, cmd.ID, e.invoke(ctx, cmd), true)
}

// invoke runs the handler; an unknown type or a panic becomes a failed outcome.
func (e *Executor) invoke(ctx context.Context, cmd api.Command) (upd api.CommandStatusUpdate) {
	h, ok := e.handlers[cmd.Type]
	if !ok {
		return failed(cmd, fmt.Sprintf("unknown command type %q: this runner handles %v", cmd.Type, e.Types()))
	}
	defer func() {
		if r := recover(); r != nil {
			e.log.Error("command handler panicked", zap.String("command_id", cmd.ID), zap.Any("panic", r),
				zap.ByteString("stack", debug.Stack()))
			upd = failed(cmd, fmt.Sprintf("handler panicked: %v", r))
		}
	}()
	result, err := h(ctx, cmd)
	if err != nil {
		return failed(cmd, err.Error())
	}
	if len(result) > 0 && !json.Valid(result) {
		return failed(cmd, "handler returned a result that is not valid JSON")
	}
	return api.CommandStatusUpdate{Status: api.CommandSucceeded, Result: result, CorrelationID: cmd.CorrelationID}
}

func failed(cmd api.Command, msg string) api.CommandStatusUpdate {
	return api.CommandStatusUpdate{Status: api.CommandFailed, Error: msg, CorrelationID: cmd.CorrelationID}
}

// finish stores the outcome, then reports it. sendFinal=false stores it as reported (the
// backend refused the command, so there is nothing to tell it).
func (e *Executor) finish(ctx context.Context, log *zap.Logger, id string, upd api.CommandStatusUpdate, sendFinal bool) {
	e.results[upd.Status].Add(1)
	rec, err := e.store.Finish(id, upd, e.clk.Now())
	if err != nil {
		log.Error("cannot store the command's outcome", zap.Error(err))
		rec = state.CommandRecord{ID: id, Status: upd.Status, Result: upd.Result, Error: upd.Error, CorrelationID: upd.CorrelationID}
	}
	if upd.Status == api.CommandFailed {
		log.Warn("command failed", zap.String("error", upd.Error))
	} else {
		log.Info("command succeeded")
	}
	if sendFinal {
		e.reportFinal(ctx, log, rec)
		return
	}
	e.markReported(log, id)
}

// reportFinal sends a stored outcome; on success (or a refusal that no retry can change) the
// record is marked reported. Otherwise it stays unreported and is sent at the next start.
func (e *Executor) reportFinal(ctx context.Context, log *zap.Logger, rec state.CommandRecord) {
	err := e.report(ctx, log, rec.ID, rec.Final())
	if err != nil && !errors.Is(err, errRefused) {
		log.Warn("final status not delivered; it will be sent again at the next start", zap.Error(err))
		return
	}
	e.markReported(log, rec.ID)
}

func (e *Executor) markReported(log *zap.Logger, id string) {
	if err := e.store.MarkReported(id); err != nil {
		log.Error("cannot mark the command reported", zap.Error(err))
	}
}

// settleKnown handles a command seen before: resend its outcome, or, if it has none, it was
// interrupted by a restart and is failed without running again.
func (e *Executor) settleKnown(ctx context.Context, log *zap.Logger, rec state.CommandRecord) {
	switch rec.Phase {
	case state.PhaseDone:
		log.Info("command delivered again; resending its outcome instead of running it twice")
		e.reportFinal(ctx, log, rec)
	default:
		log.Warn("command was interrupted by a restart; reporting it failed, not running it again")
		cmd := api.Command{ID: rec.ID, CorrelationID: rec.CorrelationID}
		e.finish(ctx, log, rec.ID, failed(cmd, InterruptedError), true)
	}
}

// recover settles the records the previous run left unreported. It reports under ctx, not the
// work context: nothing runs yet, and a backend that stays down must not keep the runner from
// shutting down (the outbox flushes only after the executor returns). A record whose report is
// cut short stays unreported and is settled at the next start.
func (e *Executor) recover(ctx context.Context) error {
	recs, err := e.store.Unreported()
	if err != nil {
		return fmt.Errorf("executor: %w", err)
	}
	for _, rec := range recs {
		if ctx.Err() != nil {
			return nil
		}
		log := e.log.With(zap.String("command_id", rec.ID), zap.String("command_type", rec.Type))
		e.settleKnown(ctx, log, rec)
	}
	return nil
}
