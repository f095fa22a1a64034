package proc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/talos-gs/talos/satellite/internal/clock"
)

// teamRe is the shape of a team id (api.ValidateTeamID); it is also a safe path component.
var teamRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// identity is who a team's processes run as, and where.
type identity struct {
	user string
	uid  uint32
	gid  uint32
	// dedicated: the team has a system user of its own (the runner is root); otherwise the
	// processes run as the runner's user and teams are not isolated from each other.
	dedicated bool
	// dir is the team's working directory, mode 0700, owned by the team's user.
	dir string
}

// teams resolves and creates team users and directories, for the allowed teams only.
type teams struct {
	cfg  Config
	root bool
	mu   sync.Mutex
	// allowed are the station's own team, proc.teams and the teams mapped in proc.users: the
	// team id of a payload is chosen by whoever queued the command, and a station must not make
	// a system user (as root) for any id it is sent.
	allowed map[string]bool
}

// ErrTeamNotAllowed refuses a process of a team this station does not run processes for.
var ErrTeamNotAllowed = errors.New("team not allowed on this station")

func newTeams(cfg Config, root bool) *teams {
	t := &teams{cfg: cfg, root: root, allowed: map[string]bool{}}
	if cfg.OwnTeam != "" {
		t.allowed[cfg.OwnTeam] = true
	}
	for _, team := range cfg.Teams {
		t.allowed[team] = true
	}
	for team := range cfg.Users {
		t.allowed[team] = true
	}
	return t
}

// check refuses a team outside the allow-list, naming the payload field it came from.
func (t *teams) check(team string) error {
	t.mu.Lock()
	ok := t.allowed[team]
	t.mu.Unlock()
	if ok {
		return nil
	}
	own := t.cfg.OwnTeam
	if own == "" {
		own = "(not set)"
	}
	return fmt.Errorf("%w: payload.team_id %q is neither the station's own team %s nor listed in proc.teams; no user or directory was made for it",
		ErrTeamNotAllowed, team, own)
}

// userComment marks a user Talos made for a team; it is checked before the user is used, so
// two team ids that shorten to the same user name can never share a user.
func userComment(team string) string { return "talos team " + team }

// teamUserName is talos-<team> shortened to the 32 characters Linux allows: lower case, dashes
// of a UUID dropped, at most 26 characters of the team id.
func teamUserName(team string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(team) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '_' {
			b.WriteRune(r)
		}
	}
	s := b.String()
	if len(s) > 26 {
		s = s[:26]
	}
	return "talos-" + s
}

// identity returns the team's user and directory, creating them when allowed.
func (t *teams) identity(ctx context.Context, team string) (identity, error) {
	if !teamRe.MatchString(team) {
		return identity{}, fmt.Errorf("team id %q is not valid", team)
	}
	if err := t.check(team); err != nil {
		return identity{}, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	id, err := t.user(ctx, team)
	if err != nil {
		return identity{}, err
	}
	id.dir, err = t.teamDir(team, id)
	return id, err
}

func (t *teams) user(ctx context.Context, team string) (identity, error) {
	if !t.root {
		u, err := user.Current()
		if err != nil {
			return identity{}, fmt.Errorf("current user: %w", err)
		}
		return parseIdentity(u, false)
	}
	if mapped, ok := t.cfg.Users[team]; ok {
		return t.mappedUser(team, mapped)
	}
	name := teamUserName(team)
	u, err := user.Lookup(name)
	var unknown user.UnknownUserError
	if errors.As(err, &unknown) && *t.cfg.CreateUsers {
		u, err = t.createUser(ctx, team, name)
	}
	if err != nil {
		return identity{}, fmt.Errorf("team user %s: %w", name, err)
	}
	if u.Name != userComment(team) {
		return identity{}, fmt.Errorf("user %s exists but is not the user of team %s (comment %q); map the team in proc.users", name, team, u.Name)
	}
	return parseIdentity(u, true)
}

func (t *teams) mappedUser(team, mapped string) (identity, error) {
	if uidStr, gidStr, ok := strings.Cut(mapped, ":"); ok {
		uid, err1 := strconv.ParseUint(uidStr, 10, 32)
		gid, err2 := strconv.ParseUint(gidStr, 10, 32)
		if err := errors.Join(err1, err2); err != nil {
			return identity{}, fmt.Errorf("proc.users.%s: %w", team, err)
		}
		if uid == 0 || gid == 0 {
			return identity{}, fmt.Errorf("proc.users.%s: %q: refusing to run team processes as uid 0 or gid 0 (root)", team, mapped)
		}
		return identity{user: mapped, uid: uint32(uid), gid: uint32(gid), dedicated: true}, nil
	}
	u, err := user.Lookup(mapped)
	if err != nil {
		return identity{}, fmt.Errorf("proc.users.%s: %w", team, err)
	}
	return parseIdentity(u, true)
}

func parseIdentity(u *user.User, dedicated bool) (identity, error) {
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return identity{}, fmt.Errorf("user %s: %w", u.Username, err)
	}
	if dedicated && (uid == 0 || gid == 0) {
		return identity{}, fmt.Errorf("user %s has uid %d, gid %d; refusing to run team processes as uid 0 or gid 0 (root)", u.Username, uid, gid)
	}
	return identity{user: u.Username, uid: uint32(uid), gid: uint32(gid), dedicated: dedicated}, nil
}

