// Package config reads talos-backend's configuration from command-line flags and TALOS_*
// environment variables (a flag wins over its variable, which wins over the default) and
// validates it, naming the offending variable in every error. docs/operations.md lists every
// option; keep the table below and that page in step.
package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// Config is the validated configuration of talos-backend.
type Config struct {
	DataDir     string
	DatabaseURL string
	Listen      string
	TLSCert     string
	TLSKey      string
	Dev         bool
	LogLevel    string
	// SecretKeyEnv is TALOS_SECRET_KEY; when empty, the key file in DataDir is used (see SecretKey).
	SecretKeyEnv string
	// KeyPepperEnv and PreviousPeppersEnv are TALOS_KEY_PEPPER and TALOS_KEY_PEPPER_PREVIOUS;
	// when the first is empty, the pepper file in DataDir is used (see KeyPeppers).
	KeyPepperEnv       string
	PreviousPeppersEnv []string
	MaxBodyBytes       int64
	SessionTTL         time.Duration
	DBMaxOpenConns     int
	DBMaxIdleConns     int
	DBConnLifetime     time.Duration
	TrustedProxies     []string
	BootstrapEmail     string
	BootstrapPasswd    string
	// Retention and CommandLease tune the satellite protocol (docs/protocol.md).
	Retention    time.Duration
	CommandLease time.Duration
	// HeartbeatDownsampleAfter and HeartbeatDownsampleBucket: heartbeats older than the first
	// keep one per satellite per bucket (docs/decisions/0056-heartbeat-downsampling.md).
	HeartbeatDownsampleAfter  time.Duration
	HeartbeatDownsampleBucket time.Duration
	// CatalogStaleLEO and CatalogStaleOther: how old a current element set may be, in low Earth
	// orbit and elsewhere, before the catalog warns about it (docs/catalog.md).
	CatalogStaleLEO   time.Duration
	CatalogStaleOther time.Duration
	// Observation* are the observation rules' settings (docs/observations.md): the least lead
	// time and pass duration of a booking, how recently a station not online must have been
	// seen, when observation.schedule is sent before AOS, how long after LOS a silent pass is
	// missed, and the least maximum elevation of a booked pass (degrees).
	ObservationMinLead       time.Duration
	ObservationMinDuration   time.Duration
	ObservationSeenWithin    time.Duration
	ObservationDispatchAhead time.Duration
	ObservationMissedGrace   time.Duration
	ObservationMinElevation  float64
	// RegisterBurst and RegisterEvery are the per-address registration limit: RegisterBurst at
	// once, then one per RegisterEvery.
	RegisterBurst int
	RegisterEvery time.Duration
	// VerifyConcurrency bounds argon2id verifications at once (0: GOMAXPROCS; auth.VerifyLimits).
	VerifyConcurrency int
	// PublicURL is the address browsers use (TALOS_PUBLIC_URL), empty when not set; https
	// there marks the session cookie Secure even when TLS ends at a proxy.
	PublicURL string
	// TokenMaxTTL is the longest lifetime of a personal API token, and the lifetime of one
	// created without a ttl.
	TokenMaxTTL time.Duration
	// ArtifactDir holds uploaded artifacts (default <data dir>/artifacts) and ArtifactQuotaBytes,
	// ArtifactRetention and ArtifactKinds are the defaults of every team (docs/operations.md
	// "Artifacts").
	ArtifactDir        string
	ArtifactQuotaBytes int64
	ArtifactRetention  map[string]time.Duration
	ArtifactKinds      []string
	// Pprof serves Go's profiles under /debug/pprof/ to global administrators (TALOS_PPROF=admin).
	Pprof bool
}

// SecureCookies reports whether browsers reach Talos over HTTPS whatever the request says: TLS
// here, or a public URL with https.
func (c *Config) SecureCookies() bool {
	return c.TLS() || strings.HasPrefix(c.PublicURL, "https://")
}

// TLS reports whether the server terminates TLS itself.
func (c *Config) TLS() bool { return c.TLSCert != "" }

