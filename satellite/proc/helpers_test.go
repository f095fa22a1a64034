package proc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/internal/clock"
)

// fakeAPIKey stands for the runner's secret: TestMain puts it in the test process's
// environment, and no child may ever see it.
const fakeAPIKey = "talos_sk_test_0123456789abcdef-must-not-leak"

// helperArg switches the test binary into a child helper (allocator, busy loop).
const helperArg = "__talos_proc_helper"

// helperBin is a copy of the test binary that team users can execute.
var helperBin string

func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == helperArg {
		os.Exit(runHelper(os.Args[2:]))
	}
	if err := os.Setenv("TALOS_API_KEY", fakeAPIKey); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	dir, err := copyHelper()
	if err != nil {
		fmt.Fprintln(os.Stderr, "copy helper:", err)
		os.Exit(2)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// copyHelper copies the test binary to a directory every user can read, because the test
// build directory is private to root.
func copyHelper() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp(testDirBase(), "talos-proc-helper-")
	if err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return dir, err
	}
	src, err := os.Open(self)
	if err != nil {
		return dir, err
	}
	defer func() { _ = src.Close() }()
	helperBin = filepath.Join(dir, "helper")
	dst, err := os.OpenFile(helperBin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		return dir, err
	}
	if _, err := io.Copy(dst, src); err != nil {
		return dir, err
	}
	return dir, dst.Close()
}

// runHelper is the child side: "alloc <MiB>" touches every page of MiB mebibytes, 10 MiB at a
// time; "busy <seconds>" spins on one core.
func runHelper(args []string) int {
	switch args[0] {
	case "alloc":
		mib, _ := strconv.Atoi(args[1])
		var keep [][]byte
		for i := 0; i < mib/10; i++ {
			b := make([]byte, 10<<20)
			for j := 0; j < len(b); j += 4096 {
				b[j] = byte(j)
			}
			keep = append(keep, b)
		}
		fmt.Printf("allocated %d MiB in %d chunks\n", mib, len(keep))
		return 0
	case "busy":
		secs, _ := strconv.Atoi(args[1])
		end := time.Now().Add(time.Duration(secs) * time.Second)
		x := 0
		for time.Now().Before(end) {
			x++
		}
		fmt.Println("spun", x > 0)
		return 0
	case "dial":
		c, err := net.DialTimeout("tcp", args[1], 5*time.Second)
		if err != nil {
			fmt.Println("dial: error:", err)
			return 0
		}
		_ = c.Close()
		fmt.Println("dial: connected")
		return 0
	}
	return 3
}

// skipOrFail skips a test that needs a missing component, or fails it in CI.
func skipOrFail(t *testing.T, reason string) {
	t.Helper()
	if os.Getenv("TALOS_REQUIRE_INTEGRATION") == "1" {
		t.Fatalf("TALOS_REQUIRE_INTEGRATION=1 but: %s", reason)
	}
	t.Skip(reason)
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "needs root: cgroups and team users (run the tests as root)")
	}
}

func requireCgroups(t *testing.T, m *Manager) {
	t.Helper()
	if strings.HasPrefix(m.CgroupLimits(), "off") {
		skipOrFail(t, "cgroup limits unavailable: "+m.CgroupLimits())
	}
}

