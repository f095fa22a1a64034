// Package commands owns the command queue's rules: what may be queued for a satellite (the
// payload checked strictly against its type, a process bound to the satellite's team, the
// rank derived from the priority), how commands are handed out (leases, at most
// api.MaxCommandsPerPoll per poll, process commands of a former team withheld, the poll pacing),
// how a satellite's reports move a command along its lifecycle (legal transitions, idempotent
// repeats, a config.update adopted), and how commands are cancelled and expire.
//
// It knows no HTTP: the server's handlers bind a request, call a Service method and answer;
// background jobs (the sweeper, later the planner and observation dispatch) call it directly.
// Refusals are *Error values (invalid input naming its field, or a conflict with the command's
// state); a command or satellite that does not exist is store.ErrNotFound.
package commands

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/notify"
	"github.com/talos-gs/talos/backend/store"
)

// Options configure a Service. Store is required.
type Options struct {
	Store *store.Store
	// Notifier wakes the long-polls of a satellite a command was queued for (default: an
	// in-process notify.Local, right for a single backend).
	Notifier notify.Notifier
	// Logger (default: none).
	Logger *zap.Logger
	// Lease is how long a delivered command may stay unacknowledged before it is delivered
	// again (default 60 s).
	Lease time.Duration
}

// Service applies the queue's rules. It is safe for concurrent use.
type Service struct {
	store    *store.Store
	notifier notify.Notifier
	log      *zap.Logger
	lease    time.Duration
	metrics  metrics
}

// New builds a Service. Register its Collectors wherever metrics are served.
func New(o Options) *Service {
	if o.Notifier == nil {
		o.Notifier = notify.NewLocal()
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Lease <= 0 {
		o.Lease = time.Minute
	}
	return &Service{store: o.Store, notifier: o.Notifier, log: o.Logger, lease: o.Lease, metrics: newMetrics()}
}

// Notifier is the notifier the Service wakes long-polls with; a long-poll subscribes to it.
func (s *Service) Notifier() notify.Notifier { return s.notifier }

// wakeTimeout bounds the NOTIFY sent after a change is committed.
const wakeTimeout = 5 * time.Second

// Wake tells the long-polls of satelliteID to look again (after a command was queued, a lease
// released, or the satellite's maintenance mode switched). A failure only delays delivery to
// the next poll, so it is logged and counted, not returned. The change it announces is already
// committed, so the wake-up must not die with the caller's context: a client hanging up right
// after the commit would otherwise cancel the NOTIFY and leave other replicas' long-polls
// waiting.
func (s *Service) Wake(ctx context.Context, satelliteID string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), wakeTimeout)
	defer cancel()
	if err := s.notifier.Notify(ctx, satelliteID); err != nil {
		s.metrics.wakeFailures.Inc()
		s.log.Warn("wake long-polls", zap.String("satellite_id", satelliteID), zap.Error(err))
	}
}

// metrics are the queue's instruments.
type metrics struct {
	delivered    *prometheus.CounterVec
	wakeFailures prometheus.Counter
}

func newMetrics() metrics {
	return metrics{
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "talos_satellite_commands_delivered_total",
			Help: "Command deliveries by priority; redelivery=true counts deliveries after a lapsed lease.",
		}, []string{"priority", "redelivery"}),
		wakeFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "talos_satellite_wake_failures_total",
			Help: "Long-poll wake-ups that could not be sent (delivery then waits for the next poll).",
		}),
	}
}

// Collectors are the Service's Prometheus metrics.
func (s *Service) Collectors() []prometheus.Collector {
	return []prometheus.Collector{s.metrics.delivered, s.metrics.wakeFailures}
}
