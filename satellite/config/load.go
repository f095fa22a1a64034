package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Sources say where configuration comes from.
type Sources struct {
	// Path is the config file; "" reads DefaultPath if it exists.
	Path string
	// Env looks up environment variables (os.LookupEnv when nil).
	Env func(string) (string, bool)
	// Flags apply command-line flags last.
	Flags func(*Config)
}

// Load builds the configuration from defaults, file, environment and flags, and validates it.
func Load(src Sources) (Config, error) {
	cfg := Default()
	if err := loadFile(&cfg, src.Path); err != nil {
		return cfg, err
	}
	env := src.Env
	if env == nil {
		env = os.LookupEnv
	}
	if err := ApplyEnv(&cfg, env); err != nil {
		return cfg, err
	}
	if src.Flags != nil {
		src.Flags(&cfg)
	}
	return cfg, cfg.Validate()
}

func loadFile(cfg *Config, path string) error {
	explicit := path != ""
	if !explicit {
		path = DefaultPath
	}
	raw, err := os.ReadFile(path)
	if !explicit && errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	if err := Parse(raw, cfg); err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	return nil
}

// Parse decodes YAML onto cfg strictly: unknown keys and wrong types are errors with the line.
func Parse(raw []byte, cfg *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return errors.New("more than one YAML document: the config is one document")
	}
	return nil
}

// ApplyEnv sets every field that has an env tag and a variable set.
func ApplyEnv(cfg *Config, lookup func(string) (string, bool)) error {
	if err := applyEnv(reflect.ValueOf(cfg).Elem(), lookup); err != nil {
		return err
	}
	return applyForeignEnv(cfg, lookup)
}

// foreignEnv names variables for fields of sections whose types belong to other packages
// (proc, rotator), which carry no env tags: the few an installer sets per machine.
var foreignEnv = []struct {
	name  string
	field func(*Config) any
}{
	{"TALOS_DEVICES_ROTCTLD", func(c *Config) any { return &c.Devices.Rotctld }},
	{"TALOS_DEVICES_RIGCTLD", func(c *Config) any { return &c.Devices.Rigctld }},
	{"TALOS_PROC_CGROUPS", func(c *Config) any { return &c.Proc.Cgroups }},
	{"TALOS_PROC_WORK_DIR", func(c *Config) any { return &c.Proc.WorkDir }},
	{"TALOS_PROC_GRACE_PERIOD", func(c *Config) any { return &c.Proc.GracePeriod }},
}

func applyForeignEnv(cfg *Config, lookup func(string) (string, bool)) error {
	for _, fe := range foreignEnv {
		raw, ok := lookup(fe.name)
		if !ok {
			continue
		}
		if err := setFromString(reflect.ValueOf(fe.field(cfg)).Elem(), raw); err != nil {
			return fmt.Errorf("environment variable %s: %w", fe.name, err)
		}
	}
	return nil
}

func applyEnv(v reflect.Value, lookup func(string) (string, bool)) error {
	t := v.Type()
	for i := range t.NumField() {
		f, fv := t.Field(i), v.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Duration(0)) {
			if err := applyEnv(fv, lookup); err != nil {
				return err
			}
			continue
		}
		name := f.Tag.Get("env")
		raw, ok := lookup(name)
		if name == "" || !ok {
			continue
		}
		if err := setFromString(fv, raw); err != nil {
			return fmt.Errorf("environment variable %s: %w", name, err)
		}
	}
	return nil
}

func setFromString(v reflect.Value, raw string) error {
	raw = strings.TrimSpace(raw)
	switch {
	case v.Type() == reflect.TypeOf(time.Duration(0)):
		d, err := time.ParseDuration(raw)
		if err != nil {
			return fmt.Errorf("want a duration like 30s or 5m, got %q", raw)
		}
		v.SetInt(int64(d))
	case v.Kind() == reflect.String:
		v.SetString(raw)
	case v.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return fmt.Errorf("want true or false, got %q", raw)
		}
		v.SetBool(b)
	case v.Kind() == reflect.Int || v.Kind() == reflect.Int64:
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return fmt.Errorf("want an integer, got %q", raw)
		}
		v.SetInt(n)
	case v.Kind() == reflect.Float64:
		n, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			return fmt.Errorf("want a number, got %q", raw)
		}
		v.SetFloat(n)
	default:
		return fmt.Errorf("unsupported field kind %s", v.Kind())
	}
	return nil
}

