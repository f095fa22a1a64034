package proc

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/talos-gs/talos/backend/api"
)

// Config is the process manager's part of the runner's YAML configuration. Zero fields take the
// defaults of DefaultConfig (see WithDefaults); Validate names the first bad field.
type Config struct {
	// Cgroups is "auto" (use cgroup v2 or v1, whichever the host offers) or "off" (rlimits only).
	Cgroups string `yaml:"cgroups"`
	// CgroupParent is where process cgroups are made: relative (the default, "talos") nests
	// them under the runner's own cgroup, absolute ("/talos/station-1") starts at the hierarchy
	// root. Each process gets <parent>/<team>/<name>.
	CgroupParent string `yaml:"cgroup_parent"`
	// CgroupRoot is the cgroup v2 mount point; empty means /sys/fs/cgroup. Tests point it at a
	// hybrid host's /sys/fs/cgroup/unified.
	CgroupRoot string `yaml:"cgroup_root"`

	// Defaults are the limits of a process whose payload does not override them.
	Defaults Limits `yaml:"defaults"`
	// Max caps what a payload may ask for.
	Max Limits `yaml:"max"`
	// MaxProcesses is the most live (starting, running, stopping or backoff) processes at once.
	MaxProcesses int `yaml:"max_processes"`

	// GracePeriod is how long a stopped process has between SIGTERM and SIGKILL.
	GracePeriod time.Duration `yaml:"grace_period"`
	// IdleTimeout stops a process that printed nothing for this long; 0 disables it.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// Backoff are the delays before the 1st, 2nd, 3rd... restart; the last one repeats.
	Backoff []time.Duration `yaml:"backoff"`
	// CrashLoopRestarts restarts within CrashLoopWindow mark a process failed for good.
	CrashLoopRestarts int           `yaml:"crash_loop_restarts"`
	CrashLoopWindow   time.Duration `yaml:"crash_loop_window"`
	// SampleInterval is how often CPU and memory use are sampled for the heartbeat.
	SampleInterval time.Duration `yaml:"sample_interval"`

	// OwnTeam is the station's own team (identity.json's team_id), always allowed to run
	// processes. It is not read from YAML: the runner sets it from the registered identity.
	OwnTeam string `yaml:"-"`
	// Teams lists the other teams whose processes this station runs (a shared station). A
	// process.start or observation naming any other team is refused before a user or a
	// directory is made for it. Teams mapped in Users are allowed too.
	Teams []string `yaml:"teams"`

	// WorkDir is the base directory holding one 0700 directory per team.
	WorkDir string `yaml:"work_dir"`
	// Users maps a team id to an existing system user ("name" or "uid:gid"); teams not listed run
	// as talos-<team>, created with useradd --system when the runner is root.
	Users map[string]string `yaml:"users"`
	// CreateUsers allows the runner to create missing talos-<team> users (default true).
	CreateUsers *bool `yaml:"create_users"`
	// Lang is the LANG every process gets.
	Lang string `yaml:"lang"`
	// Path is the PATH every process gets unless its payload sets one.
	Path string `yaml:"path"`
	// Shell runs the tiny start shim used on cgroup v1 and without cgroups (see docs/decisions).
	Shell string `yaml:"shell"`

	// Output limits how process output becomes events.
	Output OutputConfig `yaml:"output"`

	// Programs is the station's allow-list: a process.start (or an observation's process)
	// names one of these programs, and runs nothing else. See Program.
	Programs map[string]Program `yaml:"programs"`
	// AllowUnisolated lets a runner that cannot isolate decoders (not root, or namespaces
	// unavailable) run them anyway: as the runner's own user (if not root), with the host's
	// network and /tmp. Off by default: such a runner runs no decoder at all. When on, the
	// heartbeat's cgroup_limits and `talos-satellite status` start with "UNISOLATED".
	AllowUnisolated bool `yaml:"allow_unisolated"`
}