func unique(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// newTeam returns a unique team id, allowed on m as proc.teams would, and removes its user
// when the test ends.
func newTeam(t *testing.T, m *Manager) string {
	team := unique("t")
	m.teams.mu.Lock()
	m.teams.allowed[team] = true
	m.teams.mu.Unlock()
	t.Logf("team %s (user %s)", team, teamUserName(team))
	t.Cleanup(func() { removeTeamUser(t, team) })
	return team
}

// removeTeamUser deletes a test team's user. --force: a zombie the test left to init still
// counts as the user's process. Retried, because parallel tests' useradd holds the
// /etc/passwd lock for a moment.
func removeTeamUser(t *testing.T, team string) {
	if os.Geteuid() != 0 {
		return
	}
	name := teamUserName(team)
	for i := 0; i < 50; i++ {
		if _, err := user.Lookup(name); err != nil {
			return
		}
		_ = exec.Command("userdel", "--force", name).Run()
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("could not remove test user %s", name)
}

// testDirBase is where tests put what decoders must reach: not below /tmp, which an isolated
// decoder gets as its team's private directory. As root that is /var/lib (every directory
// made there is removed by its test); otherwise the default temporary directory.
func testDirBase() string {
	if os.Geteuid() == 0 {
		return "/var/lib"
	}
	return ""
}

// workBase is a fresh base directory team users can traverse.
func workBase(t *testing.T) string {
	dir, err := os.MkdirTemp(testDirBase(), "talos-proc-work-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o711))
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return filepath.Join(dir, "teams")
}

// testConfig is a config with a unique cgroup parent and work dir and a short grace period.
func testConfig(t *testing.T) Config {
	parent := unique("talos-test-")
	t.Logf("cgroup parent %s", parent)
	return Config{
		CgroupParent: parent,
		WorkDir:      workBase(t),
		GracePeriod:  2 * time.Second,
		Output:       OutputConfig{FlushInterval: 50 * time.Millisecond},
	}
}

func newTestManager(t *testing.T, cfg Config, clk clock.Clock) (*Manager, *recorder) {
	t.Helper()
	rec := &recorder{}
	m, err := New(context.Background(), Options{Config: cfg, Log: zaptest.NewLogger(t), Emitter: rec, Clock: clk})
	require.NoError(t, err)
	return m, rec
}

// runManager runs m.Run until the test ends and checks it returned cleanly.
func runManager(t *testing.T, m *Manager) context.CancelFunc {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	return cancel
}

// recorder is an events.Emitter that keeps every event.
type recorder struct {
	mu     sync.Mutex
	events []api.Event
}

func (r *recorder) Emit(ev api.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
}

// find returns the events of a type about a process.
func (r *recorder) find(typ, name string) []api.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []api.Event
	for _, ev := range r.events {
		var d struct {
			Name string `json:"name"`
		}
		_ = json.Unmarshal(ev.Data, &d)
		if ev.Type == typ && (name == "" || d.Name == name) {
			out = append(out, ev)
		}
	}
	return out
}

// waitEvents waits until n events of a type about a process exist.
func (r *recorder) waitEvents(t *testing.T, typ, name string, n int) []api.Event {
	t.Helper()
	require.Eventually(t, func() bool { return len(r.find(typ, name)) >= n }, 60*time.Second, 10*time.Millisecond,
		"waiting for %d %s events of %s", n, typ, name)
	return r.find(typ, name)
}

// output joins the text of every process.output line of a process.
func (r *recorder) output(name string) string {
	var b strings.Builder
	for _, ev := range r.find(api.EventProcessOutput, name) {
		var d outputEvent
		_ = json.Unmarshal(ev.Data, &d)
		for _, l := range d.Lines {
			b.WriteString(l.Text)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func exitData(t *testing.T, ev api.Event) processEvent {
	t.Helper()
	var d processEvent
	require.NoError(t, json.Unmarshal(ev.Data, &d))
	return d
}

func newFakeClock() *clock.Fake {
	return clock.NewFake(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
}

// advance moves a fake clock once the manager's loop waits on it, so a tick is never missed.
func advance(t *testing.T, clk *clock.Fake, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	require.NoError(t, clk.BlockUntil(ctx, 1), "waiting for the manager to wait on the clock")
	clk.Advance(d)
}

// pidGone reports whether pid no longer runs (gone, or a zombie awaiting its reaper).
func pidGone(pid int) bool {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	st, err := parseProcStat(string(raw))
	return err == nil && st.state == "Z"
}

func execCommand(name string, args ...string) error {
	return exec.Command(name, args...).Run()
}
