package auth

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// VerifyLimits bound the argon2id work that unauthenticated callers can cause. Each
// verification costs DefaultParams' 19 MiB and tens of milliseconds of a core, and anyone who
// knows a credential's public id (a satellite key id is shown to every team member) can ask for
// one with a random secret. The zero value uses the defaults named below.
type VerifyLimits struct {
	// Concurrent is how many argon2id verifications may run at once (default GOMAXPROCS): with
	// DefaultParams the memory they take is at most Concurrent × 19 MiB.
	Concurrent int
	// Queue is how many more may wait for a slot (default 4 × Concurrent; negative: none). A
	// verification finding the queue full, or waiting longer than MaxWait, fails with ErrBusy at once rather
	// than piling up goroutines and memory.
	Queue int
	// MaxWait is how long a verification may wait for a slot (default 2 s).
	MaxWait time.Duration
	// MaxFailures failed verifications of one credential (a key id, a login's email) within
	// Window make every further attempt on it fail with *LimitedError, without hashing, until
	// the window ends (defaults 10 per 5 minutes).
	MaxFailures int
	Window      time.Duration
	// MaxTracked is how many credentials' failures are remembered (default 10,000; least
	// recently failed forgotten first, which only ever errs towards hashing again).
	MaxTracked int
}

func (l VerifyLimits) withDefaults() VerifyLimits {
	if l.Concurrent <= 0 {
		l.Concurrent = runtime.GOMAXPROCS(0)
	}
	if l.Queue < 0 {
		l.Queue = 0
	} else if l.Queue == 0 {
		l.Queue = 4 * l.Concurrent
	}
	if l.MaxWait <= 0 {
		l.MaxWait = 2 * time.Second
	}
	if l.MaxFailures <= 0 {
		l.MaxFailures = 10
	}
	if l.Window <= 0 {
		l.Window = 5 * time.Minute
	}
	if l.MaxTracked <= 0 {
		l.MaxTracked = 10_000
	}
	return l
}

// ErrBusy means every verification slot is taken and the queue is full (or the wait too long):
// the caller should answer 503 with a short Retry-After.
var ErrBusy = errors.New("too many credential verifications in progress")

// LimitedError means a credential failed verification too often recently; it is refused
// without hashing until RetryAfter has passed.
type LimitedError struct {
	RetryAfter time.Duration
}

func (e *LimitedError) Error() string {
	return fmt.Sprintf("too many failed verifications of this credential; retry in %s", e.RetryAfter)
}

// Kinds of credential, the label of the guard's metrics.
const (
	KindSatelliteKey  = "satellite_key"
	KindPersonalToken = "personal_token"
	KindPassword      = "password"
)

// failures counts one credential's failed verifications in the window that began at first.
type failures struct {
	first time.Time
	n     int
}

// Guard runs argon2id verifications under VerifyLimits: a bounded number at once, a bounded
// queue, and a per-credential failure limit checked before any hashing. One Guard serves every
// kind of credential, so together they cannot exceed the bound.
type Guard struct {
	limits  VerifyLimits
	now     func() time.Time
	slots   chan struct{}
	pending atomic.Int64 // running plus waiting

	mu     sync.Mutex
	failed *lru.Cache[string, *failures]

	refused  *prometheus.CounterVec
	verified *prometheus.CounterVec
	running  prometheus.Gauge
}

// NewGuard returns a guard with limits (zero fields take their defaults) and clock now (nil:
// time.Now).
func NewGuard(limits VerifyLimits, now func() time.Time) *Guard {
	l := limits.withDefaults()
	if now == nil {
		now = time.Now
	}
	failed, err := lru.New[string, *failures](l.MaxTracked)
	if err != nil {
		// lru.New fails only for a non-positive size, which withDefaults rules out.
		panic(err)
	}
	return &Guard{
		limits: l, now: now, slots: make(chan struct{}, l.Concurrent), failed: failed,
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "talos_auth_verifications_refused_total",
			Help: "Credential verifications refused before hashing: reason busy (all argon2id slots and the queue taken) or limited (too many recent failures of that credential).",
		}, []string{"kind", "reason"}),
		verified: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "talos_auth_verifications_total",
			Help: "argon2id credential verifications run, by kind and result (ok, mismatch, error).",
		}, []string{"kind", "result"}),
		running: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "talos_auth_verifications_running",
			Help: "argon2id credential verifications running now.",
		}),
	}
}

// Limits returns the limits in force (defaults filled in).
func (g *Guard) Limits() VerifyLimits { return g.limits }

// Collectors are the guard's metrics, for the server's registry.
func (g *Guard) Collectors() []prometheus.Collector {
	return []prometheus.Collector{g.refused, g.verified, g.running}
}

