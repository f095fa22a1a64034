package server

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/auth"
	"github.com/talos-gs/talos/backend/commands"
	"github.com/talos-gs/talos/backend/notify"
	"github.com/talos-gs/talos/backend/ratelimit"
	"github.com/talos-gs/talos/backend/regtoken"
	"github.com/talos-gs/talos/backend/store"
)

// PrefixSatellite marks a satellite API key: tsk_<key id>_<256-bit secret>.
const PrefixSatellite = "tsk"

// ActorSatellite is the principal kind of a request made with a satellite API key.
const ActorSatellite ActorKind = "satellite"

// SatelliteOptions configure the satellite protocol. The zero value is usable.
type SatelliteOptions struct {
	// Notifier wakes long-polls when a command is queued (default: in-process, right for a
	// single backend on SQLite; use notify.Postgres with several replicas).
	Notifier notify.Notifier
	// Lease is how long a delivered command may stay unacknowledged before it is delivered
	// again (default 60 s).
	Lease time.Duration
	// HeartbeatSeconds, EventsSeconds and LongPollSeconds are the intervals handed to
	// satellites at registration (defaults 30, 3 and api.MaxLongPollSeconds; LongPollSeconds
	// < 0 turns long-polling off).
	HeartbeatSeconds int
	EventsSeconds    int
	LongPollSeconds  int
	// RegisterLimiter limits registrations per client address (default: burst 10, then one
	// per 6 s; TALOS_REGISTER_BURST and TALOS_REGISTER_EVERY). A registration token carrying
	// its own rate is limited by that instead.
	RegisterLimiter *ratelimit.Limiter
}

// satellite protocol state, built by satelliteRoutes.
type satelliteState struct {
	tokens *regtoken.Tokens
	// tokenLimiter holds the buckets of registration tokens that carry their own rate.
	tokenLimiter *ratelimit.Limiter
	metrics      *satMetrics
	// draining is closed when the server shuts down: held long-polls answer at once, so a
	// graceful shutdown does not wait up to 30 s for them.
	draining  chan struct{}
	drainOnce *sync.Once
}

// DrainLongPolls waits for ctx to end, then answers every held long-poll (and every later one)
// at once with what is pending; an empty answer carries api.HeaderDraining. Run it beside the HTTP server with the context whose end starts
// the shutdown.
func (s *Server) DrainLongPolls(ctx context.Context) error {
	<-ctx.Done()
	s.sat.drainOnce.Do(func() { close(s.sat.draining) })
	return nil
}

func (s *Server) satelliteDefaults() {
	o := &s.opts.Satellites
	if o.Notifier == nil {
		o.Notifier = notify.NewLocal()
	}
	if o.Lease <= 0 {
		o.Lease = time.Minute
	}
	if o.HeartbeatSeconds <= 0 {
		o.HeartbeatSeconds = 30
	}
	if o.EventsSeconds <= 0 {
		o.EventsSeconds = 3
	}
	switch {
	case o.LongPollSeconds == 0 || o.LongPollSeconds > api.MaxLongPollSeconds:
		o.LongPollSeconds = api.MaxLongPollSeconds
	case o.LongPollSeconds < 0:
		o.LongPollSeconds = 0
	}
	if o.RegisterLimiter == nil {
		o.RegisterLimiter = ratelimit.New(6*time.Second, 10, 10_000, s.opts.Now)
	}
	s.sat = satelliteState{tokens: regtoken.New(s.opts.SecretKey, s.opts.Now),
		tokenLimiter: ratelimit.New(time.Minute, 1, 10_000, s.opts.Now),
		metrics:      newSatMetrics(s.metrics.registry), draining: make(chan struct{}), drainOnce: &sync.Once{}}
	s.cmds = commands.New(commands.Options{Store: s.store, Notifier: o.Notifier, Logger: s.log, Lease: o.Lease})
	s.metrics.registry.MustRegister(s.cmds.Collectors()...)
}

// Two different satellites travel in a request's context, under two keys: the satellite whose
// API key authenticated the request (the satellite protocol's routes), and the satellite a
// user's route is about (satelliteAccess, teamSatelliteAccess).
const (
	ctxAuthSatellite = "talos.authenticated_satellite"
	ctxSatellite     = "talos.satellite"
)

// authSatellite is the satellite whose API key authenticated the request, nil for any other
// credential.
func authSatellite(c *gin.Context) *store.Satellite {
	v, _ := c.Get(ctxAuthSatellite)
	sat, _ := v.(*store.Satellite)
	return sat
}

// satelliteOf is the satellite a user's route is about.
func satelliteOf(c *gin.Context) *store.Satellite {
	v, _ := c.Get(ctxSatellite)
	sat, _ := v.(*store.Satellite)
	return sat
}

// satelliteKey authenticates a satellite API key: one row read by the key's public id (an
// indexed lookup, never a scan), then one keyed hash (decision 0092). A rotated key's id no
// longer matches any row, so it fails at once on every replica. A key still hashed with
// argon2id is checked under the guard and migrated to a keyed hash.
func (s *Server) satelliteKey(c *gin.Context, key auth.Key) (*Principal, error) {
	sat, err := s.store.SatelliteByKeyID(c.Request.Context(), key.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errUnauthorized
	}
	if err != nil {
		return nil, err
	}
	cred := auth.Credential{Kind: auth.KindSatelliteKey, ID: key.ID, Hash: sat.APIKeyHash}
	if err := s.keys.Verify(c.Request.Context(), cred, key.Secret, s.migrateSatelliteKey(sat)); err != nil {
		return nil, s.keyError(c, cred, err)
	}
	c.Set(ctxAuthSatellite, sat)
	p := &Principal{Kind: ActorSatellite, SubjectID: sat.ID, TokenID: key.ID}
	if sat.TeamID != nil {
		p.TeamID = *sat.TeamID
	}
	return p, nil
}

// requireSatellite admits only a satellite key, and only on its own satellite's routes: a key
// naming another satellite's id gets 404, as if that satellite did not exist. For users (session
// or personal token) the satellite-facing routes do not exist either: 404, the same answer
// teamScope gives outsiders, so user credentials learn nothing here.
func (s *Server) requireSatellite(c *gin.Context) {
	p := principalOf(c)
	if p == nil {
		s.fail(c, errUnauthorized)
		return
	}
	if p.Kind != ActorSatellite || authSatellite(c) == nil {
		s.fail(c, errNotFound)
		return
	}
	if c.Param("satelliteID") != p.SubjectID {
		s.fail(c, errNotFound)
		return
	}
	if teamID := c.Param("teamID"); teamID != "" && teamID != p.TeamID {
		s.fail(c, errNotFound)
		return
	}
	c.Next()
}
