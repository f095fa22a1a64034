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
// wrapping client.ErrUnauthorized). Delivered commands go to the sink from a second goroutine,
// so a busy executor never holds up polling.
func (p *Poller) Run(ctx context.Context) error {
	handCtx, stopHanding := context.WithCancel(ctx)
	handed := make(chan struct{})
	go func() {
		defer close(handed)
		p.handOff(handCtx)
	}()
	defer func() { stopHanding(); <-handed }()
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

// handOff submits delivered batches to the sink, one at a time, until ctx is done.
func (p *Poller) handOff(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case cmds := <-p.batches:
			if err := p.sink.Submit(ctx, cmds); err != nil {
				return // only fails when ctx is done; the backend delivers them again
			}
		}
	}
}

// pollOnce makes one request and returns how long to wait before the next.
func (p *Poller) pollOnce(ctx context.Context) (time.Duration, error) {
	wait := p.waitFor()
	start := p.clk.Now()
	p.mu.Lock()
	last := p.lastServer
	p.stats.LastPoll = p.clk.Now()
	p.mu.Unlock()

	resp, header, err := p.src.Poll(ctx, wait, last)
	held := p.clk.Now().Sub(start)
	switch {
	case ctx.Err() != nil:
		return 0, nil
	case errors.Is(err, client.ErrUnauthorized):
		p.log.Error("the backend rejected this station's API key; stopping. Register again with `talos-satellite register`.")
		return 0, fmt.Errorf("poll commands: %w", err)
	case err != nil:
		return p.failed(wait, held, err), nil
	}
	return p.answered(wait, held, resp, header), nil
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

// failed decides the delay after a poll without an answer. A backend that cannot be reached
// at all (refused: it is restarting) is retried soon, never counted as a cut; a request cut in
// flight is a cut; every failure backs off with full jitter.
func (p *Poller) failed(wait, held time.Duration, err error) time.Duration {
	p.noteDown()
	var delay time.Duration
	switch {
	case client.Unreachable(err), client.NoAnswer(err) && held < MinHeldForCut:
		// Nobody to talk to, or a gateway (the shipped Caddy, a load balancer) saying at once
		// that the backend behind it is down: a restart, not a path cutting long requests.
		delay = p.backoff.NextWithin(p.outageLimit())
	default:
		if wait > 0 && client.NoAnswer(err) {
			p.noteCut(wait, held, "no answer")
		}
		delay = p.backoff.Next()
		var apiErr *client.APIError
		if errors.As(err, &apiErr) && apiErr.RetryAfter > delay {
			delay = min(apiErr.RetryAfter, MaxInterval)
		}
	}
	p.mu.Lock()
	p.stats.Failures++
	failures := p.stats.Failures
	p.mu.Unlock()
	p.log.Warn("poll failed; backing off", zap.Int("consecutive_failures", failures),
		zap.Duration("retry_in", delay), zap.Error(err))
	return delay
}

// noteDown records the start of an outage (the first failure after an answer).
func (p *Poller) noteDown() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.downSince.IsZero() {
		p.downSince = p.clk.Now()
	}
}

// outageLimit bounds the next retry while the backend cannot be reached: half the outage so
// far, at least OutageRetryFloor. A backend back after an outage of T is thus found within
// max(1 s, T/2), while the number of retries still grows only logarithmically with T.
func (p *Poller) outageLimit() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return max(OutageRetryFloor, p.clk.Now().Sub(p.downSince)/2)
}

func (p *Poller) answered(wait, held time.Duration, resp api.CommandsResponse, h http.Header) time.Duration {
	p.backoff.Reset()
	interval := intervalOf(resp, h)
	draining := h.Get(api.HeaderDraining) == "1"
	cmds := p.take(resp.Commands)
	p.mu.Lock()
	p.stats.Failures = 0
	p.stats.LastSuccess = p.clk.Now()
	p.stats.PollingMode = resp.PollingMode
	p.stats.Delivered += int64(len(cmds))
	p.interval = interval
	p.downSince = time.Time{}
	if draining {
		p.downSince = p.clk.Now()
	}
	if !resp.ServerTime.IsZero() {
		p.lastServer = resp.ServerTime
	}
	p.mu.Unlock()
	if draining && len(cmds) == 0 {
		// The backend is shutting down: it will be back, probably at once. Not a cut, and
		// not a reason to wait out the idle interval.
		delay := p.backoff.Next()
		p.log.Info("the backend is restarting; polling again soon", zap.Duration("retry_in", delay))
		return delay
	}
	return p.nextDelay(wait, held, len(cmds) > 0, resp.PollingMode, interval)
}

// take limits a delivery to api.MaxCommandsPerPoll and queues it for the sink without blocking.
// What is not taken (past the limit, or while the previous delivery still waits for the
// executor) the backend delivers again when its lease runs out.
func (p *Poller) take(cmds []api.Command) []api.Command {
	if len(cmds) == 0 {
		return nil
	}
	ignored := 0
	if len(cmds) > api.MaxCommandsPerPoll {
		ignored = len(cmds) - api.MaxCommandsPerPoll
		p.log.Warn("the backend delivered more commands than the protocol allows in one poll; taking the first ones",
			zap.Int("delivered", len(cmds)), zap.Int("taken", api.MaxCommandsPerPoll))
		cmds = cmds[:api.MaxCommandsPerPoll]
	}
	select {
	case p.batches <- cmds:
		p.log.Debug("commands delivered", zap.Int("count", len(cmds)))
	default:
		p.log.Warn("the executor is still taking the previous delivery; leaving these commands to be delivered again",
			zap.Int("count", len(cmds)))
		ignored += len(cmds)
		cmds = nil
	}
	if ignored > 0 {
		p.mu.Lock()
		p.stats.Ignored += int64(ignored)
		p.mu.Unlock()
	}
	return cmds
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
	if p.noteCut(wait, held, "early empty answer") {
		return interval
	}
	// One early answer may be a restart by a backend that does not mark its drain: retry soon.
	return p.backoff.Next()
}

// noteCut counts a cut long-poll and reports whether that made the poller fall back to short
// polling.
func (p *Poller) noteCut(wait, held time.Duration, why string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cuts++
	if p.cuts < FallbackAfter {
		return false
	}
	p.cuts = 0
	p.shortUntil = p.clk.Now().Add(RetryLongPollAfter)
	p.log.Warn("long-polls keep ending early (a proxy cutting long requests?); short-polling for a while",
		zap.String("reason", why), zap.Duration("wait", wait), zap.Duration("held", held),
		zap.Time("retry_long_poll_at", p.shortUntil))
	return true
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