// createUser runs useradd --system. useradd takes a lock on /etc/passwd, so a concurrent
// change elsewhere on the host makes it fail for a moment: it is retried a few times.
func (t *teams) createUser(ctx context.Context, team, name string) (*user.User, error) {
	home := filepath.Join(t.cfg.WorkDir, team)
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		// #nosec G204 -- name and home are built from a validated team id.
		cmd := exec.CommandContext(ctx, "useradd", "--system", "--user-group", "--no-create-home",
			"--home-dir", home, "--shell", "/usr/sbin/nologin", "--comment", userComment(team), name)
		out, err := cmd.CombinedOutput()
		if u, lerr := user.Lookup(name); lerr == nil {
			return u, nil
		}
		lastErr = fmt.Errorf("useradd %s: %w: %s", name, err, strings.TrimSpace(string(out)))
		// Real time: another program holds the lock, not something a test clock moves.
		if err := clock.Wait(ctx, clock.Real{}, time.Duration(attempt+1)*50*time.Millisecond); err != nil {
			return nil, errors.Join(lastErr, err)
		}
	}
	return nil, lastErr
}

// teamDir makes <work_dir>/<team> with mode 0700, owned by the team's user. The base directory
// is 0711: users can reach their own directory but cannot list the others.
func (t *teams) teamDir(team string, id identity) (string, error) {
	base := t.cfg.WorkDir
	// #nosec G301 -- 0711: team users must traverse the base to reach their own directory.
	if err := os.MkdirAll(base, 0o711); err != nil {
		return "", fmt.Errorf("make work dir %s: %w", base, err)
	}
	dir := filepath.Join(base, team)
	fi, err := os.Lstat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.Mkdir(dir, 0o700); err != nil {
			return "", fmt.Errorf("make team dir: %w", err)
		}
	case err != nil:
		return "", fmt.Errorf("team dir: %w", err)
	case !fi.IsDir():
		return "", fmt.Errorf("team dir %s is not a directory", dir)
	}
	if t.root {
		if err := os.Lchown(dir, int(id.uid), int(id.gid)); err != nil {
			return "", fmt.Errorf("chown team dir: %w", err)
		}
	}
	if err := os.Chmod(dir, 0o700); err != nil { // #nosec G302 -- a directory: 0700 is owner-only
		return "", fmt.Errorf("chmod team dir: %w", err)
	}
	return dir, nil
}

// workDir makes the relative working directory inside the team directory. Each component is
// opened with O_NOFOLLOW, so a symlink the team planted cannot make the runner create or chown
// anything outside the team directory.
func workDir(id identity, rel string, chown bool) (string, error) {
	if rel == "" {
		return id.dir, nil
	}
	fd, err := unix.Open(id.dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("open team dir: %w", err)
	}
	for _, part := range strings.Split(path.Clean(rel), "/") {
		if part == "." || part == "" {
			continue
		}
		next, err := openSubdir(fd, part, id, chown)
		_ = unix.Close(fd)
		if err != nil {
			return "", fmt.Errorf("working_dir %q: %w", rel, err)
		}
		fd = next
	}
	_ = unix.Close(fd)
	return filepath.Join(id.dir, path.Clean(rel)), nil
}

func openSubdir(dirfd int, name string, id identity, chown bool) (int, error) {
	err := unix.Mkdirat(dirfd, name, 0o700)
	switch {
	case err == nil && chown:
		if err := unix.Fchownat(dirfd, name, int(id.uid), int(id.gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return -1, fmt.Errorf("chown %s: %w", name, err)
		}
	case err != nil && !errors.Is(err, unix.EEXIST):
		return -1, fmt.Errorf("mkdir %s: %w", name, err)
	}
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("%s is not a directory: %w", name, err)
	}
	return fd, nil
}
