package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/talos-gs/talos/backend/accounts"
	"github.com/talos-gs/talos/backend/auth"
	"github.com/talos-gs/talos/backend/autosched"
	"github.com/talos-gs/talos/backend/catalog"
	"github.com/talos-gs/talos/backend/config"
	"github.com/talos-gs/talos/backend/observations"
	"github.com/talos-gs/talos/backend/server"
	"github.com/talos-gs/talos/backend/store"
)

// shutdownGrace is how long in-flight requests get to finish after the first signal.
const shutdownGrace = 15 * time.Second

func newServeCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Migrate the database and serve the API (the default command)",
		Args:  cobra.NoArgs,
		RunE:  func(*cobra.Command, []string) error { return serve(e) },
	}
}

func serve(e *env) error {
	cfg, err := e.config()
	if err != nil {
		return err
	}
	log, err := newLogger(cfg, e.err)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }() // stderr cannot always be synced; nothing to do about it
	if err := ensureDataDir(cfg); err != nil {
		return err
	}
	key, err := cfg.SecretKey()
	if err != nil {
		return err
	}
	keys, err := keyHasher(cfg)
	if err != nil {
		return err
	}
	st, err := openStore(e, cfg)
	if err != nil {
		return err
	}
	defer func() { _ = st.Close() }() // nothing left to do about a failed close
	return run(e, cfg, log, st, secrets{key: key, keys: keys})
}

// secrets are what serve loads before it starts: the secret key and the keyed hasher of API keys.
type secrets struct {
	key  []byte
	keys *auth.KeyHasher
}

// keyHasher builds the hasher of API keys and personal tokens from the configured peppers.
func keyHasher(cfg *config.Config) (*auth.KeyHasher, error) {
	current, previous, err := cfg.KeyPeppers()
	if err != nil {
		return nil, err
	}
	h, err := auth.NewKeyHasher(current, previous...)
	if err != nil {
		return nil, fmt.Errorf("key peppers (TALOS_KEY_PEPPER, TALOS_KEY_PEPPER_PREVIOUS): %w", err)
	}
	return h, nil
}

