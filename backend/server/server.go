// Package server is talos-backend's HTTP API: the gin engine, its middleware (request ids,
// logging, recovery, body limits, metrics, authentication, team scope, audit) and the user-facing
// routes, one file per resource. Every error leaves as api.ErrorBody.
//
// Extending it (as the satellite protocol does): put the routes of a resource in their own file
// as a method `func (s *Server) xxxRoutes()` and list it in routes(); a new kind of bearer key
// registers its verifier in s.bearers (see authn.go); team-scoped routes go on s.teamAPI, which
// already answers 404 to outsiders and 403 to viewers attempting changes.
package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"net/http"
	"net/netip"
	"runtime"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/artifacts"
	"github.com/talos-gs/talos/backend/auth"
	"github.com/talos-gs/talos/backend/autosched"
	"github.com/talos-gs/talos/backend/catalog"
	"github.com/talos-gs/talos/backend/commands"
	"github.com/talos-gs/talos/backend/observations"
	"github.com/talos-gs/talos/backend/ratelimit"
	"github.com/talos-gs/talos/backend/releases"
	"github.com/talos-gs/talos/backend/rollouts"
	"github.com/talos-gs/talos/backend/store"
)

// Options configure a Server. Store, Logger and SecretKey are required.
type Options struct {
	Store     *store.Store
	Logger    *zap.Logger
	SecretKey []byte
	// Hasher hashes passwords with argon2id (and checks API keys hashed before decision 0092);
	// the zero value uses auth.DefaultParams.
	Hasher auth.Hasher
	// KeyHasher hashes and checks satellite API keys and personal tokens (decision 0092). nil
	// derives a pepper from SecretKey, for tests and embedders; talos-backend passes the pepper
	// it keeps apart from the secret key (TALOS_KEY_PEPPER or <data dir>/key-pepper).
	KeyHasher *auth.KeyHasher
	// Pprof serves net/http/pprof under /debug/pprof/ to global administrators (sessions, or
	// tokens with the admin scope); off by default (TALOS_PPROF, docs/operations.md).
	Pprof bool
	// MaxBodyBytes caps request bodies (default 1 MiB); larger ones get 413.
	MaxBodyBytes int64
	// SessionTTL is the lifetime of a login session (default 24 h).
	SessionTTL time.Duration
	// SecureCookies marks the session cookie Secure on every answer; set it whenever clients
	// reach Talos over HTTPS (TLS here, or an https TALOS_PUBLIC_URL). Without it the cookie is
	// Secure on TLS connections and when a trusted proxy sends X-Forwarded-Proto: https.
	SecureCookies bool
	// TrustedProxies are the addresses or CIDRs whose X-Forwarded-For and X-Forwarded-Proto
	// headers are believed; none by default.
	TrustedProxies []string
	// TokenMaxTTL is the longest lifetime of a personal token, and that of one created without
	// a ttl (default accounts.DefaultMaxTokenTTL).
	TokenMaxTTL time.Duration
	// LoginLimiter limits login attempts per client address (default: burst 10, then 1 per 6 s).
	LoginLimiter *ratelimit.Limiter
	// Verify bounds the argon2id work of checking keys, tokens and passwords (auth.VerifyLimits;
	// the zero value takes its defaults).
	Verify auth.VerifyLimits
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Satellites configure the satellite protocol (satauth.go).
	Satellites SatelliteOptions
	// Catalog is the spacecraft catalog the catalog routes use; nil builds one on Store. When
	// its Metrics are nil they are created on the server's registry (and so shared with
	// whoever else holds the same Catalog, such as the fetcher started by serve).
	Catalog *catalog.Catalog
	// MaxImportBytes caps a catalog import upload (default catalog.MaxImportBytes).
	MaxImportBytes int64
	// AutoSchedule is the auto-scheduler's job, whose Runner answers previews and whose
	// RunNow serves "run now" (autosched.go). nil builds one on Store and Catalog. Its Runner's
	// Booker, when nil, is the server's observations service.
	AutoSchedule *autosched.Job
	// Observations are the observation rules' settings (docs/observations.md); zero fields
	// take the defaults.
	Observations observations.Settings
	// UI is the web UI's bundle served at / (index.html at its root); nil serves the bundle
	// embedded by package frontend, or a page saying it is not built (ui.go).
	UI fs.FS
	// LiveResync is how often a live stream (GET /api/teams/{team}/live) looks for changes
	// without being woken, and re-checks its session (default 10 s; live.go).
	LiveResync time.Duration
	// OnLongPoll, when set, is told each step of a held command long-poll (commands.go); tests
	// use it to queue a command only once the poll really waits, and to see what woke it.
	OnLongPoll func(satelliteID string, step LongPollStep)
	// Artifacts stores what stations upload (uploads.go, artifacts.go); nil turns the upload
	// and artifact routes off (they answer 503). UploadDir is then required: the tus staging
	// directory of uploads in progress.
	Artifacts *artifacts.Service
	UploadDir string
	// ReleasesDir keeps talos-satellite release artifacts (runner.update); empty: the release
	// routes answer 503. serve sets <data dir>/releases.
	ReleasesDir string
}