// option is one configuration value: its flag (empty: environment only, for secrets that must
// not appear in a process listing), its variable, its default and how to store it.
type option struct {
	flag, env, def, help string
	set                  func(c *Config, v string) error
}

var options = []option{
	{"data-dir", "TALOS_DATA_DIR", "data", "directory for the SQLite database and the secret key file",
		func(c *Config, v string) error { c.DataDir = v; return nonEmpty(v) }},
	{"database-url", "TALOS_DATABASE_URL", "", "SQLite file path or postgres:// URL (default <data dir>/talos.db)",
		func(c *Config, v string) error { c.DatabaseURL = v; return nil }},
	{"listen", "TALOS_LISTEN", ":8080", "address to listen on, host:port",
		func(c *Config, v string) error { c.Listen = v; return validListen(v) }},
	{"tls-cert", "TALOS_TLS_CERT", "", "TLS certificate file (PEM); enables HTTPS with --tls-key",
		func(c *Config, v string) error { c.TLSCert = v; return nil }},
	{"tls-key", "TALOS_TLS_KEY", "", "TLS private key file (PEM)",
		func(c *Config, v string) error { c.TLSKey = v; return nil }},
	{"dev", "TALOS_DEV", "false", "development mode: console logs instead of JSON",
		func(c *Config, v string) (err error) { c.Dev, err = strconv.ParseBool(v); return err }},
	{"log-level", "TALOS_LOG_LEVEL", "info", "log level: debug, info, warn or error",
		func(c *Config, v string) error { c.LogLevel = v; return oneOf(v, "debug", "info", "warn", "error") }},
	{"", "TALOS_SECRET_KEY", "", "server secret key, at least 32 characters (default: generated into <data dir>/secret.key)",
		func(c *Config, v string) error { c.SecretKeyEnv = v; return validSecret(v) }},
	{"", "TALOS_KEY_PEPPER", "", "pepper of the keyed hash of API keys and tokens, at least 32 characters (default: generated into <data dir>/key-pepper)",
		func(c *Config, v string) error { c.KeyPepperEnv = v; return validSecret(v) }},
	{"", "TALOS_KEY_PEPPER_PREVIOUS", "", "comma-separated earlier peppers whose hashes still verify and are migrated to the current one",
		func(c *Config, v string) (err error) { c.PreviousPeppersEnv, err = secretList(v); return err }},
	{"max-body-bytes", "TALOS_MAX_BODY_BYTES", "1048576", "largest accepted request body in bytes",
		func(c *Config, v string) (err error) { c.MaxBodyBytes, err = positiveInt64(v); return err }},
	{"session-ttl", "TALOS_SESSION_TTL", "24h", "lifetime of a browser login session",
		func(c *Config, v string) (err error) { c.SessionTTL, err = positiveDuration(v); return err }},
	{"db-max-open-conns", "TALOS_DB_MAX_OPEN_CONNS", "0", "connection pool size (0: 4 for SQLite, 20 for PostgreSQL)",
		func(c *Config, v string) (err error) { c.DBMaxOpenConns, err = nonNegativeInt(v); return err }},
	{"db-max-idle-conns", "TALOS_DB_MAX_IDLE_CONNS", "0", "idle connections kept open (0: min(pool size, 10))",
		func(c *Config, v string) (err error) { c.DBMaxIdleConns, err = nonNegativeInt(v); return err }},
	{"db-conn-max-lifetime", "TALOS_DB_CONN_MAX_LIFETIME", "30m", "longest a pooled connection is reused",
		func(c *Config, v string) (err error) { c.DBConnLifetime, err = positiveDuration(v); return err }},
	{"trusted-proxies", "TALOS_TRUSTED_PROXIES", "", "comma-separated proxy addresses or CIDRs whose X-Forwarded-For is believed",
		func(c *Config, v string) (err error) { c.TrustedProxies, err = cidrList(v); return err }},
	{"retention", "TALOS_RETENTION", "720h", "age past which satellite heartbeats and events are deleted",
		func(c *Config, v string) (err error) { c.Retention, err = positiveDuration(v); return err }},
	{"heartbeat-downsample-after", "TALOS_HEARTBEAT_DOWNSAMPLE_AFTER", "24h", "age past which satellite heartbeats are thinned to one per bucket",
		func(c *Config, v string) (err error) {
			c.HeartbeatDownsampleAfter, err = positiveDuration(v)
			return err
		}},
	{"heartbeat-downsample-bucket", "TALOS_HEARTBEAT_DOWNSAMPLE_BUCKET", "10m", "width of the buckets of which old heartbeats keep the last, whole seconds from 1m to 24h",
		func(c *Config, v string) (err error) {
			c.HeartbeatDownsampleBucket, err = downsampleBucket(v)
			return err
		}},
	{"command-lease", "TALOS_COMMAND_LEASE", "60s", "how long a delivered command may stay unacknowledged before it is delivered again",
		func(c *Config, v string) (err error) { c.CommandLease, err = positiveDuration(v); return err }},
	{"register-burst", "TALOS_REGISTER_BURST", "10", "satellite registrations one address may make at once",
		func(c *Config, v string) (err error) { c.RegisterBurst, err = positiveInt(v); return err }},
	{"register-every", "TALOS_REGISTER_EVERY", "6s", "after the burst, one registration per address per this duration",
		func(c *Config, v string) (err error) { c.RegisterEvery, err = positiveDuration(v); return err }},
	{"verify-concurrency", "TALOS_VERIFY_CONCURRENCY", "0", "argon2id credential checks run at once, 19 MiB each (0: one per CPU); more wait briefly, then get 503",
		func(c *Config, v string) (err error) { c.VerifyConcurrency, err = nonNegativeInt(v); return err }},
	{"public-url", "TALOS_PUBLIC_URL", "", "the URL browsers use, e.g. https://talos.example.org (https marks the session cookie Secure)",
		func(c *Config, v string) (err error) { c.PublicURL, err = publicURL(v); return err }},
	{"token-max-ttl", "TALOS_TOKEN_MAX_TTL", "8760h", "longest lifetime of a personal API token, and that of one created without a ttl",
		func(c *Config, v string) (err error) { c.TokenMaxTTL, err = positiveDuration(v); return err }},
	{"catalog-stale-leo", "TALOS_CATALOG_STALE_LEO", "72h", "age past which a low-Earth-orbit element set is warned about as stale",
		func(c *Config, v string) (err error) { c.CatalogStaleLEO, err = positiveDuration(v); return err }},
	{"catalog-stale-other", "TALOS_CATALOG_STALE_OTHER", "336h", "age past which an element set of any other orbit is warned about as stale",
		func(c *Config, v string) (err error) { c.CatalogStaleOther, err = positiveDuration(v); return err }},
	{"observation-min-lead", "TALOS_OBSERVATION_MIN_LEAD", "10m", "least time from booking an observation to its AOS",
		func(c *Config, v string) (err error) { c.ObservationMinLead, err = positiveDuration(v); return err }},
	{"observation-min-duration", "TALOS_OBSERVATION_MIN_DURATION", "2m", "shortest pass (AOS to LOS) that may be booked",
		func(c *Config, v string) (err error) { c.ObservationMinDuration, err = positiveDuration(v); return err }},
	{"observation-seen-within", "TALOS_OBSERVATION_SEEN_WITHIN", "1h", "a station that is not online may be booked if seen this recently",
		func(c *Config, v string) (err error) { c.ObservationSeenWithin, err = positiveDuration(v); return err }},
	{"observation-dispatch-ahead", "TALOS_OBSERVATION_DISPATCH_AHEAD", "1h", "how long before AOS observation.schedule is sent to the station",
		func(c *Config, v string) (err error) {
			c.ObservationDispatchAhead, err = positiveDuration(v)
			return err
		}},
	{"observation-missed-grace", "TALOS_OBSERVATION_MISSED_GRACE", "10m", "how long after LOS an observation without the station's report is marked missed",
		func(c *Config, v string) (err error) { c.ObservationMissedGrace, err = positiveDuration(v); return err }},
	{"observation-min-elevation", "TALOS_OBSERVATION_MIN_ELEVATION", "0", "least maximum elevation (degrees, 0 to 89) of a pass that may be booked",
		func(c *Config, v string) (err error) { c.ObservationMinElevation, err = elevation(v); return err }},
	{"artifact-dir", "TALOS_ARTIFACT_DIR", "", "directory of uploaded artifacts, and of uploads in progress (default <data dir>/artifacts)",
		func(c *Config, v string) error { c.ArtifactDir = v; return nil }},
	{"artifact-quota-bytes", "TALOS_ARTIFACT_QUOTA_BYTES", "53687091200", "artifact bytes each team may store (a team's own setting overrides it)",
		func(c *Config, v string) (err error) { c.ArtifactQuotaBytes, err = positiveInt64(v); return err }},
	{"artifact-retention", "TALOS_ARTIFACT_RETENTION", "iq=168h,audio=2160h,waterfall=8760h,frames=0,log=720h,other=720h",
		"how long each kind of artifact is kept, kind=duration pairs (0: for ever; a kind left out keeps its default)",
		func(c *Config, v string) (err error) { c.ArtifactRetention, err = retentionList(v); return err }},
	{"artifact-kinds", "TALOS_ARTIFACT_KINDS", "", "comma-separated artifact kinds accepted from stations (default all: waterfall, audio, iq, frames, log, other)",
		func(c *Config, v string) (err error) { c.ArtifactKinds, err = kindList(v); return err }},
	{"pprof", "TALOS_PPROF", "off", "Go profiles under /debug/pprof/: off, or admin (global administrators only)",
		func(c *Config, v string) error { c.Pprof = v == "admin"; return oneOf(v, "off", "admin") }},
	{"", "TALOS_BOOTSTRAP_ADMIN_EMAIL", "admin@talos.local", "email of the admin created on first start",
		func(c *Config, v string) error { c.BootstrapEmail = v; return validEmail(v) }},
	{"", "TALOS_BOOTSTRAP_ADMIN_PASSWORD", "", "password of the admin created on first start (default: random, printed once)",
		func(c *Config, v string) error { c.BootstrapPasswd = v; return validBootstrapPassword(v) }},
}

