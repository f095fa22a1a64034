package proc

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/talos-gs/talos/backend/api"
)

// Errors returned by the Manager; the command handlers pass them on as the command's error.
var (
	ErrNotFound         = errors.New("no such process")
	ErrExists           = errors.New("a live process already has this name")
	ErrTooManyProcesses = errors.New("too many processes")
	ErrLimitTooHigh     = errors.New("limit above the station maximum")
	ErrShuttingDown     = errors.New("the process manager is shutting down")
	ErrStarting         = errors.New("the process is still starting")
)

// Spec says what to run. Observations build one directly; process.start builds one from its
// payload with SpecFromPayload.
type Spec struct {
	// Name identifies the process on this runner (api.ValidateProcessName).
	Name string
	// Team selects the system user and the working directory (api.ValidateTeamID).
	Team string
	// Program names an entry of the station's allow-list (proc.programs), which gives the
	// executable, its fixed arguments, the patterns Args must match, the Env names allowed,
	// the limits' cap and the network mode. Every spec built from a command names one.
	Program string
	// Args are the arguments after the program's fixed ones.
	Args []string
	// Command is a raw argv (an absolute path or a name looked up in proc.path), for the
	// station's own code only: SpecFromPayload never fills it, and a spec must have Program or
	// Command, not both. Such a process has no network unless Network is NetworkHost.
	Command []string
	// Network is the network mode of a Command spec ("" is none); a Program's comes from the
	// allow-list.
	Network string
	// Env are the variables the process gets besides PATH, HOME, USER, LOGNAME, LANG and TMPDIR.
	Env map[string]string
	// WorkingDir is relative to the team directory.
	WorkingDir string
	// Limits overrides the configured defaults where non-zero.
	Limits Limits
	// Restart is the restart policy ("" is never).
	Restart api.RestartPolicy
	// IdleTimeout: nil keeps the configured default, 0 disables it.
	IdleTimeout *time.Duration
	// CommandID and CorrelationID tie the process's events to a command or an observation.
	CommandID     string
	CorrelationID string
	// ObservationID names the observation that started the process (its decoder), if one did;
	// every process.* event carries it as data field observation_id.
	ObservationID string
	// Output: a process.start's output settings (output_dir.go); an observation's decoder
	// always gets an output directory, and Output's Kinds choose what is uploaded.
	Output *api.OutputSettings
}

// SpecFromPayload validates a process.start payload and turns it into a Spec.
func SpecFromPayload(p api.ProcessStartPayload) (Spec, error) {
	if err := p.Validate(); err != nil {
		return Spec{}, err
	}
	s := Spec{
		Name: p.Name, Team: p.TeamID, Program: p.Program, Args: p.Args, Env: p.Env,
		WorkingDir: p.WorkingDir, Restart: p.Restart, Output: p.Output,
	}
	if p.Limits != nil {
		s.Limits = Limits{CPUCores: p.Limits.CPUCores, MemoryMB: p.Limits.MemoryMB, Pids: p.Limits.Pids}
	}
	if p.IdleTimeoutSeconds != nil {
		d := time.Duration(*p.IdleTimeoutSeconds) * time.Second
		s.IdleTimeout = &d
	}
	return s, nil
}

// validate checks a Spec built in code the same way a payload is checked; a Command spec
// (the station's own code) has its argv checked instead of a program name.
func (s Spec) validate() error {
	if err := s.validateArgv(); err != nil {
		return err
	}
	p := api.ProcessStartPayload{
		Name: s.Name, TeamID: s.Team, Program: s.Program, Args: s.Args, Env: s.Env, WorkingDir: s.WorkingDir,
		Restart: s.Restart,
		Limits:  &api.ProcessLimits{CPUCores: s.Limits.CPUCores, MemoryMB: s.Limits.MemoryMB, Pids: s.Limits.Pids},
	}
	if s.Command != nil {
		p.Program = "station-command" // checked above
	}
	if s.IdleTimeout != nil {
		secs := int(s.IdleTimeout.Seconds())
		if *s.IdleTimeout < 0 || (*s.IdleTimeout > 0 && secs == 0) {
			return fmt.Errorf("idle timeout %v must be 0 (off) or at least 1s", *s.IdleTimeout)
		}
		p.IdleTimeoutSeconds = &secs
	}
	return p.Validate()
}