// Server is the HTTP API.
type Server struct {
	opts    Options
	store   *store.Store
	log     *zap.Logger
	hasher  auth.Hasher
	keyHash *auth.KeyHasher   // hashes new API keys and personal tokens
	keys    *auth.KeyVerifier // checks them (keyed hashes; argon2id ones left from before, migrated)
	guard   *auth.Guard       // runs every argon2id verification (passwords, keys not yet migrated)
	csrf    *auth.CSRF
	metrics *metrics
	engine  *gin.Engine
	// bearers maps an API-key prefix to the function that authenticates such keys.
	bearers map[string]bearerAuth
	// trustedProxies are Options.TrustedProxies, parsed.
	trustedProxies []netip.Prefix
	// operateRoutes are the unsafe user routes tokens with the operate scope may call, by
	// routeKey (access.go).
	operateRoutes map[string]bool
	// dummyHash is verified against when a login names an unknown user, so the answer takes as
	// long as for a wrong password and does not reveal which emails exist.
	dummyHash string

	// Route groups, for the resource files to hang routes on.
	api     *gin.RouterGroup // /api, authenticated (any principal), audited
	userAPI *gin.RouterGroup // /api, a user principal required
	teamAPI *gin.RouterGroup // /api/teams/:teamID, team scope checked

	sat     satelliteState        // the satellite protocol (satauth.go)
	cmds    *commands.Service     // the command queue's rules (built by satelliteRoutes)
	catalog *catalog.Catalog      // the spacecraft catalog (catalog.go)
	obs     *observations.Service // observations (observations.go), built by observationRoutes
	uploads *uploads              // the tus endpoint (uploads.go), nil without Options.Artifacts
	// autosched is the auto-scheduler (autosched.go).
	autosched *autosched.Job
	// planSlots bounds the pass plans computed at once (passes.go): one per core.
	planSlots chan struct{}
	releases  *releases.Releases // release artifacts (releases.go)
	rollouts  *rollouts.Service  // staged rollouts of releases (rollouts.go)
}

var ginMode sync.Once

// New builds the server and its routes.
func New(o Options) (*Server, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	ginMode.Do(func() { gin.SetMode(gin.ReleaseMode) })
	guard := auth.NewGuard(o.Verify, o.Now)
	s := &Server{
		opts: o, store: o.Store, log: o.Logger, hasher: o.Hasher, guard: guard, keyHash: o.KeyHasher,
		keys:    auth.NewKeyVerifier(o.KeyHasher, o.Hasher, guard),
		csrf:    auth.NewCSRF(o.SecretKey),
		metrics: newMetrics(o.Store), operateRoutes: map[string]bool{},
		planSlots: make(chan struct{}, runtime.GOMAXPROCS(0)),
	}
	s.metrics.registry.MustRegister(guard.Collectors()...)
	s.metrics.registry.MustRegister(newFleetCollector(o.Store, o.Now, o.Logger.Named("metrics")))
	s.metrics.registry.MustRegister(s.keys.Collectors()...)
	s.catalog = o.Catalog
	if s.catalog == nil {
		s.catalog = &catalog.Catalog{Store: o.Store, Log: o.Logger.Named("catalog")}
	}
	if s.catalog.Metrics == nil {
		s.catalog.Metrics = catalog.NewMetrics(s.metrics.registry)
	}
	s.autosched = o.AutoSchedule
	if s.autosched == nil {
		s.autosched = &autosched.Job{Log: o.Logger.Named("autosched"),
			Runner: &autosched.Runner{Store: o.Store, Catalog: s.catalog, Log: o.Logger.Named("autosched")}}
	}
	s.bearers = map[string]bearerAuth{auth.PrefixPersonal: s.personalToken}
	var err error
	if s.trustedProxies, err = parseProxies(o.TrustedProxies); err != nil {
		return nil, fmt.Errorf("trusted proxies: %w", err)
	}
	if s.dummyHash, err = o.Hasher.Hash("talos timing equaliser"); err != nil {
		return nil, err
	}
	if err := s.newUploads(); err != nil {
		return nil, err
	}
	if err := s.buildEngine(); err != nil {
		return nil, err
	}
	return s, nil
}