// Limits are the resource limits of one process group.
type Limits struct {
	// CPUCores is the CPU quota in cores per CFS period (0.1 = 10 ms every 100 ms).
	CPUCores float64 `yaml:"cpu_cores"`
	// MemoryMB is the memory limit in MiB; swap is not allowed.
	MemoryMB int64 `yaml:"memory_mb"`
	// Pids is the most processes and threads at once.
	Pids int64 `yaml:"pids"`
}

// MemoryBytes is the memory limit in bytes.
func (l Limits) MemoryBytes() int64 { return l.MemoryMB << 20 }

// OutputConfig bounds the process.output events.
type OutputConfig struct {
	// MaxLineBytes truncates longer lines.
	MaxLineBytes int `yaml:"max_line_bytes"`
	// BatchLines and BatchBytes flush a batch when reached; BatchBytes counts the lines'
	// JSON (escapes included) and is at most MaxOutputBatchBytes, so a batch always fits the
	// backend's per-event data limit.
	BatchLines int `yaml:"batch_lines"`
	BatchBytes int `yaml:"batch_bytes"`
	// FlushInterval flushes a non-empty batch at least this often.
	FlushInterval time.Duration `yaml:"flush_interval"`
	// RateBytesPerSecond and BurstBytes bound the output one process may send; lines beyond it
	// are dropped and counted in the next batch.
	RateBytesPerSecond int `yaml:"rate_bytes_per_second"`
	BurstBytes         int `yaml:"burst_bytes"`
}

// DefaultConfig returns the documented defaults (docs/processes.md).
func DefaultConfig() Config {
	yes := true
	return Config{
		Cgroups:           "auto",
		CgroupParent:      "talos",
		Defaults:          Limits{CPUCores: 0.1, MemoryMB: 100, Pids: 256},
		Max:               Limits{CPUCores: 2, MemoryMB: 2048, Pids: 4096},
		MaxProcesses:      50,
		GracePeriod:       10 * time.Second,
		IdleTimeout:       5 * time.Minute,
		Backoff:           []time.Duration{time.Second, 5 * time.Second, 15 * time.Second},
		CrashLoopRestarts: 3,
		CrashLoopWindow:   5 * time.Minute,
		SampleInterval:    10 * time.Second,
		WorkDir:           "/var/lib/talos-satellite/teams",
		CreateUsers:       &yes,
		Lang:              "C.UTF-8",
		Path:              "/usr/local/bin:/usr/bin:/bin",
		Shell:             "/bin/sh",
		Output: OutputConfig{
			MaxLineBytes: 1024, BatchLines: 100, BatchBytes: MaxOutputBatchBytes,
			FlushInterval: 2 * time.Second, RateBytesPerSecond: 4 << 10, BurstBytes: 32 << 10,
		},
	}
}

// WithDefaults fills every zero field from DefaultConfig. IdleTimeout cannot be turned off by
// leaving it zero in YAML; set it to a negative duration ("-1s") to disable it.
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	setStr(&c.Cgroups, d.Cgroups)
	setStr(&c.CgroupParent, d.CgroupParent)
	c.Defaults = c.Defaults.withDefaults(d.Defaults)
	c.Max = c.Max.withDefaults(d.Max)
	setNum(&c.MaxProcesses, d.MaxProcesses)
	setNum(&c.GracePeriod, d.GracePeriod)
	setNum(&c.IdleTimeout, d.IdleTimeout)
	if len(c.Backoff) == 0 {
		c.Backoff = d.Backoff
	}
	setNum(&c.CrashLoopRestarts, d.CrashLoopRestarts)
	setNum(&c.CrashLoopWindow, d.CrashLoopWindow)
	setNum(&c.SampleInterval, d.SampleInterval)
	setStr(&c.WorkDir, d.WorkDir)
	if c.CreateUsers == nil {
		c.CreateUsers = d.CreateUsers
	}
	setStr(&c.Lang, d.Lang)
	setStr(&c.Path, d.Path)
	setStr(&c.Shell, d.Shell)
	o, do := &c.Output, d.Output
	setNum(&o.MaxLineBytes, do.MaxLineBytes)
	setNum(&o.BatchLines, do.BatchLines)
	setNum(&o.BatchBytes, do.BatchBytes)
	setNum(&o.FlushInterval, do.FlushInterval)
	setNum(&o.RateBytesPerSecond, do.RateBytesPerSecond)
	setNum(&o.BurstBytes, do.BurstBytes)
	return c
}

