package poller

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/client"
	"github.com/talos-gs/talos/satellite/internal/clock"
)

// Run polls until ctx is done (returns nil) or the backend rejects the key (returns an error
// wrapping client.ErrUnauthorized).
func (p *Poller) Run(ctx context.Context) error {
	for {
		delay, err := p.pollOnce(ctx)
		if err != nil {
			return err
		}
		p.setNext(delay)
		if clock.Wait(ctx, p.clk, delay) != nil {
			return nil
		}
	}
}

// pollOnce makes one request and returns how long to wait before the next.
func (p *Poller) pollOnce(ctx context.Context) (time.Duration, error) {
	wait := p.waitFor()
	start := p.now()
	p.mu.Lock()
	last := p.lastServer
	p.stats.LastPoll = p.clk.Now()
	p.mu.Unlock()

	resp, header, err := p.src.Poll(ctx, wait, last)
	held := p.now().Sub(start)
	switch {
	case ctx.Err() != nil:
		return 0, nil
	case errors.Is(err, client.ErrUnauthorized):
		p.log.Error("the backend rejected this station's API key; stopping. Register again with `talos-satellite register`.")
		return 0, fmt.Errorf("poll commands: %w", err)
	case err != nil:
		return p.failed(wait, held, err), nil
	}
	return p.answered(ctx, wait, held, resp, header)
}

// waitFor decides between a long-poll and a short poll.
func (p *Poller) waitFor() time.Duration {
	lp := p.LongPoll()
	p.mu.Lock()
	defer p.mu.Unlock()
	if lp <= 0 || p.stats.PollingMode == api.PollingMaintenance || p.clk.Now().Before(p.shortUntil) {
		p.stats.LongPolling = false
		return 0
	}
	p.stats.LongPolling = true
	return lp
}

func (p *Poller) failed(wait, held time.Duration, err error) time.Duration {
	if wait > 0 && client.NoAnswer(err) {
		p.noteCut(wait, held, "no answer")
	}
	delay := p.backoff.Next()
	var apiErr *client.APIError
	if errors.As(err, &apiErr) && apiErr.RetryAfter > delay {
		delay = min(apiErr.RetryAfter, MaxInterval)
	}
	p.mu.Lock()
	p.stats.Failures++
	failures := p.stats.Failures
	p.mu.Unlock()
	p.log.Warn("poll failed; backing off", zap.Int("consecutive_failures", failures),
		zap.Duration("retry_in", delay), zap.Error(err))
	return delay
}

func (p *Poller) answered(ctx context.Context, wait, held time.Duration, resp api.CommandsResponse, h http.Header) (time.Duration, error) {
	p.backoff.Reset()
	interval := intervalOf(resp, h)
	p.mu.Lock()
	p.stats.Failures = 0
	p.stats.LastSuccess = p.clk.Now()
	p.stats.PollingMode = resp.PollingMode
	p.stats.Delivered += int64(len(resp.Commands))
	p.interval = interval
	if !resp.ServerTime.IsZero() {
		p.lastServer = resp.ServerTime
	}
	p.mu.Unlock()
	if len(resp.Commands) > 0 {
		p.log.Debug("commands delivered", zap.Int("count", len(resp.Commands)))
		if err := p.sink.Submit(ctx, resp.Commands); err != nil {
			return 0, nil // only fails when ctx is done
		}
	}
	return p.nextDelay(wait, held, len(resp.Commands) > 0, resp.PollingMode, interval), nil
}

// nextDelay applies the pacing rules of the package comment.
func (p *Poller) nextDelay(wait, held time.Duration, gotCommands bool, mode api.PollingMode, interval time.Duration) time.Duration {
	if wait <= 0 || mode == api.PollingMaintenance {
		return interval
	}
	if gotCommands || held >= wait/2 {
		p.resetCuts()
		return 0
	}
	p.noteCut(wait, held, "early empty answer")
	return interval
}

func (p *Poller) noteCut(wait, held time.Duration, why string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cuts++
	if p.cuts < FallbackAfter {
		return
	}
	p.cuts = 0
	p.shortUntil = p.clk.Now().Add(RetryLongPollAfter)
	p.log.Warn("long-polls keep ending early (a proxy cutting long requests?); short-polling for a while",
		zap.String("reason", why), zap.Duration("wait", wait), zap.Duration("held", held),
		zap.Time("retry_long_poll_at", p.shortUntil))
}

func (p *Poller) resetCuts() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cuts = 0
}

func (p *Poller) setNext(delay time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats.NextPoll = p.clk.Now().Add(delay)
}

// intervalOf reads next_poll_seconds, falling back to the X-Poll-Interval header.
func intervalOf(resp api.CommandsResponse, h http.Header) time.Duration {
	if resp.NextPollSeconds > 0 {
		return Clamp(resp.NextPollSeconds)
	}
	if n, err := strconv.Atoi(h.Get(api.HeaderPollInterval)); err == nil {
		return Clamp(n)
	}
	return DefaultInterval
}
