// Package poller is the loop that fetches commands from the backend and hands them to the
// executor. It obeys the backend's pacing (next_poll_seconds, clamped to 2–300 s), long-polls
// when the backend offers it, falls back to short polling when something on the path cuts long
// requests, and backs off with full jitter on errors. A 401 stops it: the key was revoked.
//
// Pacing, in long-poll mode (the backend's intervals.long_poll > 0): each poll asks ?wait=N with
// N = min(long_poll, 30); after an answer the next long-poll starts at once, so a new command
// arrives within a fraction of a second. The backend's interval still governs when it is in
// maintenance (300 s) and after an answer that came back early and empty.
//
// Fallback rule: a long-poll is "cut" when a request that reached the path ends without the
// backend's answer (connection reset, timeout, a proxy's 502/504 page) or when an empty answer
// without the drain header comes back in less than half the wait. After FallbackAfter (3) cuts
// in a row the poller short-polls for RetryLongPollAfter (1 h), then tries long-polling again.
// Any held answer resets the count. An early empty cut is retried after a short jittered
// backoff (from 1 s), not the idle interval: it may be a restart by a backend that does not
// mark its drain.
//
// Backend restarts are not cuts. An answer carrying api.HeaderDraining (a backend shutting
// down) and a connection that cannot be made at all (refused, no route: the backend is down)
// say nothing about the path, nor does a reset or gateway error within MinHeldForCut (2 s: a
// reverse proxy whose backend is down); the poller retries with full jitter from 1 s, and while the
// backend stays unreachable each retry waits at most half the outage so far (at least
// OutageRetryFloor), so a backend back after an outage of T is found within max(1 s, T/2).
//
// A delivery is limited to api.MaxCommandsPerPoll commands and handed to the sink from a
// second goroutine: a busy executor never stops the polling. Commands the poller does not take
// (past the limit, or while the previous delivery is still being handed over) are counted in
// Stats.Ignored; the backend delivers them again when their lease runs out.
package poller

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/internal/backoff"
	"github.com/talos-gs/talos/satellite/internal/clock"
)

// Pacing limits and defaults.
const (
	MinInterval        = api.MinPollSeconds * time.Second
	MaxInterval        = api.MaxPollSeconds * time.Second
	DefaultInterval    = api.PollSecondsNormal * time.Second
	FallbackAfter      = 3
	RetryLongPollAfter = time.Hour
)

// OutageRetryFloor is the least bound on a retry while the backend cannot be reached (see the
// package comment): a restart of a few seconds is noticed within about a second.
const OutageRetryFloor = time.Second

// MinHeldForCut is how long a request must have been held before its failure counts as a cut:
// no proxy's idle timeout is that short (it would cut ordinary requests too), so a reset or a
// gateway error (502/504 without the backend's body) within it is the backend being down
// behind a load balancer or reverse proxy, and is treated like a refused connection.
const MinHeldForCut = 2 * time.Second

// Source fetches commands (client.Satellite).
type Source interface {
	Poll(ctx context.Context, wait time.Duration, lastPoll time.Time) (api.CommandsResponse, http.Header, error)
}

// Sink takes delivered commands (executor.Executor).
type Sink interface {
	Submit(ctx context.Context, cmds []api.Command) error
}

// Options build a Poller.
type Options struct {
	Source Source
	Sink   Sink
	Logger *zap.Logger
	// Clock paces the loop and measures how long a request was held; nil means the system
	// clock.
	Clock   clock.Clock
	Backoff *backoff.Backoff
	// LongPoll is the longest wait to ask for (intervals.long_poll); 0 short-polls.
	LongPoll time.Duration
}

// Poller is the command polling loop.
type Poller struct {
	src     Source
	sink    Sink
	log     *zap.Logger
	clk     clock.Clock
	backoff *backoff.Backoff

	longPoll atomic.Int64 // ns; 0: short polling only

	// batches carries deliveries to handOff; one may wait while the sink takes the previous.
	batches chan []api.Command

	mu    sync.Mutex
	stats Stats
	cuts  int
	// downSince is when the current run of failures began (zero after an answer).
	downSince time.Time
	// shortUntil: while the clock is before it, long-polling is suspended (fallback).
	shortUntil time.Time
	lastServer time.Time
	interval   time.Duration
}

// Stats describe the loop for the status endpoint.
type Stats struct {
	LastPoll     time.Time       `json:"last_poll,omitzero"`
	LastSuccess  time.Time       `json:"last_success,omitzero"`
	NextPoll     time.Time       `json:"next_poll,omitzero"`
	LongPolling  bool            `json:"long_polling"`
	FallbackTill time.Time       `json:"long_poll_fallback_until,omitzero"`
	PollingMode  api.PollingMode `json:"polling_mode,omitempty"`
	Interval     float64         `json:"interval_seconds"`
	Failures     int             `json:"consecutive_failures"`
	Delivered    int64           `json:"commands_delivered"`
	// Ignored counts delivered commands not taken (see the package comment).
	Ignored int64 `json:"commands_ignored"`
}

// New builds a poller.
func New(opts Options) *Poller {
	p := &Poller{src: opts.Source, sink: opts.Sink, log: opts.Logger, clk: opts.Clock,
		backoff: opts.Backoff, interval: DefaultInterval, batches: make(chan []api.Command, 1)}
	if p.log == nil {
		p.log = zap.NewNop()
	}
	if p.clk == nil {
		p.clk = clock.Real{}
	}
	if p.backoff == nil {
		p.backoff = backoff.New(nil)
	}
	p.SetLongPoll(opts.LongPoll)
	return p
}

// SetLongPoll changes the longest long-poll wait (config.update); 0 switches to short polling.
func (p *Poller) SetLongPoll(d time.Duration) {
	p.longPoll.Store(int64(min(max(d, 0), api.MaxLongPollSeconds*time.Second)))
}

// LongPoll returns the configured longest wait.
func (p *Poller) LongPoll() time.Duration { return time.Duration(p.longPoll.Load()) }

// Stats returns a snapshot of the loop's state.
func (p *Poller) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.FallbackTill = p.shortUntil
	s.Interval = p.interval.Seconds()
	return s
}

// Clamp bounds a backend-suggested interval to 2–300 s; 0 or negative (absent) means the
// default.
func Clamp(seconds int) time.Duration {
	if seconds <= 0 {
		return DefaultInterval
	}
	return min(max(time.Duration(seconds)*time.Second, MinInterval), MaxInterval)
}