func run(e *env, cfg *config.Config, log *zap.Logger, st *store.Store, sec secrets) error {
	// Listen before anything else has effects: when the port is taken, the first start must fail
	// before it creates the administrator, or that account's generated password is lost.
	var lc net.ListenConfig
	ln, err := lc.Listen(e.ctx, "tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s (--listen, TALOS_LISTEN): %w", cfg.Listen, err)
	}
	defer func() { _ = ln.Close() }() // already closed by a served http.Server; harmless twice
	hasher := auth.Hasher{Params: auth.DefaultParams}
	boot, err := accounts.EnsureAdmin(e.ctx, st, hasher, cfg.BootstrapEmail, cfg.BootstrapPasswd)
	if err != nil {
		return err
	}
	pwFile, err := savePassword(cfg, boot)
	if err != nil {
		return err
	}
	arts, uploadDir, err := artifactService(cfg, st, log)
	if err != nil {
		return err
	}
	satOpts, sw, satParts := satelliteParts(cfg, st, log)
	sw.Artifacts = arts
	cat := &catalog.Catalog{Store: st, Log: log.Named("catalog"),
		Stale: store.StaleThresholds{LEO: cfg.CatalogStaleLEO, Other: cfg.CatalogStaleOther}}
	// The auto-scheduler (docs/autoscheduler.md) books through the observations service; until
	// one is plugged in as its Runner's Booker, its job idles and previews answer 503.
	autoJob := &autosched.Job{Log: log.Named("autosched"),
		Runner: &autosched.Runner{Store: st, Catalog: cat, Log: log.Named("autosched")}}
	srv, err := server.New(server.Options{
		Store: st, Logger: log, SecretKey: sec.key, Hasher: hasher, KeyHasher: sec.keys, Pprof: cfg.Pprof, MaxBodyBytes: cfg.MaxBodyBytes,
		SessionTTL: cfg.SessionTTL, SecureCookies: cfg.SecureCookies(), TrustedProxies: cfg.TrustedProxies,
		Satellites: satOpts, Verify: auth.VerifyLimits{Concurrent: cfg.VerifyConcurrency}, TokenMaxTTL: cfg.TokenMaxTTL,
		Catalog: cat, AutoSchedule: autoJob, Observations: observations.Settings{MinLead: cfg.ObservationMinLead,
			MinDuration: cfg.ObservationMinDuration, SeenWithin: cfg.ObservationSeenWithin,
			DispatchAhead: cfg.ObservationDispatchAhead, MissedGrace: cfg.ObservationMissedGrace,
			MinElevationDeg: cfg.ObservationMinElevation},
		Artifacts: arts, UploadDir: uploadDir, ReleasesDir: filepath.Join(cfg.DataDir, "releases"),
	})
	if err != nil {
		return err
	}
	autoJob.Metrics = autosched.NewMetrics(srv.Registry())
	sw.Uploads = srv
	printBanner(e.err, cfg, ln.Addr(), boot, pwFile)
	log.Info("serving", zap.String("addr", ln.Addr().String()), zap.String("database", string(st.Dialect())),
		zap.Bool("tls", cfg.TLS()), zap.String("key_pepper_id", sec.keys.CurrentPepperID()), zap.Bool("pprof", cfg.Pprof))

	g, ctx := errgroup.WithContext(e.ctx)
	g.Go(func() error { return serveHTTP(ctx, cfg, srv.Handler(), ln) })
	sweeper := &accounts.SessionSweeper{Store: st, Log: log, Every: time.Hour}
	g.Go(func() error { return sweeper.Run(ctx) })
	g.Go(func() error { return srv.DrainLongPolls(ctx) })
	g.Go(func() error { return srv.RunRollouts(ctx, 10*time.Second) })
	// The catalog's loops: scheduled source fetches and stale-set warnings (docs/catalog.md).
	satParts = append(satParts, (&catalog.Fetcher{Catalog: cat}).Run, (&catalog.StaleWatch{Catalog: cat}).Run)
	// The observation job: dispatch ahead of AOS, re-dispatch, missed passes (docs/observations.md);
	// the auto-scheduler books through the observations service, under the same rules as a user.
	satParts = append(satParts, srv.Observations().Run, autoJob.Run)
	for _, part := range satParts {
		g.Go(func() error { return part(ctx) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// serveHTTP serves until ctx ends, then stops taking connections and gives in-flight requests
// shutdownGrace to finish.
func serveHTTP(ctx context.Context, cfg *config.Config, h http.Handler, ln net.Listener) error {
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		// Long enough for a 30 s long-poll of the satellite protocol plus slack.
		WriteTimeout: 90 * time.Second,
		IdleTimeout:  2 * time.Minute,
	}
	errc := make(chan error, 1)
	go func() {
		if cfg.TLS() {
			errc <- hs.ServeTLS(ln, cfg.TLSCert, cfg.TLSKey)
			return
		}
		errc <- hs.Serve(ln)
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("serve http: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shut down http: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve http: %w", err)
	}
	return nil
}

// adminPasswordFile is where the first start leaves a generated administrator password, in the
// data directory (0700) with mode 0600.
const adminPasswordFile = "admin-password"

// savePassword writes a generated first-admin password to a 0600 file in the data directory and
// returns its path ("" when nothing was generated). A file rather than stderr: stderr of a service
// ends up in journald or container logs, readable by more people than the data directory is.
func savePassword(cfg *config.Config, boot accounts.Bootstrap) (string, error) {
	if boot.Password == "" {
		return "", nil
	}
	path := filepath.Join(cfg.DataDir, adminPasswordFile)
	// A file left from an earlier database may have any mode: replace it rather than reuse it.
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("replace %s: %w", path, err)
	}
	if err := writeNewFile(path, boot.Password+"\n"); err != nil {
		return "", fmt.Errorf("save the first administrator's password (%s was created; set a password with "+
			"`talos-backend user password --email %s --password-stdin`): %w", boot.Email, boot.Email, err)
	}
	return path, nil
}

// writeNewFile creates path with mode 0600 (failing if it exists) and writes s to it.
func writeNewFile(path, s string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(s); err != nil {
		_ = f.Close() // the write error is the one to report
		return err
	}
	return f.Close()
}

// printBanner tells the operator where Talos answers and, on first start, where the
// administrator's credentials are. It never prints the password itself: stderr of a service
// goes to journald or container logs.
func printBanner(w io.Writer, cfg *config.Config, addr net.Addr, boot accounts.Bootstrap, pwFile string) {
	scheme := "http"
	if cfg.TLS() {
		scheme = "https"
	}
	host, port, _ := net.SplitHostPort(addr.String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() || ip.IsLoopback() {
		host = "localhost"
	}
	_, _ = fmt.Fprintf(w, "\nTalos is running at %s://%s\n", scheme, net.JoinHostPort(host, port))
	if boot.Created {
		_, _ = fmt.Fprintf(w, "\nFirst start: created the administrator account.\n  email:    %s\n", boot.Email)
		if pwFile != "" {
			_, _ = fmt.Fprintf(w, "  password: in %s (mode 0600; log in, change it, then delete the file)\n", pwFile)
		} else {
			_, _ = fmt.Fprintf(w, "  password: the one in TALOS_BOOTSTRAP_ADMIN_PASSWORD (change it after logging in)\n")
		}
	}
	_, _ = fmt.Fprintln(w)
}

// ensureDataDir creates the data directory (mode 0700: it holds the database and the key).
func ensureDataDir(cfg *config.Config) error {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory %s: %w", cfg.DataDir, err)
	}
	return nil
}
