package executor

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/client"
	"github.com/talos-gs/talos/satellite/internal/backoff"
	"github.com/talos-gs/talos/satellite/internal/clock"
)

// errRefused marks a status update the backend will never accept (409 illegal transition,
// 404 unknown command, 400): retrying cannot help.
var errRefused = errors.New("backend refused the status update")

// report sends one status update, retrying what can be retried (status updates are idempotent
// on the backend) with capped, jittered backoff until ctx is done.
func (e *Executor) report(ctx context.Context, log *zap.Logger, id string, upd api.CommandStatusUpdate) error {
	b := &backoff.Backoff{Base: backoff.DefaultBase, Max: backoff.DefaultMax, Rand: e.rand}
	for {
		_, err := e.reporter.UpdateCommandStatus(ctx, id, upd)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, client.ErrUnauthorized):
			return fmt.Errorf("%w: %w", errFatal, err)
		case refused(err):
			log.Warn("backend refused the status update", zap.String("status", string(upd.Status)), zap.Error(err))
			return fmt.Errorf("%w: %w", errRefused, err)
		case !client.Retryable(err):
			return err
		}
		delay := b.Next()
		log.Debug("status update failed; retrying", zap.String("status", string(upd.Status)),
			zap.Duration("retry_in", delay), zap.Error(err))
		if err := clock.Wait(ctx, e.clk, delay); err != nil {
			return err
		}
	}
}

func refused(err error) bool {
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.Status {
	case http.StatusConflict, http.StatusNotFound, http.StatusBadRequest, http.StatusGone:
		return true
	}
	return false
}
