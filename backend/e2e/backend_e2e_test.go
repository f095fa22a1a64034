package e2e

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/talos-gs/talos/backend/notify"
	"github.com/talos-gs/talos/backend/ratelimit"
	"github.com/talos-gs/talos/backend/server"
	"github.com/talos-gs/talos/backend/server/servertest"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
	"github.com/talos-gs/talos/backend/sweeper"
	"github.com/talos-gs/talos/satellite/heartbeat"
)

// secretKey is the backend's signing key in these tests. It stays the same across restarts, as
// a real deployment's key does: sessions and registration tokens outlive a restart.
var secretKey = []byte("e2e-secret-key-0123456789abcdef-0123456789")

// Satellite protocol intervals handed to runners at registration, short so tests are quick:
// events are flushed every second; heartbeats come at the runner's shortest interval (it
// clamps anything shorter to heartbeat.MinInterval, and a backend expecting more frequent
// heartbeats would mark the station offline between them).
var (
	heartbeatSeconds = int(heartbeat.MinInterval / time.Second)
	eventsSeconds    = 1
)

// forEachDialect runs fn on SQLite and on PostgreSQL, each with a fresh, empty database, as
// storetest.ForEach does: the PostgreSQL subtest skips when TALOS_TEST_DATABASE_URL is unset,
// and fails instead under TALOS_REQUIRE_INTEGRATION=1.
func forEachDialect(t *testing.T, fn func(t *testing.T, d store.Dialect, dbURL string)) {
	t.Helper()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			fn(t, d, storetest.NewURL(t, d))
		})
	}
}

// backend is one talos-backend replica: the real server, store, command notifier and sweeper,
// on a real TCP listener. It can be stopped and started again on the same address and
// database, as a restarted process would be. Its embedded servertest.Harness makes users,
// teams and logged-in clients; the clients keep working across a restart (sessions live in
// the database, the signing key does not change).
type backend struct {
	*servertest.Harness
	t       testing.TB
	dialect store.Dialect
	dbURL   string
	addr    string
	log     *zap.Logger
	options []func(*server.Options)

	mu   sync.Mutex
	inst *instance
}

// instance is one run of the backend process.
type instance struct {
	st       *store.Store
	notifier notify.Notifier
	http     *http.Server
	gate     *gate
	served   chan error
	stop     context.CancelFunc
	parts    sync.WaitGroup
}

// startBackend migrates the database at dbURL and starts a backend on a free port. options
// adjust the server's options (every instance's, restarts included).
func startBackend(t testing.TB, d store.Dialect, dbURL string, options ...func(*server.Options)) *backend {
	t.Helper()
	b := &backend{t: t, dialect: d, dbURL: dbURL, addr: "127.0.0.1:0", options: options,
		log: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)).Named("backend")}
	b.Harness = &servertest.Harness{}
	b.start()
	b.URL = "http://" + b.addr
	t.Cleanup(b.stop)
	return b
}

// start runs a new instance on b.addr (a free port the first time, the same one afterwards).
func (b *backend) start() {
	b.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{gate: newGate(), served: make(chan error, 1), stop: cancel}
	in.st = openStore(b.t, b.dbURL)
	in.notifier = b.notifier(ctx, in)
	sw := &sweeper.Sweeper{Store: in.st, Log: b.log.Named("sweeper"), Every: 500 * time.Millisecond}
	in.parts.Go(func() { _ = sw.Run(ctx) })

	o := server.Options{Store: in.st, Logger: b.log, SecretKey: secretKey, Hasher: servertest.Hasher,
		Satellites: server.SatelliteOptions{Notifier: in.notifier, HeartbeatSeconds: heartbeatSeconds,
			EventsSeconds: eventsSeconds, RegisterLimiter: ratelimit.New(time.Millisecond, 1000, 1000, nil)}}
	for _, opt := range b.options {
		opt(&o)
	}
	srv, err := server.New(o)
	if err != nil {
		cancel()
		b.t.Fatalf("e2e: new server: %v", err)
	}
	// The observation job, as serve runs it (it has nothing to do until observations are booked).
	in.parts.Go(func() { _ = srv.Observations().Run(ctx) })
	ln := b.listen()
	b.addr = ln.Addr().String()
	in.http = &http.Server{Handler: in.gate.wrap(srv.Handler()), ReadHeaderTimeout: 10 * time.Second}
	go func() { in.served <- in.http.Serve(ln) }()

	b.mu.Lock()
	b.inst = in
	b.Store, b.Server = in.st, srv
	b.mu.Unlock()
}

