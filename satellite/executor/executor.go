// Package executor runs the commands the poller receives: a registry of handlers by command
// type. For each command it records the id durably BEFORE running it (so a second delivery,
// after a lease expiry or a restart, never runs it again), acknowledges, runs the handler with
// panic recovery, stores the outcome and reports it, retrying the idempotent status updates.
//
// A command that was running when the runner died is reported failed ("interrupted by
// restart") at the next start rather than run again: the runner cannot know how far it got,
// and running twice (a rotator move, a process start) is worse than asking the operator to
// resubmit.
package executor

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/command"
	"github.com/talos-gs/talos/satellite/internal/backoff"
	"github.com/talos-gs/talos/satellite/internal/clock"
	"github.com/talos-gs/talos/satellite/state"
)

// Defaults for Options.
const (
	DefaultWorkers      = 4
	DefaultDrainTimeout = 30 * time.Second
	// InterruptedError is the failure reported for a command cut short by a restart.
	InterruptedError = "interrupted by restart: the runner stopped while this command was running; it was not run again (resubmit it if needed)"
)

// Reporter sends status updates (client.Satellite).
type Reporter interface {
	UpdateCommandStatus(ctx context.Context, commandID string, upd api.CommandStatusUpdate) (api.CommandStatusResponse, error)
}

// Store is the durable record of accepted commands (state.Commands).
type Store interface {
	Accept(cmd api.Command, now time.Time) (state.CommandRecord, bool, error)
	Finish(id string, upd api.CommandStatusUpdate, now time.Time) (state.CommandRecord, error)
	MarkReported(id string) error
	Unreported() ([]state.CommandRecord, error)
}

// Options build an Executor.
type Options struct {
	Handlers command.Handlers
	Store    Store
	Reporter Reporter
	Logger   *zap.Logger
	Clock    clock.Clock
	// Rand drives the retry jitter (tests inject a fixed one).
	Rand backoff.Rand
	// Workers is how many commands run at once.
	Workers int
	// DrainTimeout is how long running commands may continue after shutdown begins.
	DrainTimeout time.Duration
}

// Executor is the command registry and its workers.
type Executor struct {
	handlers     command.Handlers
	store        Store
	reporter     Reporter
	log          *zap.Logger
	clk          clock.Clock
	rand         backoff.Rand
	workers      int
	drainTimeout time.Duration
	queue        chan api.Command

	mu      sync.Mutex
	running map[string]bool
	results map[api.CommandStatus]*atomic.Int64
}

// New builds an executor. Handlers can be added with Register until Run starts.
func New(opts Options) *Executor {
	e := &Executor{handlers: command.Handlers{}, store: opts.Store, reporter: opts.Reporter, log: opts.Logger,
		clk: opts.Clock, rand: opts.Rand, workers: opts.Workers, drainTimeout: opts.DrainTimeout,
		running: map[string]bool{}, results: map[api.CommandStatus]*atomic.Int64{
			api.CommandSucceeded: {}, api.CommandFailed: {},
		}}
	if e.log == nil {
		e.log = zap.NewNop()
	}
	if e.clk == nil {
		e.clk = clock.Real{}
	}
	if e.workers <= 0 {
		e.workers = DefaultWorkers
	}
	if e.drainTimeout <= 0 {
		e.drainTimeout = DefaultDrainTimeout
	}
	e.queue = make(chan api.Command, e.workers*8)
	for typ, h := range opts.Handlers {
		e.handlers[typ] = h
	}
	return e
}

// Register merges hs into the registry. A type registered twice is an error in the wiring of
// the runner: the first registration stays and the error names the duplicates.
func (e *Executor) Register(hs command.Handlers) error {
	var dup []string
	for typ, h := range hs {
		if _, ok := e.handlers[typ]; ok {
			dup = append(dup, typ)
			continue
		}
		e.handlers[typ] = h
	}
	if len(dup) > 0 {
		sort.Strings(dup)
		return fmt.Errorf("command types registered twice: %v", dup)
	}
	return nil
}

// Types lists the registered command types, sorted.
func (e *Executor) Types() []string {
	out := make([]string, 0, len(e.handlers))
	for t := range e.handlers {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Submit queues commands for the workers, in the order given (the backend's priority order). It
// blocks while the queue is full, until ctx is done.
func (e *Executor) Submit(ctx context.Context, cmds []api.Command) error {
	for _, cmd := range cmds {
		select {
		case e.queue <- cmd:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Queued returns the number of commands waiting for a worker.
func (e *Executor) Queued() int { return len(e.queue) }

// Running returns the number of commands being run.
func (e *Executor) Running() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.running)
}

// Finished returns how many commands ended with status since start.
func (e *Executor) Finished(status api.CommandStatus) int64 {
	if c, ok := e.results[status]; ok {
		return c.Load()
	}
	return 0
}

// Run first settles what the previous run left (commands interrupted by a restart, outcomes not
// yet reported; given up when ctx ends, so a shutdown while the backend is unreachable is not
// held up: they stay unreported for the next start), then runs queued commands until ctx is done. Shutdown stops taking commands at
// once and lets running ones finish for up to DrainTimeout before cancelling them.
func (e *Executor) Run(ctx context.Context) error {
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	if err := e.recover(ctx); err != nil {
		return err
	}
	var wg sync.WaitGroup
	for range e.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.work(ctx, work)
		}()
	}
	<-ctx.Done()
	return e.drain(&wg, cancelWork)
}

func (e *Executor) drain(wg *sync.WaitGroup, cancelWork context.CancelFunc) error {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	t := e.clk.NewTimer(e.drainTimeout)
	defer t.Stop()
	select {
	case <-done:
		return nil
	case <-t.C():
		e.log.Warn("running commands did not finish within the drain timeout; cancelling them",
			zap.Duration("drain_timeout", e.drainTimeout))
		cancelWork()
		<-done
		return nil
	}
}

// work takes commands until ctx (intake) is done; each runs under work (cancelled only after
// the drain timeout).
func (e *Executor) work(ctx, work context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case cmd := <-e.queue:
			if ctx.Err() != nil {
				return // shutting down: leave it; the backend delivers it again
			}
			e.handle(work, cmd)
		}
	}
}

// errFatal wraps an error that must stop the runner (a revoked key).
var errFatal = errors.New("fatal")