func (l Limits) withDefaults(d Limits) Limits {
	setNum(&l.CPUCores, d.CPUCores)
	setNum(&l.MemoryMB, d.MemoryMB)
	setNum(&l.Pids, d.Pids)
	return l
}

func setStr(v *string, def string) {
	if *v == "" {
		*v = def
	}
}

func setNum[T int | int64 | float64 | time.Duration](v *T, def T) {
	if *v == 0 {
		*v = def
	}
}

var (
	cgroupParentRe = regexp.MustCompile(`^/?[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$`)
	userMapRe      = regexp.MustCompile(`^([a-z_][a-z0-9_-]{0,31}|[0-9]{1,10}:[0-9]{1,10})$`)
)

// Validate checks a config after WithDefaults and names the first bad field.
func (c Config) Validate() error {
	checks := []func() error{c.validateCgroups, c.validateLimits, c.validateTiming, c.validatePaths, c.validateOutput, c.validatePrograms}
	for _, check := range checks {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

func (c Config) validateCgroups() error {
	if c.Cgroups != "auto" && c.Cgroups != "off" {
		return fmt.Errorf("proc.cgroups: %q must be auto or off", c.Cgroups)
	}
	if !cgroupParentRe.MatchString(c.CgroupParent) || hasDotDot(c.CgroupParent) {
		return fmt.Errorf("proc.cgroup_parent: %q must be a path of names made of A-Z a-z 0-9 _ . -", c.CgroupParent)
	}
	if c.CgroupRoot != "" && !filepath.IsAbs(c.CgroupRoot) {
		return fmt.Errorf("proc.cgroup_root: %q must be absolute", c.CgroupRoot)
	}
	return nil
}

func hasDotDot(p string) bool {
	for _, seg := range strings.Split(strings.Trim(p, "/"), "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

func (c Config) validateLimits() error {
	if err := c.Defaults.validate("proc.defaults"); err != nil {
		return err
	}
	if err := c.Max.validate("proc.max"); err != nil {
		return err
	}
	if c.Defaults.CPUCores > c.Max.CPUCores || c.Defaults.MemoryMB > c.Max.MemoryMB || c.Defaults.Pids > c.Max.Pids {
		return errors.New("proc.defaults: every default limit must be at most the matching proc.max")
	}
	// Every live process must fit in a heartbeat, which the backend caps.
	if c.MaxProcesses < 1 || c.MaxProcesses > api.MaxHeartbeatProcesses {
		return fmt.Errorf("proc.max_processes: %d must be between 1 and %d (the most processes a heartbeat may report)",
			c.MaxProcesses, api.MaxHeartbeatProcesses)
	}
	return nil
}

func (l Limits) validate(field string) error {
	switch {
	case l.CPUCores < 0.01 || l.CPUCores > 1024 || math.IsNaN(l.CPUCores):
		return fmt.Errorf("%s.cpu_cores: %v must be between 0.01 and 1024", field, l.CPUCores)
	case l.MemoryMB < 4 || l.MemoryMB > 1<<20:
		return fmt.Errorf("%s.memory_mb: %d must be between 4 and 1048576 MiB", field, l.MemoryMB)
	case l.Pids < 4 || l.Pids > 1<<22:
		return fmt.Errorf("%s.pids: %d must be between 4 and 4194304", field, l.Pids)
	}
	return nil
}

func (c Config) validateTiming() error {
	switch {
	case c.GracePeriod < 0 || c.GracePeriod > 10*time.Minute:
		return fmt.Errorf("proc.grace_period: %v must be between 0 and 10m", c.GracePeriod)
	case c.CrashLoopRestarts < 1:
		return fmt.Errorf("proc.crash_loop_restarts: %d must be at least 1", c.CrashLoopRestarts)
	case c.CrashLoopWindow < time.Second:
		return fmt.Errorf("proc.crash_loop_window: %v must be at least 1s", c.CrashLoopWindow)
	case c.SampleInterval < 100*time.Millisecond:
		return fmt.Errorf("proc.sample_interval: %v must be at least 100ms", c.SampleInterval)
	}
	for i, b := range c.Backoff {
		if b < 0 || b > time.Hour {
			return fmt.Errorf("proc.backoff[%d]: %v must be between 0 and 1h", i, b)
		}
	}
	return nil
}

func (c Config) validatePaths() error {
	if !filepath.IsAbs(c.WorkDir) || filepath.Clean(c.WorkDir) == "/" {
		return fmt.Errorf("proc.work_dir: %q must be an absolute directory other than /", c.WorkDir)
	}
	if !filepath.IsAbs(c.Shell) {
		return fmt.Errorf("proc.shell: %q must be an absolute path", c.Shell)
	}
	if c.OwnTeam != "" && !teamRe.MatchString(c.OwnTeam) {
		return fmt.Errorf("proc: own team id %q (identity team_id) must be 1 to 64 characters of A-Z a-z 0-9 _ -", c.OwnTeam)
	}
	for i, team := range c.Teams {
		if !teamRe.MatchString(team) {
			return fmt.Errorf("proc.teams[%d]: team id %q must be 1 to 64 characters of A-Z a-z 0-9 _ -", i, team)
		}
	}
	for team, user := range c.Users {
		if !teamRe.MatchString(team) {
			return fmt.Errorf("proc.users: team id %q must be 1 to 64 characters of A-Z a-z 0-9 _ -", team)
		}
		if !userMapRe.MatchString(user) {
			return fmt.Errorf("proc.users.%s: %q must be a user name or uid:gid", team, user)
		}
		if rootMapping(user) {
			return fmt.Errorf("proc.users.%s: %q: team processes never run as uid 0 or gid 0 (root)", team, user)
		}
	}
	return nil
}

// rootMapping reports a proc.users value naming root by name, uid 0 or gid 0; a named user is
// checked again when it is looked up, since its ids live in /etc/passwd.
func rootMapping(user string) bool {
	uid, gid, ok := strings.Cut(user, ":")
	if !ok {
		return user == "root"
	}
	return strings.Trim(uid, "0") == "" || strings.Trim(gid, "0") == ""
}

func (c Config) validateOutput() error {
	o := c.Output
	switch {
	case o.MaxLineBytes < 16 || o.MaxLineBytes > 1<<20:
		return fmt.Errorf("proc.output.max_line_bytes: %d must be between 16 and 1048576", o.MaxLineBytes)
	case o.BatchLines < 1:
		return fmt.Errorf("proc.output.batch_lines: %d must be at least 1", o.BatchLines)
	case o.BatchBytes < 1024 || o.BatchBytes > MaxOutputBatchBytes:
		return fmt.Errorf("proc.output.batch_bytes: %d must be between 1024 and %d (bytes of JSON; the backend refuses larger event data)",
			o.BatchBytes, MaxOutputBatchBytes)
	case o.FlushInterval < 10*time.Millisecond:
		return fmt.Errorf("proc.output.flush_interval: %v must be at least 10ms", o.FlushInterval)
	case o.RateBytesPerSecond < 1:
		return fmt.Errorf("proc.output.rate_bytes_per_second: %d must be at least 1", o.RateBytesPerSecond)
	case o.BurstBytes < o.MaxLineBytes:
		return fmt.Errorf("proc.output.burst_bytes: %d must be at least max_line_bytes", o.BurstBytes)
	}
	return nil
}