// RegisterFlags adds the configuration flags to fs (for cobra's persistent flags).
func RegisterFlags(fs *pflag.FlagSet) {
	for _, o := range options {
		if o.flag != "" {
			fs.String(o.flag, "", fmt.Sprintf("%s (env %s, default %q)", o.help, o.env, o.def))
		}
	}
}

// Load resolves every option from fs, then getenv, then its default, and validates the result.
func Load(fs *pflag.FlagSet, getenv func(string) string) (*Config, error) {
	c := &Config{}
	var errs []error
	for _, o := range options {
		v, source := resolve(o, fs, getenv)
		if err := o.set(c, v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", source, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	if err := c.finish(); err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	return c, nil
}

func resolve(o option, fs *pflag.FlagSet, getenv func(string) string) (value, source string) {
	if o.flag != "" && fs != nil {
		if f := fs.Lookup(o.flag); f != nil && f.Changed {
			return f.Value.String(), "--" + o.flag
		}
	}
	if v, ok := lookupEnv(getenv, o.env); ok {
		return v, o.env
	}
	return o.def, o.env
}

func lookupEnv(getenv func(string) string, name string) (string, bool) {
	v := getenv(name)
	return v, v != ""
}

// finish checks rules that involve several options and fills derived defaults.
func (c *Config) finish() error {
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("TALOS_TLS_CERT and TALOS_TLS_KEY must be given together")
	}
	if c.DatabaseURL == "" {
		c.DatabaseURL = filepath.Join(c.DataDir, "talos.db")
	}
	if c.ArtifactDir == "" {
		c.ArtifactDir = filepath.Join(c.DataDir, "artifacts")
	}
	if c.DBMaxIdleConns > 0 && c.DBMaxOpenConns > 0 && c.DBMaxIdleConns > c.DBMaxOpenConns {
		return errors.New("TALOS_DB_MAX_IDLE_CONNS must not exceed TALOS_DB_MAX_OPEN_CONNS")
	}
	return nil
}

func nonEmpty(v string) error {
	if strings.TrimSpace(v) == "" {
		return errors.New("must not be empty")
	}
	return nil
}

func oneOf(v string, allowed ...string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return fmt.Errorf("%q is not one of %s", v, strings.Join(allowed, ", "))
}

func validListen(v string) error {
	if _, _, err := net.SplitHostPort(v); err != nil {
		return fmt.Errorf("%q is not host:port: %w", v, err)
	}
	return nil
}

func validSecret(v string) error {
	if v != "" && len(v) < 32 {
		return errors.New("must be at least 32 characters")
	}
	return nil
}

// secretList splits a comma-separated list of secrets, each at least 32 characters.
func secretList(v string) ([]string, error) {
	if v == "" {
		return nil, nil
	}
	out := strings.Split(v, ",")
	for i, s := range out {
		if len(s) < 32 {
			return nil, fmt.Errorf("entry %d must be at least 32 characters", i+1)
		}
	}
	return out, nil
}

func validEmail(v string) error {
	at := strings.IndexByte(v, '@')
	if at < 1 || at == len(v)-1 || strings.ContainsAny(v, " \t\r\n") {
		return fmt.Errorf("%q is not an email address", v)
	}
	return nil
}

func validBootstrapPassword(v string) error {
	if v != "" && len(v) < 12 {
		return errors.New("must be at least 12 characters")
	}
	return nil
}

func positiveInt64(v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a positive integer", v)
	}
	return n, nil
}

