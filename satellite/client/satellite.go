package client

import (
	"context"
	"net/http"
	"time"

	"github.com/talos-gs/talos/backend/api"
)

// Satellite is a Client bound to one registered satellite id: the form every loop uses.
type Satellite struct {
	Client *Client
	ID     string
}

// Poll asks for pending commands; see Client.Poll.
func (s Satellite) Poll(ctx context.Context, wait time.Duration, lastPoll time.Time) (api.CommandsResponse, http.Header, error) {
	return s.Client.Poll(ctx, s.ID, wait, lastPoll)
}

// UpdateCommandStatus reports a command's progress; see Client.UpdateCommandStatus.
func (s Satellite) UpdateCommandStatus(ctx context.Context, commandID string, upd api.CommandStatusUpdate) (api.CommandStatusResponse, error) {
	return s.Client.UpdateCommandStatus(ctx, s.ID, commandID, upd)
}

// Heartbeat sends a health report; see Client.Heartbeat.
func (s Satellite) Heartbeat(ctx context.Context, hb api.Heartbeat) (api.HeartbeatResponse, error) {
	return s.Client.Heartbeat(ctx, s.ID, hb)
}

// SendEvents posts one batch; see Client.SendEvents.
func (s Satellite) SendEvents(ctx context.Context, batch api.EventBatch) (api.EventBatchResponse, error) {
	return s.Client.SendEvents(ctx, s.ID, batch)
}
