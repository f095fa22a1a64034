package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/client"
	"github.com/talos-gs/talos/satellite/config"
	"github.com/talos-gs/talos/satellite/runner"
	"github.com/talos-gs/talos/satellite/station"
	"github.com/talos-gs/talos/satellite/update"
)

// exitKeyRevoked is the exit code when the backend refuses the API key (sysexits EX_CONFIG).
// The systemd unit lists it in RestartPreventExitStatus: restarting cannot fix a revoked key.
const exitKeyRevoked = 78

// forceExit ends the process on a second signal.
var forceExit = os.Exit

func newRunCmd(s stdio) *cobra.Command {
	var common commonFlags
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the station: commands, heartbeats, events, decoders, rotator and radio, observations",
		Long: "Runs until SIGTERM or SIGINT. The first signal stops taking work, lets running commands finish\n" +
			"(executor.drain_timeout) and flushes queued events (outbox.flush_timeout); a second signal exits at\n" +
			"once. Exit code 78 means the backend refused the API key: run `talos-satellite register` again.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := common.load()
			if err != nil {
				return err
			}
			ignoreBrokenPipes()
			ctx, stop := signalContext(cmd.Context(), s)
			defer stop()
			return runStation(ctx, cfg)
		},
	}
	common.add(cmd)
	return cmd
}

func runStation(ctx context.Context, cfg config.Config) error {
	log, level, err := newLogger(cfg.Log)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	// Before anything else: a new binary that keeps crashing is rolled back here.
	if err := update.Startup(cfg.StateDir, cfg.Update, api.Version); err != nil {
		return restartOr(err)
	}
	r, err := station.Assemble(ctx, cfg, log, runner.Options{Level: &level})
	if err != nil {
		return err
	}
	err = r.Run(ctx)
	if errors.Is(err, client.ErrUnauthorized) {
		return &exitError{code: exitKeyRevoked, err: err}
	}
	return restartOr(err)
}

// restartOr turns update.ErrRestart (the binary on disk was replaced) into exit code
// update.ExitRestart, on which systemd starts the binary now in place.
func restartOr(err error) error {
	if errors.Is(err, update.ErrRestart) {
		return &exitError{code: update.ExitRestart, err: err}
	}
	return err
}

func newLogger(c config.Log) (*zap.Logger, zap.AtomicLevel, error) {
	level, err := zap.ParseAtomicLevel(c.Level)
	if err != nil {
		return nil, level, fmt.Errorf("log.level: %w", err)
	}
	zc := zap.NewProductionConfig()
	if c.Format == "console" {
		zc = zap.NewDevelopmentConfig()
		zc.EncoderConfig.EncodeLevel = zapcore.CapitalColorLevelEncoder
	}
	zc.Level = level
	zc.Sampling = nil // every line matters on a station; volumes are small
	// A warning is something for the operator to read, not a bug to trace: stack traces only
	// for errors (the development config puts them on warnings too).
	log, err := zc.Build(zap.AddStacktrace(zapcore.ErrorLevel))
	if err != nil {
		return nil, level, fmt.Errorf("build logger: %w", err)
	}
	return log, level, nil
}

// ignoreBrokenPipes keeps a write to a closed stdout or stderr from killing the runner. Go
// dies of SIGPIPE on such a write by default; under `make run 2>&1 | tee log`, Ctrl-C ends tee
// first, and the next log line would kill the runner before its graceful stop (final heartbeat,
// event flush). Ignored, the write fails with EPIPE instead and the log line is lost, nothing else.
func ignoreBrokenPipes() { signal.Ignore(syscall.SIGPIPE) }

// signalContext is cancelled by the first SIGTERM/SIGINT; a second one exits at once.
func signalContext(parent context.Context, s stdio) (context.Context, context.CancelFunc) {
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithCancel(parent)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go watchSignals(ctx, sigs, cancel, s)
	return ctx, func() {
		signal.Stop(sigs)
		cancel()
	}
}

func watchSignals(ctx context.Context, sigs <-chan os.Signal, cancel context.CancelFunc, s stdio) {
	watchSignalsWith(ctx, sigs, cancel, s, forceExit)
}

func watchSignalsWith(ctx context.Context, sigs <-chan os.Signal, cancel context.CancelFunc, s stdio, exit func(int)) {
	select {
	case sig := <-sigs:
		_, _ = fmt.Fprintf(s.err, "talos-satellite: %s: stopping gracefully (send it again to exit at once)\n", sig)
		cancel()
	case <-ctx.Done():
		return
	}
	sig := <-sigs
	_, _ = fmt.Fprintf(s.err, "talos-satellite: %s again: exiting now\n", sig)
	exit(130)
}

// commonFlags are the configuration flags shared by register, run and status.
type commonFlags struct {
	cmd          *cobra.Command
	configPath   string
	stateDir     string
	logLevel     string
	statusListen string
}

func (c *commonFlags) add(cmd *cobra.Command) {
	c.cmd = cmd
	fl := cmd.Flags()
	fl.StringVar(&c.configPath, "config", "", "config file (or TALOS_CONFIG; default "+config.DefaultPath+" if it exists)")
	fl.StringVar(&c.stateDir, "state-dir", "", "state directory (overrides state_dir)")
	fl.StringVar(&c.logLevel, "log-level", "", "debug, info, warn or error (overrides log.level)")
	fl.StringVar(&c.statusListen, "status-listen", "", "status endpoint address, loopback only (overrides status.listen)")
}

// load reads file, environment and the flags that were set, in that order of precedence.
func (c *commonFlags) load() (config.Config, error) {
	path := c.configPath
	if path == "" {
		path = os.Getenv("TALOS_CONFIG")
	}
	return config.Load(config.Sources{Path: path, Flags: func(cfg *config.Config) {
		fl := c.cmd.Flags()
		if fl.Changed("state-dir") {
			cfg.StateDir = c.stateDir
		}
		if fl.Changed("log-level") {
			cfg.Log.Level = c.logLevel
		}
		if fl.Changed("status-listen") {
			cfg.Status.Listen = c.statusListen
		}
	}})
}