func (s Spec) validateArgv() error {
	switch {
	case s.Program != "" && s.Command != nil:
		return errors.New("a process spec has either a program or a command, not both")
	case s.Command == nil:
		return nil
	case s.Args != nil:
		return errors.New("a command spec takes its arguments in command, not args")
	case s.Network != "" && s.Network != NetworkNone && s.Network != NetworkHost:
		return fmt.Errorf("network: %q must be none or host", s.Network)
	}
	if err := api.ValidateProcessArgs("command", s.Command, 1); err != nil {
		return err
	}
	if prog := s.Command[0]; prog == "" || (strings.Contains(prog, "/") && !filepath.IsAbs(prog)) {
		return fmt.Errorf("command[0]: %q must be an absolute path or a bare program name", prog)
	}
	return nil
}

// resolveLimits fills the spec's zero limits from the defaults (capped by max) and refuses
// anything above max: the station's proc.max, or a program's own lower limits.
func resolveLimits(defaults, max Limits, o Limits) (Limits, error) {
	d := Limits{
		CPUCores: math.Min(defaults.CPUCores, max.CPUCores), MemoryMB: min(defaults.MemoryMB, max.MemoryMB),
		Pids: min(defaults.Pids, max.Pids),
	}
	l := o.withDefaults(d)
	switch {
	case l.CPUCores > max.CPUCores:
		return l, fmt.Errorf("%w: limits.cpu_cores %v > %v", ErrLimitTooHigh, l.CPUCores, max.CPUCores)
	case l.MemoryMB > max.MemoryMB:
		return l, fmt.Errorf("%w: limits.memory_mb %d > %d", ErrLimitTooHigh, l.MemoryMB, max.MemoryMB)
	case l.Pids > max.Pids:
		return l, fmt.Errorf("%w: limits.pids %d > %d", ErrLimitTooHigh, l.Pids, max.Pids)
	}
	return l, nil
}

// idleTimeout is the spec's idle timeout, or the configured one; 0 means none.
func idleTimeout(cfg Config, s Spec) time.Duration {
	if s.IdleTimeout != nil {
		return *s.IdleTimeout
	}
	if cfg.IdleTimeout < 0 {
		return 0
	}
	return cfg.IdleTimeout
}

// teamTmp is the team's own temporary directory, inside its 0700 directory: /tmp is shared by
// every user of the station.
const teamTmp = ".tmp"

// buildEnv is the child's whole environment: a minimal base plus what the spec allows, plus
// the station-held variables of its program. The runner's own environment (its API key, its
// config path) is never read here.
func buildEnv(cfg Config, id identity, s Spec, setEnv map[string]string, output *OutputDir) []string {
	env := map[string]string{
		"PATH": cfg.Path, "HOME": id.dir, "USER": id.user, "LOGNAME": id.user, "LANG": cfg.Lang,
		"TMPDIR": filepath.Join(id.dir, teamTmp),
	}
	for k, v := range s.Env {
		env[k] = v
	}
	for k, v := range setEnv {
		env[k] = v
	}
	if output != nil {
		env[EnvOutputDir] = output.Path
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// resolveProgram finds a bare program name (a Command spec of the station's own code) in
// proc.path, the PATH every child gets (not the runner's).
func resolveProgram(prog, pathList string) (string, error) {
	if filepath.IsAbs(prog) {
		return prog, nil
	}
	for _, dir := range strings.Split(pathList, ":") {
		if !filepath.IsAbs(dir) {
			continue
		}
		cand := filepath.Join(dir, prog)
		if fi, err := os.Stat(cand); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return cand, nil
		}
	}
	return "", fmt.Errorf("command[0]: %q not found in proc.path %s", prog, pathList)
}
