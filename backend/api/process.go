package api

import (
	"fmt"
	"path"
	"regexp"
	"strings"
)

// Payloads of the process.* commands (CommandProcessStart, CommandProcessStop,
// CommandProcessRestart, CommandProcessList) and the events a satellite reports about its
// managed processes. See docs/processes.md.

// Event types about managed processes, besides EventProcessStarted, EventProcessExited and
// EventProcessOutput.
const (
	// EventProcessRestarting: a process that failed will be started again after a backoff.
	EventProcessRestarting = "process.restarting"
	// EventProcessFailed: a process hit its crash-loop limit and will not be restarted.
	EventProcessFailed = "process.failed"
	// EventProcessOOMKilled: the kernel killed a process of the group for exceeding its
	// memory limit.
	EventProcessOOMKilled = "process.oom_killed"
	// EventProcessIdleTimeout: a process printed nothing for its idle timeout and was stopped.
	EventProcessIdleTimeout = "process.idle_timeout"
	// EventProcessLimitsOff: cgroup limits are not available; processes run under rlimits only.
	EventProcessLimitsOff = "process.limits_off"
	// EventProcessUnisolated: decoders cannot be isolated on this satellite (not root, or no
	// network and mount namespaces); data.isolation says whether they run anyway
	// ("UNISOLATED: ...", proc.allow_unisolated) or not at all ("off: ...").
	EventProcessUnisolated = "process.unisolated"
)

// Process states reported in ProcessInfo.State.
const (
	ProcessStarting = "starting"
	ProcessRunning  = "running"
	ProcessStopping = "stopping"
	ProcessExited   = "exited"
	// ProcessFailed: the process hit its crash-loop limit or could not be started again.
	ProcessFailed = "failed"
	// ProcessBackoff: the process failed and waits for its restart.
	ProcessBackoff = "backoff"
)

// RestartPolicy says what happens when a managed process exits on its own.
type RestartPolicy string

// Restart policies.
const (
	// RestartNever leaves an exited process exited (the default).
	RestartNever RestartPolicy = "never"
	// RestartOnFailure starts the process again after a non-zero exit, a signal or an OOM kill,
	// with a backoff (1, 5, 15 s by default), until the crash-loop limit is reached.
	RestartOnFailure RestartPolicy = "on-failure"
)

// Bounds of process payload fields. A satellite may enforce lower maxima of its own.
const (
	// MaxProcessArgs is the largest number of elements of ProcessStartPayload.Args.
	MaxProcessArgs = 256
	// MaxProcessArgBytes is the longest command element or environment value, in bytes.
	MaxProcessArgBytes = 4096
	// MaxProcessEnv is the largest number of environment variables a payload may set.
	MaxProcessEnv = 64
	// MaxProcessIdleTimeoutSeconds is the longest idle timeout, in seconds (one day).
	MaxProcessIdleTimeoutSeconds = 86400
	// MaxProcessCPUCores is the largest CPU quota a payload may ask for, in cores.
	MaxProcessCPUCores = 64
	// MinProcessMemoryMB and MaxProcessMemoryMB bound a memory limit, in MiB.
	MinProcessMemoryMB = 4
	MaxProcessMemoryMB = 65536
	// MinProcessPids and MaxProcessPids bound a pids limit (processes and threads).
	MinProcessPids = 4
	MaxProcessPids = 65536
)

// ProcessLimits overrides the satellite's default limits for one process. A zero field keeps
// the default. The satellite refuses values above its configured maxima.
type ProcessLimits struct {
	// CPUCores is the CPU quota in cores (0.1 = a tenth of one core), 0 < x <= 64.
	CPUCores float64 `json:"cpu_cores,omitempty"`
	// MemoryMB is the memory limit in MiB, without swap, 4 to 65536.
	MemoryMB int64 `json:"memory_mb,omitempty"`
	// Pids is the most processes and threads the group may hold at once, 4 to 65536.
	Pids int64 `json:"pids,omitempty"`
}

