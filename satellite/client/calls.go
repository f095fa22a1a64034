package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/talos-gs/talos/backend/api"
)

// OpLongPoll names a long-poll for the Observer: its duration is mostly the backend's wait, not
// a response time.
const OpLongPoll = "long_poll"

// longPollMargin is added to a long-poll's timeout so the backend's answer at the end of the
// wait is not cut by our own deadline.
const longPollMargin = 15 * time.Second

// Register exchanges a registration token for an identity and API key.
func (c *Client) Register(ctx context.Context, token string, req api.RegisterRequest) (api.RegisterResponse, error) {
	var out api.RegisterResponse
	if token == "" {
		return out, fmt.Errorf("register: %s: a registration token is required", api.ErrRegistrationTokenRequired)
	}
	_, err := c.do(ctx, call{op: "register", method: http.MethodPost, path: "/api/satellites/register",
		body: req, out: &out, bearer: token})
	if err != nil {
		return out, err
	}
	if out.SatelliteID == "" || out.APIKey == "" {
		return out, fmt.Errorf("register: %w", &ProtocolError{Status: http.StatusOK,
			Err: fmt.Errorf("response lacks satellite_id or api_key")})
	}
	return out, nil
}

// Poll asks for pending commands. wait > 0 long-polls for up to wait; lastPoll, when not zero,
// is sent as X-Last-Poll.
func (c *Client) Poll(ctx context.Context, satelliteID string, wait time.Duration, lastPoll time.Time) (api.CommandsResponse, http.Header, error) {
	var out api.CommandsResponse
	if c.apiKey == "" {
		return out, nil, errEmptyBearer
	}
	cl := call{op: "poll", method: http.MethodGet, path: satellitePath(satelliteID, "/commands"), out: &out,
		header: http.Header{}}
	if secs := int(wait / time.Second); secs > 0 {
		cl.op = OpLongPoll
		cl.query = url.Values{"wait": {strconv.Itoa(secs)}}
		cl.timeout = c.timeout + wait + longPollMargin
	}
	if !lastPoll.IsZero() {
		cl.header.Set(api.HeaderLastPoll, lastPoll.UTC().Format(time.RFC3339Nano))
	}
	h, err := c.do(ctx, cl)
	return out, h, err
}

// UpdateCommandStatus reports a command's progress. The backend treats a repeat as a no-op.
func (c *Client) UpdateCommandStatus(ctx context.Context, satelliteID, commandID string, upd api.CommandStatusUpdate) (api.CommandStatusResponse, error) {
	var out api.CommandStatusResponse
	_, err := c.do(ctx, call{op: "command_status", method: http.MethodPost,
		path: satellitePath(satelliteID, "/commands/"+url.PathEscape(commandID)+"/status"), body: upd, out: &out})
	return out, err
}

// Heartbeat sends a health report.
func (c *Client) Heartbeat(ctx context.Context, satelliteID string, hb api.Heartbeat) (api.HeartbeatResponse, error) {
	var out api.HeartbeatResponse
	_, err := c.do(ctx, call{op: "heartbeat", method: http.MethodPost, path: satellitePath(satelliteID, "/heartbeat"),
		body: hb, out: &out})
	return out, err
}

// SendEvents posts one batch of at most api.MaxEventBatch events.
func (c *Client) SendEvents(ctx context.Context, satelliteID string, batch api.EventBatch) (api.EventBatchResponse, error) {
	var out api.EventBatchResponse
	if len(batch.Events) > api.MaxEventBatch {
		return out, fmt.Errorf("events: batch of %d exceeds the protocol limit of %d", len(batch.Events), api.MaxEventBatch)
	}
	_, err := c.do(ctx, call{op: "events", method: http.MethodPost, path: satellitePath(satelliteID, "/events"),
		body: batch, out: &out})
	return out, err
}

// downloadTimeout bounds a release download: tens of MiB over a slow station uplink.
const downloadTimeout = 30 * time.Minute

// DownloadRelease streams release artifact releaseID into w (GET
// /api/satellites/{id}/releases/{releaseId}). The caller checks size and hash.
func (c *Client) DownloadRelease(ctx context.Context, satelliteID, releaseID string, w io.Writer) error {
	if c.apiKey == "" {
		return errEmptyBearer
	}
	_, err := c.do(ctx, call{op: "release_download", method: http.MethodGet,
		path: satellitePath(satelliteID, "/releases/"+url.PathEscape(releaseID)), sink: w, timeout: downloadTimeout})
	return err
}

func satellitePath(id, rest string) string {
	return "/api/satellites/" + url.PathEscape(id) + rest
}