// Attempt names what one verification's failures count against.
type Attempt struct {
	// Kind is the kind of credential (KindPassword, ...), the label of the guard's metrics.
	Kind string
	// Subject is the credential checked (a key id, a login's email). Past MaxFailures failures
	// within Window it is limited.
	Subject string
	// Client, when set, is where the attempt comes from (a client address). A limited Subject
	// then refuses only clients that failed on it within the window; other clients are still
	// checked, so whoever floods a password with wrong guesses locks out their own addresses,
	// not the account's owner. Each client's failures count towards Subject's too. A success
	// clears only this client's failures, so the owner logging in does not hand the flood a
	// fresh allowance. Without Client a limited Subject refuses everyone and a success clears it.
	Client string
}

// Verify runs check (an argon2id verification of the credential subject, of the given kind)
// under the guard; it is Check with no client.
func (g *Guard) Verify(ctx context.Context, kind, subject string, check func() error) error {
	return g.Check(ctx, Attempt{Kind: kind, Subject: subject}, check)
}

// Check runs check (an argon2id verification described by a) under the guard. It returns
// *LimitedError without running check when a is limited (see Attempt), ErrBusy when no slot
// frees up in time, ctx's error when ctx ends first, and otherwise check's result; ErrMismatch
// from check counts as a failure, success clears failures (see Attempt).
func (g *Guard) Check(ctx context.Context, a Attempt, check func() error) error {
	if wait, limited := g.limited(a); limited {
		g.refused.WithLabelValues(a.Kind, "limited").Inc()
		return &LimitedError{RetryAfter: wait}
	}
	release, err := g.acquire(ctx)
	if err != nil {
		if errors.Is(err, ErrBusy) {
			g.refused.WithLabelValues(a.Kind, "busy").Inc()
		}
		return err
	}
	err = check()
	release()
	switch {
	case err == nil:
		g.verified.WithLabelValues(a.Kind, "ok").Inc()
		g.succeeded(a)
	case errors.Is(err, ErrMismatch):
		g.verified.WithLabelValues(a.Kind, "mismatch").Inc()
		g.fail(a)
	default:
		g.verified.WithLabelValues(a.Kind, "error").Inc()
	}
	return err
}

// Run runs work (an argon2id hash of a new secret: a new password, a new key) in one of the
// guard's slots, so hashing too is bounded in memory; no failures are counted. It returns
// ErrBusy or ctx's error, without running work, when no slot frees up.
func (g *Guard) Run(ctx context.Context, kind string, work func() error) error {
	release, err := g.acquire(ctx)
	if err != nil {
		if errors.Is(err, ErrBusy) {
			g.refused.WithLabelValues(kind, "busy").Inc()
		}
		return err
	}
	defer release()
	return work()
}

// acquire takes a verification slot, waiting at most MaxWait and only when the queue has room.
func (g *Guard) acquire(ctx context.Context) (func(), error) {
	if g.pending.Add(1) > int64(g.limits.Concurrent+g.limits.Queue) {
		g.pending.Add(-1)
		return nil, ErrBusy
	}
	release := func() {
		<-g.slots
		g.running.Dec()
		g.pending.Add(-1)
	}
	select {
	case g.slots <- struct{}{}: // the common case: a slot is free, no timer needed
		g.running.Inc()
		return release, nil
	default:
	}
	timer := time.NewTimer(g.limits.MaxWait)
	defer timer.Stop()
	select {
	case g.slots <- struct{}{}:
		g.running.Inc()
		return release, nil
	case <-timer.C:
		g.pending.Add(-1)
		return nil, ErrBusy
	case <-ctx.Done():
		g.pending.Add(-1)
		return nil, fmt.Errorf("wait for a verification slot: %w", ctx.Err())
	}
}

// limited reports whether a must be refused, and for how long.
func (g *Guard) limited(a Attempt) (time.Duration, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	left, over := g.remaining(a.Subject, g.limits.MaxFailures)
	if !over || a.Client == "" {
		return left, over
	}
	clientLeft, failed := g.remaining(clientKey(a), 1)
	if !failed {
		return 0, false
	}
	return min(left, clientLeft), true
}

// remaining reports whether key has at least n failures in its current window and how long
// that window has left; an ended window is forgotten. The caller holds g.mu.
func (g *Guard) remaining(key string, n int) (time.Duration, bool) {
	f, ok := g.failed.Peek(key)
	if !ok || f.n < n {
		return 0, false
	}
	left := f.first.Add(g.limits.Window).Sub(g.now())
	if left <= 0 {
		g.failed.Remove(key)
		return 0, false
	}
	return left, true
}

// clientKey is the failure-table key of a's client on a's subject.
func clientKey(a Attempt) string { return a.Subject + "\x00" + a.Client }

func (g *Guard) fail(a Attempt) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.count(a.Subject)
	if a.Client != "" {
		g.count(clientKey(a))
	}
}

// count adds a failure to key's window, opening a new window when the last one ended. The
// caller holds g.mu.
func (g *Guard) count(key string) {
	now := g.now()
	f, ok := g.failed.Get(key)
	if !ok || now.Sub(f.first) >= g.limits.Window {
		f = &failures{first: now}
		g.failed.Add(key, f)
	}
	f.n++
}

func (g *Guard) succeeded(a Attempt) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if a.Client != "" {
		g.failed.Remove(clientKey(a))
		return
	}
	g.failed.Remove(a.Subject)
}