// ProcessStartPayload is the payload of process.start: run a decoder or helper for a team.
//
//	{"name": "noaa19-apt", "team_id": "7f3c...", "program": "noaa-apt", "args": ["-o", "out.png"],
//	 "env": {"SAMPLE_RATE": "48000"}, "working_dir": "passes/2026-11-23",
//	 "limits": {"cpu_cores": 0.5, "memory_mb": 200}, "restart": "on-failure",
//	 "idle_timeout_seconds": 600}
//
// What may run is the station owner's decision, not the sender's: Program names an entry of the
// station's allow-list (proc.programs in its configuration), which fixes the executable, the
// arguments it always gets, the patterns the extra Args must match, the Env names a command may
// set, the most resources it may get and whether it has a network. See docs/processes.md.
type ProcessStartPayload struct {
	// Name identifies the process on this satellite: 1 to 63 characters of a-z, 0-9, '.', '_'
	// and '-', starting with a letter or digit. A name in use by a live process is refused.
	Name string `json:"name"`
	// TeamID is the team the process runs for; it selects the system user and the working
	// directory. 1 to 64 characters of A-Z, a-z, 0-9, '_' and '-' (a UUID fits).
	TeamID string `json:"team_id"`
	// Program is the name of an entry of the station's allow-list of programs: 1 to 63
	// characters of a-z, 0-9, '.', '_' and '-', starting with a letter or digit. A name the
	// station does not list is refused by the station.
	Program string `json:"program"`
	// Args are the arguments after the program's fixed ones; each must match one of the
	// patterns the station allows for the program (none allowed: Args must be empty). At most
	// MaxProcessArgs, each at most MaxProcessArgBytes bytes, no NUL. Never run through a shell.
	Args []string `json:"args,omitempty"`
	// Command was the raw argv of earlier versions. It is refused: a command names a program of
	// the station's allow-list instead. Kept only so that an old sender gets a clear error
	// naming the field rather than "unknown field".
	Command []string `json:"command,omitempty"`
	// Env holds the environment variables the process gets besides PATH, HOME, USER, LOGNAME,
	// LANG and TMPDIR. Nothing of the satellite's own environment is passed on. Names are
	// refused when they belong to the satellite (TALOS_*, HOME, USER, LOGNAME, PATH, TMPDIR) or
	// steer the dynamic loader or a language runtime (DeniedEnvName); the station further
	// accepts only the names its allow-list gives the program.
	Env map[string]string `json:"env,omitempty"`
	// WorkingDir is relative to the team's directory ("" is the team directory itself); it may
	// not be absolute or contain "..". Missing directories are created.
	WorkingDir string `json:"working_dir,omitempty"`
	// Limits overrides the satellite's default limits; nil keeps them all.
	Limits *ProcessLimits `json:"limits,omitempty"`
	// Restart is the restart policy; "" means never.
	Restart RestartPolicy `json:"restart,omitempty"`
	// IdleTimeoutSeconds stops the process after this many seconds without output, in seconds;
	// nil keeps the satellite's default, 0 disables the idle timeout.
	IdleTimeoutSeconds *int `json:"idle_timeout_seconds,omitempty"`
	// Output gives the process an output directory (TALOS_OUTPUT_DIR) whose files are
	// uploaded as artifacts of this command (source "process", source_id the command id) after
	// the process exits; nil or enabled false gives none. An observation's decoder always gets
	// one, and its Kinds choose what is uploaded. See docs/processes.md "Output files".
	Output *OutputSettings `json:"output,omitempty"`
}

// ProcessStopPayload is the payload of process.stop: SIGTERM to the process group, SIGKILL
// after the satellite's grace period.
type ProcessStopPayload struct {
	// Name is the process to stop (see ProcessStartPayload.Name).
	Name string `json:"name"`
}

// ProcessRestartPayload is the payload of process.restart: stop, then start with the same
// specification and a fresh crash-loop count.
type ProcessRestartPayload struct {
	// Name is the process to restart (see ProcessStartPayload.Name).
	Name string `json:"name"`
}

// ProcessListResult is the result of process.list (process.list takes no payload). process.start,
// process.stop and process.restart return the ProcessInfo of the process they acted on.
type ProcessListResult struct {
	// Processes are the live processes and those finished within the last hour, by name.
	Processes []ProcessInfo `json:"processes"`
	// CgroupLimits is "v1", "v2" or "off: <reason>", as in Heartbeat.CgroupLimits.
	CgroupLimits string `json:"cgroup_limits"`
}

// ProcessPayloadError is a validation error of a process payload; Field names the offending
// JSON field (e.g. "env.PATH", "command[2]").
type ProcessPayloadError struct {
	// Field is the JSON path of the bad field.
	Field string
	// Message says what is wrong with it.
	Message string
}

// Error says which field is wrong and why.
func (e *ProcessPayloadError) Error() string {
	return fmt.Sprintf("invalid %s: %s", e.Field, e.Message)
}

func payloadErr(field, format string, args ...any) error {
	return &ProcessPayloadError{Field: field, Message: fmt.Sprintf(format, args...)}
}

var (
	processNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)
	teamIDRe      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)
	envNameRe     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)
)

// ValidateProcessName checks a process name (see ProcessStartPayload.Name).
func ValidateProcessName(name string) error {
	if !processNameRe.MatchString(name) {
		return payloadErr("name", "%q must be 1 to 63 characters of a-z, 0-9, '.', '_', '-', starting with a letter or digit", name)
	}
	return nil
}