// Handler returns the HTTP handler serving the API.
func (s *Server) Handler() http.Handler { return s.engine }

// KeyHasher is the hasher of new API keys and personal tokens (for tools minting tokens beside
// the server, like the test harness).
func (s *Server) KeyHasher() *auth.KeyHasher { return s.keyHash }

// Routes lists every registered route (tests walk it to check team scope on all of them).
func (s *Server) Routes() gin.RoutesInfo { return s.engine.Routes() }

// Registry is where the server's Prometheus metrics live; other parts of the backend register
// theirs here too, so GET /metrics serves them all.
func (s *Server) Registry() *prometheus.Registry { return s.metrics.registry }

func (o *Options) defaults() error {
	if o.Store == nil || o.Logger == nil || len(o.SecretKey) < 32 {
		return errMissingOption
	}
	if o.Hasher.Params == (auth.Params{}) {
		o.Hasher.Params = auth.DefaultParams
	}
	if o.KeyHasher == nil {
		derived := hmac.New(sha256.New, o.SecretKey)
		derived.Write([]byte("talos key pepper derived from the secret key"))
		kh, err := auth.NewKeyHasher(derived.Sum(nil))
		if err != nil {
			return err
		}
		o.KeyHasher = kh
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 1 << 20
	}
	if o.SessionTTL <= 0 {
		o.SessionTTL = 24 * time.Hour
	}
	if o.LoginLimiter == nil {
		o.LoginLimiter = ratelimit.New(6*time.Second, 10, 10_000, o.Now)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.LiveResync <= 0 {
		o.LiveResync = defaultLiveResync
	}
	if o.MaxImportBytes <= 0 {
		o.MaxImportBytes = catalog.MaxImportBytes
	}
	return nil
}

func (s *Server) buildEngine() error {
	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.ContextWithFallback = true
	if err := e.SetTrustedProxies(s.opts.TrustedProxies); err != nil {
		return err
	}
	e.Use(s.requestID, s.securityHeaders, s.metricsObserve, s.requestLog, s.recovery(), s.limitBody,
		s.checkRequestText, s.markIdempotent)
	e.NoRoute(s.uiHandler())
	e.NoMethod(func(c *gin.Context) { s.fail(c, errMethodNotAllowed) })
	s.engine = e
	s.routes()
	return nil
}

// routes registers every route. Each resource file contributes one method.
func (s *Server) routes() {
	s.engine.GET("/metrics", s.metrics.handler())
	s.engine.GET("/api/health", s.health)
	s.engine.POST("/api/auth/login", s.audited, s.login)

	s.api = s.engine.Group("/api", s.authenticate, s.audited)
	s.userAPI = s.api.Group("", s.requireUser, s.requirePasswordChanged, s.requireScope)
	s.teamAPI = s.userAPI.Group("/teams/:teamID", s.teamScope)

	s.sessionRoutes()
	s.meRoutes()
	s.tokenRoutes()
	s.userRoutes()
	s.teamRoutes()
	s.memberRoutes()
	s.invitationRoutes()
	s.auditRoutes()
	s.regTokenRoutes()
	s.satelliteRoutes()
	s.fleetRoutes()
	s.catalogRoutes()
	s.passRoutes()
	s.observationRoutes()
	s.autoschedRoutes()
	s.uploadRoutes()
	s.artifactRoutes()
	s.liveRoutes()
	s.pprofRoutes()
	s.releaseRoutes()
	s.rolloutRoutes()
}
