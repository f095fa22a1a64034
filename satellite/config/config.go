// Package config is talos-satellite's configuration: a YAML file (strict: an unknown key is an
// error naming the key and its line), then TALOS_* environment variables, then command-line
// flags, each overriding the one before. Validate names the offending field.
//
// Adding a section: give Config a field with a yaml tag,
// put `env:"TALOS_..."` tags on its leaves (string, bool, int, int64, float64, time.Duration)
// and, if it needs checks, a `Validate() error` method on the section type: Validate calls it
// and prefixes the section's yaml name to the error.
package config

import (
	"time"

	"github.com/talos-gs/talos/satellite/rotator"
	"github.com/talos-gs/talos/satellite/tracker"
	"github.com/talos-gs/talos/satellite/update"
)

// DefaultPath is read when no --config is given and the file exists.
const DefaultPath = "/etc/talos/satellite.yaml"

// Config is the whole configuration.
type Config struct {
	// StateDir holds identity, API key, command records and the event outbox.
	StateDir  string    `yaml:"state_dir" env:"TALOS_STATE_DIR"`
	Backend   Backend   `yaml:"backend"`
	Log       Log       `yaml:"log"`
	Status    Status    `yaml:"status"`
	Poll      Poll      `yaml:"poll"`
	Heartbeat Heartbeat `yaml:"heartbeat"`
	Outbox    Outbox    `yaml:"outbox"`
	Executor  Executor  `yaml:"executor"`
	// Station is the observer's location override and how observations start.
	Station Station `yaml:"station"`
	// Proc runs decoder processes (satellite/proc).
	Proc Proc `yaml:"proc"`
	// Devices are the rotator and radio (satellite/rotator): rotctld/rigctld, or simulated.
	Devices rotator.DevicesConfig `yaml:"devices"`
	// Tracker tunes the 2 Hz pointing and Doppler loops (satellite/tracker).
	Tracker tracker.Config `yaml:"tracker"`
	// Uploads tunes the upload of output files (satellite/upload).
	Uploads Uploads `yaml:"uploads"`
	// Update is the self-update (runner.update): opt-out, release key, deferral, trial.
	Update update.Config `yaml:"update"`
}

// Backend is how to reach the backend. Its URL normally comes from registration.
type Backend struct {
	// URL overrides the backend URL stored at registration (e.g. after the backend moved).
	URL string `yaml:"url" env:"TALOS_BACKEND_URL"`
	// CAFile is a PEM bundle replacing the system roots.
	CAFile string `yaml:"ca_file" env:"TALOS_BACKEND_CA_FILE"`
	// CertFile and KeyFile are a client certificate for mutual TLS.
	CertFile string `yaml:"cert_file" env:"TALOS_BACKEND_CERT_FILE"`
	KeyFile  string `yaml:"key_file" env:"TALOS_BACKEND_KEY_FILE"`
	// Timeout bounds every call (a long-poll gets its wait on top).
	Timeout time.Duration `yaml:"timeout" env:"TALOS_BACKEND_TIMEOUT"`
	// Insecure allows plain http to a host other than localhost.
	Insecure bool `yaml:"insecure" env:"TALOS_BACKEND_INSECURE"`
}

// Log configures logging.
type Log struct {
	// Level is debug, info, warn or error; config.update can change it at run time.
	Level string `yaml:"level" env:"TALOS_LOG_LEVEL"`
	// Format is json (for journald and log shippers) or console.
	Format string `yaml:"format" env:"TALOS_LOG_FORMAT"`
}

// Status configures the local status endpoint.
type Status struct {
	// Listen is a loopback host:port.
	Listen string `yaml:"listen" env:"TALOS_STATUS_LISTEN"`
}

// Poll configures command polling.
type Poll struct {
	// LongPoll uses long-polling when the backend offers it.
	LongPoll bool `yaml:"long_poll" env:"TALOS_POLL_LONG_POLL"`
}

// Heartbeat configures the heartbeat.
type Heartbeat struct {
	// ThermalRoot is where the board's thermal zones are read.
	ThermalRoot string `yaml:"thermal_root" env:"TALOS_HEARTBEAT_THERMAL_ROOT"`
}

// Outbox bounds the event queue.
type Outbox struct {
	MaxEvents int64 `yaml:"max_events" env:"TALOS_OUTBOX_MAX_EVENTS"`
	MaxBytes  int64 `yaml:"max_bytes" env:"TALOS_OUTBOX_MAX_BYTES"`
	BatchSize int   `yaml:"batch_size" env:"TALOS_OUTBOX_BATCH_SIZE"`
	// FlushTimeout bounds the final flush at shutdown.
	FlushTimeout time.Duration `yaml:"flush_timeout" env:"TALOS_OUTBOX_FLUSH_TIMEOUT"`
}

// Executor configures command execution.
type Executor struct {
	Workers int `yaml:"workers" env:"TALOS_EXECUTOR_WORKERS"`
	// DrainTimeout is how long running commands may finish after a shutdown signal.
	DrainTimeout time.Duration `yaml:"drain_timeout" env:"TALOS_EXECUTOR_DRAIN_TIMEOUT"`
	// Retain is how long finished command ids are kept to refuse duplicates.
	Retain time.Duration `yaml:"retain" env:"TALOS_EXECUTOR_RETAIN"`
}

// Default returns the configuration used when nothing is set.
func Default() Config {
	return Config{
		StateDir:  "/var/lib/talos-satellite",
		Backend:   Backend{Timeout: 30 * time.Second},
		Log:       Log{Level: "info", Format: "json"},
		Status:    Status{Listen: "127.0.0.1:7373"},
		Poll:      Poll{LongPoll: true},
		Heartbeat: Heartbeat{ThermalRoot: "/sys/class/thermal"},
		Outbox:    Outbox{MaxEvents: 100_000, MaxBytes: 100 << 20, BatchSize: 100, FlushTimeout: 10 * time.Second},
		Executor:  Executor{Workers: 4, DrainTimeout: 30 * time.Second, Retain: 7 * 24 * time.Hour},
		Station:   Station{PrepareLead: 90 * time.Second},
		Proc:      defaultProc(),
		Devices:   rotator.DefaultDevicesConfig(),
		Tracker:   tracker.DefaultConfig(),
		Uploads:   defaultUploads(),
		Update:    update.DefaultConfig(),
	}
}