// ValidateTeamID checks a team id as used by process payloads (see ProcessStartPayload.TeamID).
func ValidateTeamID(id string) error {
	if !teamIDRe.MatchString(id) {
		return payloadErr("team_id", "%q must be 1 to 64 characters of A-Z, a-z, 0-9, '_', '-'", id)
	}
	return nil
}

// Validate checks every field of a process.start payload and names the first bad one.
func (p *ProcessStartPayload) Validate() error {
	checks := []func() error{
		func() error { return ValidateProcessName(p.Name) },
		func() error { return ValidateTeamID(p.TeamID) },
		p.validateProgram,
		func() error { return ValidateProcessArgs("args", p.Args, 0) },
		func() error { return ValidateProcessEnv(p.Env) },
		func() error { return ValidateWorkingDir(p.WorkingDir) },
		func() error { return p.Limits.Validate() },
		p.validatePolicy,
		func() error {
			if p.Output == nil {
				return nil
			}
			return p.Output.Validate()
		},
	}
	for _, check := range checks {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

func (p *ProcessStartPayload) validateProgram() error {
	if p.Command != nil {
		return payloadErr("command", "a raw argv is not accepted: name a program of the station's allow-list in program, and its arguments in args")
	}
	return ValidateProgramName(p.Program)
}

// ValidateProgramName checks the name of a program of a station's allow-list (see
// ProcessStartPayload.Program): the same shape as a process name.
func ValidateProgramName(name string) error {
	if !processNameRe.MatchString(name) {
		return payloadErr("program", "%q must be the name of a program of the station's allow-list: 1 to 63 characters of a-z, 0-9, '.', '_', '-', starting with a letter or digit", name)
	}
	return nil
}

// ValidateProcessArgs checks an argument list: at most MaxProcessArgs elements, each at most
// MaxProcessArgBytes bytes without NUL; at least minLen elements. field names the list in
// errors ("args", "command").
func ValidateProcessArgs(field string, args []string, minLen int) error {
	if len(args) < minLen {
		return payloadErr(field, "must have at least %d elements", minLen)
	}
	if len(args) > MaxProcessArgs {
		return payloadErr(field, "has %d elements, at most %d allowed", len(args), MaxProcessArgs)
	}
	for i, arg := range args {
		f := fmt.Sprintf("%s[%d]", field, i)
		if len(arg) > MaxProcessArgBytes {
			return payloadErr(f, "is %d bytes, at most %d allowed", len(arg), MaxProcessArgBytes)
		}
		if strings.ContainsRune(arg, 0) {
			return payloadErr(f, "contains a NUL byte")
		}
	}
	return nil
}

// reservedEnv are set by the satellite for every process and cannot be overridden.
var reservedEnv = map[string]bool{"HOME": true, "USER": true, "LOGNAME": true, "PATH": true, "TMPDIR": true}

// deniedEnv are read by the dynamic loader, the C library or a language runtime when a program
// starts: whoever sets them chooses code the program runs (a preloaded library, a module path, a
// startup script) or files it trusts.
var deniedEnv = map[string]bool{
	"GCONV_PATH": true, "LOCPATH": true, "NLSPATH": true, "HOSTALIASES": true, "RESOLV_HOST_CONF": true,
	"RES_OPTIONS": true, "LOCALDOMAIN": true, "TZDIR": true, "GETCONF_DIR": true, "IFS": true,
	"ENV": true, "BASH_ENV": true, "SHELLOPTS": true, "BASHOPTS": true, "CDPATH": true, "PS4": true,
	"JAVA_TOOL_OPTIONS": true, "_JAVA_OPTIONS": true, "JDK_JAVA_OPTIONS": true, "CLASSPATH": true,
	"GODEBUG": true, "GOTRACEBACK": true, "OPENSSL_CONF": true, "OPENSSL_ENGINES": true,
	"SSL_CERT_FILE": true, "SSL_CERT_DIR": true, "GIO_MODULE_DIR": true, "GST_PLUGIN_PATH": true,
	"GST_PLUGIN_SYSTEM_PATH": true, "QT_PLUGIN_PATH": true, "SOAPY_SDR_PLUGIN_PATH": true,
}

// deniedEnvPrefixes are families of such variables (LD_PRELOAD, LD_LIBRARY_PATH, MALLOC_*
// tunables, PYTHONPATH/PYTHONSTARTUP, PERL5OPT, RUBYOPT, NODE_OPTIONS, LUA_PATH, exported bash
// functions, ...).
var deniedEnvPrefixes = []string{
	"LD_", "DYLD_", "GLIBC_", "MALLOC_", "PYTHON", "PERL", "RUBY", "GEM_", "NODE_", "NPM_",
	"LUA_", "BASH_FUNC_", "TCL", "TK_LIBRARY", "R_", "JULIA_", "GUILE_", "OCAML", "DOTNET_",
	"CORECLR_", "COMPlus_", "GTK_", "GDK_", "GSETTINGS_",
}

// DeniedEnvName says why a process may never be given the variable name, or "" if it may.
// Both the backend and the station check it (case-insensitively for the TALOS_ prefix).
func DeniedEnvName(name string) string {
	upper := strings.ToUpper(name)
	switch {
	case strings.HasPrefix(upper, "TALOS_"):
		return "TALOS_ variables belong to the satellite and are never passed on"
	case reservedEnv[name]:
		return "is set by the satellite"
	case deniedEnv[upper]:
		return "is read by the loader, the C library or a language runtime and is never accepted"
	}
	for _, p := range deniedEnvPrefixes {
		if strings.HasPrefix(upper, strings.ToUpper(p)) {
			return fmt.Sprintf("%s* variables are read by the loader or a language runtime and are never accepted", p)
		}
	}
	return ""
}

// ValidateProcessEnv checks the environment a process.start payload asks for.
func ValidateProcessEnv(env map[string]string) error {
	if len(env) > MaxProcessEnv {
		return payloadErr("env", "has %d variables, at most %d allowed", len(env), MaxProcessEnv)
	}
	for name, value := range env {
		field := "env." + name
		if !envNameRe.MatchString(name) {
			return payloadErr("env", "variable name %q must match %s", name, envNameRe)
		}
		if why := DeniedEnvName(name); why != "" {
			return payloadErr(field, "%s", why)
		}
		switch {
		case len(value) > MaxProcessArgBytes:
			return payloadErr(field, "is %d bytes, at most %d allowed", len(value), MaxProcessArgBytes)
		case strings.ContainsRune(value, 0):
			return payloadErr(field, "contains a NUL byte")
		}
	}
	return nil
}

// ValidateWorkingDir checks a working directory relative to a team's directory.
func ValidateWorkingDir(dir string) error {
	if dir == "" {
		return nil
	}
	switch {
	case len(dir) > 255:
		return payloadErr("working_dir", "is %d bytes, at most 255 allowed", len(dir))
	case strings.ContainsRune(dir, 0):
		return payloadErr("working_dir", "contains a NUL byte")
	case path.IsAbs(dir):
		return payloadErr("working_dir", "%q must be relative to the team directory", dir)
	}
	for _, part := range strings.Split(dir, "/") {
		if part == ".." {
			return payloadErr("working_dir", "%q may not contain ..", dir)
		}
	}
	return nil
}

// Validate checks the limit overrides; a nil *ProcessLimits is valid (all defaults).
func (l *ProcessLimits) Validate() error {
	if l == nil {
		return nil
	}
	switch {
	case l.CPUCores < 0 || l.CPUCores > MaxProcessCPUCores || l.CPUCores != l.CPUCores:
		return payloadErr("limits.cpu_cores", "%v must be between 0 and %d cores", l.CPUCores, MaxProcessCPUCores)
	case l.CPUCores > 0 && l.CPUCores < 0.01:
		return payloadErr("limits.cpu_cores", "%v is below the smallest quota, 0.01 cores", l.CPUCores)
	case l.MemoryMB != 0 && (l.MemoryMB < MinProcessMemoryMB || l.MemoryMB > MaxProcessMemoryMB):
		return payloadErr("limits.memory_mb", "%d must be between %d and %d MiB", l.MemoryMB, MinProcessMemoryMB, MaxProcessMemoryMB)
	case l.Pids != 0 && (l.Pids < MinProcessPids || l.Pids > MaxProcessPids):
		return payloadErr("limits.pids", "%d must be between %d and %d", l.Pids, MinProcessPids, MaxProcessPids)
	}
	return nil
}

func (p *ProcessStartPayload) validatePolicy() error {
	switch p.Restart {
	case "", RestartNever, RestartOnFailure:
	default:
		return payloadErr("restart", "%q must be %q or %q", p.Restart, RestartNever, RestartOnFailure)
	}
	if s := p.IdleTimeoutSeconds; s != nil && (*s < 0 || *s > MaxProcessIdleTimeoutSeconds) {
		return payloadErr("idle_timeout_seconds", "%d must be between 0 and %d seconds", *s, MaxProcessIdleTimeoutSeconds)
	}
	return nil
}

// Validate checks a process.stop payload.
func (p *ProcessStopPayload) Validate() error { return ValidateProcessName(p.Name) }

// Validate checks a process.restart payload.
func (p *ProcessRestartPayload) Validate() error { return ValidateProcessName(p.Name) }