func positiveInt(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a positive integer", v)
	}
	return n, nil
}

func nonNegativeInt(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a non-negative integer", v)
	}
	return n, nil
}

// elevation parses degrees from 0 to 89.
func elevation(v string) (float64, error) {
	d, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(d) || d < 0 || d > 89 {
		return 0, fmt.Errorf("%q must be degrees from 0 to 89", v)
	}
	return d, nil
}

func positiveDuration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a positive duration (e.g. 30m, 24h)", v)
	}
	return d, nil
}

// downsampleBucket accepts a whole number of seconds from a minute to a day: the store buckets
// by epoch seconds, a bucket under a minute keeps nearly every 30 s heartbeat, and one over a
// day would leave charts of old data with too few points.
func downsampleBucket(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d < time.Minute || d > 24*time.Hour || d%time.Second != 0 {
		return 0, fmt.Errorf("%q is not a whole number of seconds from 1m to 24h", v)
	}
	return d, nil
}

// publicURL accepts an absolute http or https URL with a host and nothing after the path.
func publicURL(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%q is not an http(s) URL like https://talos.example.org", v)
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}

func cidrList(v string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(v, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if net.ParseIP(p) == nil {
			if _, _, err := net.ParseCIDR(p); err != nil {
				return nil, fmt.Errorf("%q is neither an IP address nor a CIDR", p)
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// artifactKinds are backend/api's artifact kinds (config imports nothing of the API's rules).
var artifactKinds = []string{"waterfall", "audio", "iq", "frames", "log", "other"}

// retentionList reads kind=duration pairs ("iq=168h,frames=0").
func retentionList(v string) (map[string]time.Duration, error) {
	out := map[string]time.Duration{}
	for _, pair := range strings.Split(v, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		kind, dur, ok := strings.Cut(pair, "=")
		if !ok {
			return nil, fmt.Errorf("%q is not kind=duration", pair)
		}
		if err := oneOf(kind, artifactKinds...); err != nil {
			return nil, err
		}
		d, err := time.ParseDuration(dur)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("%s: %q is not a duration of 0 (for ever) or more", kind, dur)
		}
		out[kind] = d
	}
	return out, nil
}

// kindList reads a comma-separated list of artifact kinds.
func kindList(v string) ([]string, error) {
	var out []string
	for _, k := range strings.Split(v, ",") {
		if k = strings.TrimSpace(k); k == "" {
			continue
		}
		if err := oneOf(k, artifactKinds...); err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, nil
}
