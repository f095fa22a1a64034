package proc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Isolation of a decoder beyond its team user and cgroup (docs/processes.md, decision 0072):
//
//   - a network namespace of its own (CLONE_NEWNET) unless its program says network: host. The
//     new namespace has only a loopback interface, down: no internet, and none of the
//     station's loopback services (rotctld, rigctld, the status endpoint), whose 127.0.0.1
//     lives in the host's namespace;
//   - a mount namespace of its own (CLONE_NEWNS, made private so nothing propagates back to
//     the host) in which /tmp, /var/tmp and /dev/shm are the team's own tmp directory, bound
//     by the runner before the program runs: a team sees neither the host's /tmp nor another
//     team's files there.
//
// Both need root (CAP_SYS_ADMIN). A runner that cannot make them runs no decoder unless its
// owner set proc.allow_unisolated, and then says so in every heartbeat.

// ErrUnisolated refuses to start a decoder that cannot be isolated.
var ErrUnisolated = errors.New("decoders cannot be isolated on this runner")

// privateTmpTargets are bound to the team's tmp directory inside the decoder's mount namespace.
var privateTmpTargets = []string{"/tmp", "/var/tmp", "/dev/shm"}

// isolation says whether this runner isolates decoders and, if not, why.
type isolation struct {
	ok     bool
	reason string // why not, when !ok
	allow  bool   // proc.allow_unisolated
	// nsenter is the path of util-linux's nsenter, which binds a decoder's private /tmp.
	nsenter string
}

// probeIsolation finds out once, at start-up, whether namespaces can be made here: a runner
// under a systemd unit with RestrictNamespaces=yes, in a container, or without root cannot.
func probeIsolation(ctx context.Context, cfg Config, root bool) isolation {
	iso := isolation{allow: cfg.AllowUnisolated}
	if !root {
		iso.reason = fmt.Sprintf("not running as root (euid %d): no team users, no network or mount namespaces", os.Geteuid())
		return iso
	}
	nsenter, err := exec.LookPath("nsenter")
	if err != nil {
		iso.reason = "nsenter (util-linux) not found: cannot give decoders a private /tmp"
		return iso
	}
	iso.nsenter = nsenter
	if err := probeNamespaces(ctx, cfg.Shell, nsenter); err != nil {
		iso.reason = fmt.Sprintf("network and mount namespaces unavailable: %v", err)
		return iso
	}
	if err := checkWorkDir(cfg.WorkDir); err != nil {
		iso.reason = err.Error()
		return iso
	}
	iso.ok = true
	return iso
}

// probeNamespaces starts a shell in new network and mount namespaces and binds a directory in
// its mount namespace, exactly as a decoder's start does.
func probeNamespaces(ctx context.Context, shell, nsenter string) error {
	cmd := exec.CommandContext(ctx, shell, "-c", "read -r talos_go")
	cmd.SysProcAttr = isolatedAttr(false)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return fmt.Errorf("probe pipe: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start a process in new namespaces: %w", err)
	}
	bindErr := bindPrivateTmp(ctx, nsenter, cmd.Process.Pid, os.TempDir(), []string{os.TempDir()})
	_, werr := stdin.Write([]byte("go\n"))
	return errors.Join(bindErr, werr, cmd.Wait())
}

// checkWorkDir refuses a work_dir below a directory the decoders get privately: their own
// directory would be hidden from them.
func checkWorkDir(workDir string) error {
	for _, t := range privateTmpTargets {
		if rel, err := filepath.Rel(t, workDir); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			return fmt.Errorf("proc.work_dir: %s is below %s, which every decoder gets as a private directory of its team, hiding its own directory; choose a work_dir elsewhere (the default is <state_dir>-teams)", workDir, t)
		}
	}
	return nil
}

// isolatedAttr is the SysProcAttr of an isolated child: its own process group, killed with
// the runner, in new mount (and, unless hostNet, network) namespaces. Go makes the new mount
// namespace private (MS_REC|MS_PRIVATE on /) in the child, so the runner's binds there never
// propagate to the host.
func isolatedAttr(hostNet bool) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Unshareflags: syscall.CLONE_NEWNS}
	if !hostNet {
		a.Cloneflags = syscall.CLONE_NEWNET
	}
	return a
}

// bindScript binds the team's tmp directory ($1) onto /tmp, then /tmp onto the other targets
// (dir's own path may lie below /tmp, hidden once /tmp is covered), each nosuid,nodev. A
// missing target (a host without /dev/shm) is skipped.
const bindScript = `set -e
src=$1; shift
for t in "$@"; do
	[ -d "$t" ] || continue
	mount --bind "$src" "$t"
	mount -o remount,bind,nosuid,nodev "$t"
	src=$t
done`

// bindPrivateTmp binds dir onto each target inside the mount namespace of pid, which is still
// held by the start shim, so the program finds them in place when it starts. It runs nsenter
// (util-linux) rather than setns in the runner: a Go thread that entered another mount
// namespace must die with its goroutine, and a dying thread fires the Pdeathsig of every
// child it happened to fork, killing decoders.
func bindPrivateTmp(ctx context.Context, nsenter string, pid int, dir string, targets []string) error {
	args := append([]string{"--target", strconv.Itoa(pid), "--mount", "--", "/bin/sh", "-c", bindScript, "talos-bind", dir}, targets...)
	// #nosec G204 -- the arguments are the runner's own: a pid, the team's tmp directory, fixed targets.
	cmd := exec.CommandContext(ctx, nsenter, args...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("bind %s on %s in the mount namespace of pid %d: %w: %s", dir, strings.Join(targets, ", "), pid, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Isolation is "isolated" or why decoders are not, for status and tests:
// "off: <reason>; no decoder runs (proc.allow_unisolated is false)" or
// "UNISOLATED: <reason> (proc.allow_unisolated: true)".
func (m *Manager) Isolation() string { return m.iso.String() }

func (i isolation) String() string {
	switch {
	case i.ok:
		return "isolated"
	case i.allow:
		return "UNISOLATED: " + i.reason + " (proc.allow_unisolated: true)"
	}
	return "off: " + i.reason + "; no decoder runs (set proc.allow_unisolated: true to run them unisolated)"
}

// check refuses a start when decoders cannot be isolated and the owner did not allow that.
func (i isolation) check() error {
	if i.ok || i.allow {
		return nil
	}
	return fmt.Errorf("%w: %s; the station's owner may set proc.allow_unisolated: true to run them anyway", ErrUnisolated, i.reason)
}