// notifier is the in-process notifier on SQLite, LISTEN/NOTIFY on PostgreSQL (as
// talos-backend serve wires it), listening before the instance serves.
func (b *backend) notifier(ctx context.Context, in *instance) notify.Notifier {
	if b.dialect != store.Postgres {
		return notify.NewLocal()
	}
	pg := notify.NewPostgres(b.dbURL, in.st.SQL(), b.log.Named("notify"))
	in.parts.Go(func() { _ = pg.Run(ctx) })
	deadline := time.Now().Add(time.Minute)
	for !pg.Listening() {
		if time.Now().After(deadline) {
			b.t.Fatalf("e2e: the PostgreSQL command listener did not connect within a minute")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return pg
}

// listen binds b.addr. After a restart the old port may take a moment to be free again.
func (b *backend) listen() net.Listener {
	b.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ln, err := net.Listen("tcp", b.addr)
		if err == nil {
			return ln
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("e2e: listen on %s: %v", b.addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop stops the running instance like a crashed process: the listener and every open
// connection (held long-polls included) close at once; the store closes once the requests in
// progress have returned. Stopping a stopped backend does nothing.
func (b *backend) stop() {
	b.mu.Lock()
	in := b.inst
	b.inst = nil
	b.mu.Unlock()
	if in == nil {
		return
	}
	_ = in.http.Close()
	if err := <-in.served; !errors.Is(err, http.ErrServerClosed) {
		b.t.Errorf("e2e: serve: %v", err)
	}
	in.gate.close()
	in.stop()
	in.parts.Wait()
	_ = in.st.Close()
}

// store returns the running instance's store (nil while stopped).
func (b *backend) store() *store.Store {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.inst == nil {
		return nil
	}
	return b.inst.st
}

// subscribers counts the long-polls this instance holds.
func (b *backend) subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.inst == nil {
		return 0
	}
	if n, ok := b.inst.notifier.(interface{ Subscribers() int }); ok {
		return n.Subscribers()
	}
	return -1
}

// openStore opens and migrates the database (migrating an up-to-date one changes nothing).
func openStore(t testing.TB, dbURL string) *store.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := store.Open(ctx, store.Options{URL: dbURL})
	if err != nil {
		t.Fatalf("e2e: open store: %v", err)
	}
	if _, err := st.Migrate(ctx); err != nil {
		_ = st.Close()
		t.Fatalf("e2e: migrate: %v", err)
	}
	return st
}

// gate counts the requests being served, so stop can wait for them before closing the store
// and before the test (and its logger) ends.
type gate struct {
	mu     sync.Mutex
	idle   *sync.Cond
	n      int
	closed bool
}

func newGate() *gate {
	g := &gate{}
	g.idle = sync.NewCond(&g.mu)
	return g
}

func (g *gate) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		if g.closed {
			g.mu.Unlock()
			http.Error(w, "stopping", http.StatusServiceUnavailable)
			return
		}
		g.n++
		g.mu.Unlock()
		defer func() {
			g.mu.Lock()
			g.n--
			g.idle.Broadcast()
			g.mu.Unlock()
		}()
		h.ServeHTTP(w, r)
	})
}

// close refuses new requests and waits for those in progress.
func (g *gate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	for g.n > 0 {
		g.idle.Wait()
	}
}