// Validate checks every field and names the first offender by its YAML path.
func (c Config) Validate() error {
	checks := []func() error{c.validateCore, c.validateLimits, c.validateSections, c.validateDevices}
	for _, check := range checks {
		if err := check(); err != nil {
			return fmt.Errorf("invalid configuration: %w", err)
		}
	}
	return nil
}

func (c Config) validateCore() error {
	switch {
	case c.StateDir == "":
		return errors.New("state_dir: must not be empty")
	case c.Backend.URL != "" && !validURL(c.Backend.URL):
		return fmt.Errorf("backend.url: want an absolute http(s) URL, got %q", c.Backend.URL)
	case (c.Backend.CertFile == "") != (c.Backend.KeyFile == ""):
		return errors.New("backend.cert_file and backend.key_file: give both or neither")
	case c.Backend.Timeout < time.Second || c.Backend.Timeout > 5*time.Minute:
		return fmt.Errorf("backend.timeout: must be 1s to 5m, got %s", c.Backend.Timeout)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log.level: must be debug, info, warn or error, got %q", c.Log.Level)
	}
	if c.Log.Format != "json" && c.Log.Format != "console" {
		return fmt.Errorf("log.format: must be json or console, got %q", c.Log.Format)
	}
	return checkLoopback(c.Status.Listen)
}

func (c Config) validateLimits() error {
	o, e := c.Outbox, c.Executor
	switch {
	case o.MaxEvents < 100:
		return fmt.Errorf("outbox.max_events: must be at least 100, got %d", o.MaxEvents)
	case o.MaxBytes < 1<<20:
		return fmt.Errorf("outbox.max_bytes: must be at least 1048576 (1 MiB), got %d", o.MaxBytes)
	case o.BatchSize < 1 || o.BatchSize > 500:
		return fmt.Errorf("outbox.batch_size: must be 1 to 500, got %d", o.BatchSize)
	case o.FlushTimeout < time.Second || o.FlushTimeout > 10*time.Minute:
		return fmt.Errorf("outbox.flush_timeout: must be 1s to 10m, got %s", o.FlushTimeout)
	case e.Workers < 1 || e.Workers > 64:
		return fmt.Errorf("executor.workers: must be 1 to 64, got %d", e.Workers)
	case e.DrainTimeout < time.Second || e.DrainTimeout > time.Hour:
		return fmt.Errorf("executor.drain_timeout: must be 1s to 1h, got %s", e.DrainTimeout)
	case e.Retain < time.Hour:
		return fmt.Errorf("executor.retain: must be at least 1h (the backend may redeliver for that long), got %s", e.Retain)
	}
	return nil
}

// validateSections calls Validate on every section that has one (the extension point), and
// prefixes the section's name unless the error already starts with it (proc's errors do).
func (c Config) validateSections() error {
	v := reflect.ValueOf(c)
	for i := range v.NumField() {
		section, ok := v.Field(i).Interface().(interface{ Validate() error })
		if !ok {
			continue
		}
		if err := section.Validate(); err != nil {
			name := yamlName(v.Type().Field(i))
			if strings.HasPrefix(err.Error(), name+".") {
				return err
			}
			return fmt.Errorf("%s.%w", name, err)
		}
	}
	return nil
}

func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "" {
		return strings.ToLower(f.Name)
	}
	return name
}

func validURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

func checkLoopback(listen string) error {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("status.listen: want host:port, got %q", listen)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("status.listen: bad port %q", port)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("status.listen: must be a loopback address (127.0.0.1 or [::1]), got %q", host)
	}
	return nil
}
