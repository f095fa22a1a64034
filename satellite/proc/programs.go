package proc

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/talos-gs/talos/backend/api"
)

// Program is one entry of the station's allow-list of programs (proc.programs): the whole of
// what a command naming it may make the station run. The station's owner writes it; the backend
// cannot change it (config.update knows no such key), so a team member chooses only among what
// the owner allowed: the extra arguments that match ArgPatterns, the values of the Env names,
// lower limits, a working directory inside the team's directory.
type Program struct {
	// Path is the absolute path of the executable.
	Path string `yaml:"path"`
	// Args are the arguments the program always gets, before those of the command.
	Args []string `yaml:"args"`
	// ArgPatterns are RE2 expressions; each argument of a command must match one of them as a
	// whole. None: a command may give no arguments.
	ArgPatterns []string `yaml:"arg_patterns"`
	// MaxArgs is the most arguments a command may give (default 16 when patterns are given).
	MaxArgs int `yaml:"max_args"`
	// Env are the variable names a command may set (never one api.DeniedEnvName refuses).
	Env []string `yaml:"env"`
	// SetEnv are variables the program always gets, with values held by the station (a token
	// of a telemetry server, say): a command cannot see or change them, and they appear in no
	// command, event or heartbeat.
	SetEnv map[string]string `yaml:"set_env"`
	// Limits cap the program's resources below proc.max; zero fields keep proc.max.
	Limits Limits `yaml:"limits"`
	// Network is "none" (the default: a network namespace of its own with nothing in it, so
	// neither the internet nor the station's loopback services are reachable) or "host".
	Network string `yaml:"network"`

	patterns []*regexp.Regexp
}

// Network modes of a Program.
const (
	NetworkNone = "none"
	NetworkHost = "host"
)

// defaultMaxArgs bounds the arguments of a command when the program sets no max_args.
const defaultMaxArgs = 16

// ErrProgramNotAllowed refuses a command naming a program, argument or variable the station's
// allow-list does not give it.
var ErrProgramNotAllowed = errors.New("not allowed by this station's allow-list of programs (proc.programs)")

// compile checks one allow-list entry and compiles its patterns; field is "proc.programs.<name>".
func (p *Program) compile(field string, max Limits) error {
	if !filepath.IsAbs(p.Path) || filepath.Clean(p.Path) != p.Path {
		return fmt.Errorf("%s.path: %q must be an absolute, clean path", field, p.Path)
	}
	if err := api.ValidateProcessArgs(field+".args", p.Args, 0); err != nil {
		return err
	}
	if p.MaxArgs < 0 || p.MaxArgs > api.MaxProcessArgs {
		return fmt.Errorf("%s.max_args: %d must be between 0 and %d", field, p.MaxArgs, api.MaxProcessArgs)
	}
	for i, pat := range p.ArgPatterns {
		re, err := regexp.Compile(`^(?:` + pat + `)$`)
		if err != nil {
			return fmt.Errorf("%s.arg_patterns[%d]: %w", field, i, err)
		}
		p.patterns = append(p.patterns, re)
	}
	if err := p.checkEnv(field); err != nil {
		return err
	}
	if err := p.Limits.validateCap(field+".limits", max); err != nil {
		return err
	}
	switch p.Network {
	case "", NetworkNone, NetworkHost:
	default:
		return fmt.Errorf("%s.network: %q must be none or host", field, p.Network)
	}
	return nil
}

func (p *Program) checkEnv(field string) error {
	for i, name := range p.Env {
		if why := api.DeniedEnvName(name); why != "" || !envNameRe.MatchString(name) {
			return fmt.Errorf("%s.env[%d]: %q may not be given to a program: %s", field, i, name, orShape(why))
		}
		if _, fixed := p.SetEnv[name]; fixed {
			return fmt.Errorf("%s.env[%d]: %q is also in set_env; a command may not override a station-held value", field, i, name)
		}
	}
	for name, value := range p.SetEnv {
		if why := api.DeniedEnvName(name); why != "" || !envNameRe.MatchString(name) {
			return fmt.Errorf("%s.set_env.%s: may not be given to a program: %s", field, name, orShape(why))
		}
		if strings.ContainsRune(value, 0) || len(value) > api.MaxProcessArgBytes {
			return fmt.Errorf("%s.set_env.%s: the value must be at most %d bytes without NUL", field, name, api.MaxProcessArgBytes)
		}
	}
	return nil
}

var envNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)

func orShape(why string) string {
	if why == "" {
		return "a name must match " + envNameRe.String()
	}
	return why
}

// validateCap checks a program's limits: each set field within the bounds of a limit and at
// most the station's maximum.
func (l Limits) validateCap(field string, max Limits) error {
	switch {
	case l.CPUCores != 0 && (l.CPUCores < 0.01 || l.CPUCores > max.CPUCores):
		return fmt.Errorf("%s.cpu_cores: %v must be between 0.01 and proc.max.cpu_cores (%v)", field, l.CPUCores, max.CPUCores)
	case l.MemoryMB != 0 && (l.MemoryMB < 4 || l.MemoryMB > max.MemoryMB):
		return fmt.Errorf("%s.memory_mb: %d must be between 4 and proc.max.memory_mb (%d)", field, l.MemoryMB, max.MemoryMB)
	case l.Pids != 0 && (l.Pids < 4 || l.Pids > max.Pids):
		return fmt.Errorf("%s.pids: %d must be between 4 and proc.max.pids (%d)", field, l.Pids, max.Pids)
	}
	return nil
}

// compilePrograms checks every entry of the allow-list and returns a copy with the patterns
// compiled (Validate checks; New keeps the copy, so the caller's config is never written).
func (c Config) compilePrograms() (map[string]Program, error) {
	out := make(map[string]Program, len(c.Programs))
	for name, p := range c.Programs {
		if api.ValidateProgramName(name) != nil {
			return nil, fmt.Errorf("proc.programs: %q must be 1 to 63 characters of a-z, 0-9, '.', '_', '-', starting with a letter or digit", name)
		}
		p.patterns = nil
		if err := p.compile("proc.programs."+name, c.Max); err != nil {
			return nil, err
		}
		out[name] = p
	}
	return out, nil
}

func (c Config) validatePrograms() error {
	_, err := c.compilePrograms()
	return err
}

// programNames lists the allow-list for error messages.
func programNames(programs map[string]Program) string {
	if len(programs) == 0 {
		return "none: this station lists no programs"
	}
	names := make([]string, 0, len(programs))
	for n := range programs {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// allowed is what the allow-list grants one command: the argv, the station-held variables, the
// limits' cap and the network mode.
type allowed struct {
	argv    []string
	setEnv  map[string]string
	max     Limits
	network string
}

// allow checks a command's program, arguments and variables against the compiled allow-list,
// naming the payload field that is not allowed.
func allow(programs map[string]Program, max Limits, program string, args []string, env map[string]string) (allowed, error) {
	p, ok := programs[program]
	if !ok {
		return allowed{}, fmt.Errorf("program: %q is %w; this station allows: %s", program, ErrProgramNotAllowed, programNames(programs))
	}
	if err := p.allowArgs(program, args); err != nil {
		return allowed{}, err
	}
	for name := range env {
		if !contains(p.Env, name) {
			return allowed{}, fmt.Errorf("env.%s: %w: program %s may be given only %s", name, ErrProgramNotAllowed, program, listOrNone(p.Env))
		}
	}
	a := allowed{setEnv: p.SetEnv, network: p.Network}
	a.argv = append(append([]string{p.Path}, p.Args...), args...)
	a.max = p.Limits.withDefaults(max)
	if a.network == "" {
		a.network = NetworkNone
	}
	return a, nil
}

func (p Program) allowArgs(program string, args []string) error {
	max := p.MaxArgs
	if max == 0 && len(p.patterns) > 0 {
		max = defaultMaxArgs
	}
	if len(args) > max {
		return fmt.Errorf("args: %w: program %s takes at most %d arguments from a command, got %d", ErrProgramNotAllowed, program, max, len(args))
	}
	for i, arg := range args {
		if !p.argAllowed(arg) {
			return fmt.Errorf("args[%d]: %w: %q matches none of the argument patterns of program %s", i, ErrProgramNotAllowed, arg, program)
		}
	}
	return nil
}

func (p Program) argAllowed(arg string) bool {
	for _, re := range p.patterns {
		if re.MatchString(arg) {
			return true
		}
	}
	return false
}

func listOrNone(list []string) string {
	if len(list) == 0 {
		return "no variables"
	}
	return strings.Join(list, ", ")
}
