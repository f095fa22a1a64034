package runner

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/command"
	"github.com/talos-gs/talos/satellite/config"
	"github.com/talos-gs/talos/satellite/events"
	"github.com/talos-gs/talos/satellite/executor"
)

// settle moves the fake clock by step once the runner's loops are parked on their timers
// (poller, heartbeat, outbox, housekeeping), or after a short real wait if one is busy.
func (e *env) settle(step time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_ = e.clk.BlockUntil(ctx, 4)
	e.clk.Advance(step)
}

func storedIDs(evs []api.Event) map[string]int {
	out := map[string]int{}
	for _, ev := range evs {
		out[ev.ID]++
	}
	return out
}

func TestBackendDownForAnHour(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// Short polls only: a long-poll is held in real time by the fake backend, which would
	// leave the simulated hour waiting on the wall clock.
	e.cfg.Poll.LongPoll = false
	s := e.start(t)
	eventually(t, func() bool { return len(e.fb.Heartbeats(e.id)) >= 1 }, "first heartbeat")

	e.fb.SetDown(true)
	pollsBefore := e.fb.Requests("poll")
	var emitted []string
	outage := e.clk.Now().Add(time.Hour)
	for i := 0; e.clk.Now().Before(outage); i++ {
		for range 2 {
			ev := events.New(e.clk.Now(), "test.outage", api.SeverityWarning, strconv.Itoa(i), nil)
			s.r.Emitter().Emit(ev)
			emitted = append(emitted, ev.ID)
		}
		e.settle(5 * time.Second)
	}
	select {
	case err := <-s.done:
		t.Fatalf("runner stopped during the outage: %v", err)
	default:
	}
	polls := e.fb.Requests("poll") - pollsBefore
	t.Logf("polls during a simulated one-hour outage: %d; events queued: %d", polls, s.r.outbox.Depth())
	assert.LessOrEqual(t, polls, 40, "backoff (up to 5 min) keeps polling sparse; without it there would be 720")
	assert.GreaterOrEqual(t, polls, 10, "still trying")
	assert.GreaterOrEqual(t, s.r.outbox.Depth(), len(emitted))
	assert.NotEqual(t, "connected", s.r.health.Snapshot().State)

	e.fb.SetDown(false)
	recovered := func() bool {
		return len(storedIDs(e.fb.Events(e.id))) >= len(emitted)+1 && s.r.poller.Stats().Failures == 0
	}
	for i := 0; i < 200 && !recovered(); i++ {
		e.settle(5 * time.Second)
	}
	got := storedIDs(e.fb.Events(e.id))
	for _, id := range emitted {
		assert.Equal(t, 1, got[id], "event %s", id)
	}
	assert.Zero(t, e.fb.Duplicates(e.id), "nothing was sent twice")
	assert.Zero(t, s.r.outbox.Depth())
	assert.Zero(t, s.r.poller.Stats().Failures, "polling recovered")
}

func TestRestartOnSameStateDirResumesQueueAndRunsCommandsOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.cfg.Outbox.FlushTimeout = time.Second
	e.cfg.Poll.LongPoll = false
	part := newCounter()
	s := e.start(t, part.extras())
	cid := e.fb.Queue(e.id, "test.count", api.PriorityHigh, nil)
	for i := 0; i < 100 && e.fb.Command(e.id, cid).Status != api.CommandSucceeded; i++ {
		e.settle(5 * time.Second) // short polls at the backend's interval
	}
	require.Equal(t, api.CommandSucceeded, e.fb.Command(e.id, cid).Status)

	// The backend goes away; events pile up; the runner stops without delivering them.
	e.fb.SetDown(true)
	var emitted []string
	for i := range 300 {
		ev := events.New(e.clk.Now(), "test.restart", api.SeverityInfo, strconv.Itoa(i), nil)
		s.r.Emitter().Emit(ev)
		emitted = append(emitted, ev.ID)
	}
	require.NoError(t, s.stop(t))

	// The backend is back and replays the command (it lost the outcome, or its lease lapsed).
	e.fb.SetDown(false)
	e.fb.Redeliver(e.id, cid)
	part2 := newCounter()
	s = e.start(t, part2.extras())
	done := func() bool {
		return len(storedIDs(e.fb.Events(e.id))) >= len(emitted) && len(e.fb.Command(e.id, cid).Updates) > 3
	}
	for i := 0; i < 200 && !done(); i++ {
		e.settle(3 * time.Second)
	}
	got := storedIDs(e.fb.Events(e.id))
	for _, id := range emitted {
		require.Equal(t, 1, got[id], "event %s", id)
	}
	assert.Equal(t, api.CommandSucceeded, e.fb.Command(e.id, cid).Status, "outcome re-reported after redelivery")
	assert.Zero(t, part.count(cid)+part2.count(cid)-1, "the command ran exactly once across the restart")
	require.NoError(t, s.stop(t))
}

// --- a real process, killed with SIGKILL ---------------------------------------------------

const childEnv = "TALOS_RUNNER_TEST_CHILD"

// slowPart serves "test.slow": it records that it ran, then blocks until cancelled. It also
// emits events as fast as the outbox takes them, logging each id once Emit has returned (so
// the id is durable).
type slowPart struct {
	dir  string
	emit bool
	em   events.Emitter
}

func (p *slowPart) Handlers() command.Handlers {
	return command.Handlers{"test.slow": func(ctx context.Context, cmd api.Command) (json.RawMessage, error) {
		if err := appendLine(filepath.Join(p.dir, "ran.log"), cmd.ID); err != nil {
			return nil, err
		}
		<-ctx.Done()
		return nil, ctx.Err()
	}}
}

func (p *slowPart) Run(ctx context.Context) error {
	if !p.emit {
		<-ctx.Done()
		return nil
	}
	f, err := os.OpenFile(filepath.Join(p.dir, "emitted.log"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				ev := events.New(time.Now(), "test.kill", api.SeverityInfo, fmt.Sprintf("%d-%d", g, i), nil)
				p.em.Emit(ev)
				mu.Lock()
				_, _ = f.WriteString(ev.ID + "\n")
				_ = f.Sync()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return nil
}

func appendLine(path, line string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	if _, err := f.WriteString(line + "\n"); err != nil {
		return err
	}
	return f.Sync()
}

// TestChildRunner is the body of the subprocess; it does nothing in a normal test run.
func TestChildRunner(t *testing.T) {
	stateDir := os.Getenv(childEnv)
	if stateDir == "" {
		t.Skip("helper for TestSIGKILLAndRestart, runs only as its subprocess")
	}
	cfg := config.Default()
	cfg.StateDir = stateDir
	cfg.Status.Listen = "127.0.0.1:0"
	cfg.Executor.DrainTimeout = time.Second
	part := &slowPart{dir: filepath.Dir(stateDir), emit: os.Getenv(childEnv+"_EMIT") == "1"}
	r, err := New(cfg, zap.NewNop())
	require.NoError(t, err)
	part.em = r.Emitter()
	require.NoError(t, r.Plug(Extras{Loops: []Loop{{Name: "slow part", Run: part.Run}}, Handlers: part.Handlers()}))
	ctx, stop := signalContext()
	defer stop()
	require.NoError(t, r.Run(ctx))
}

func signalContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	sig := make(chan os.Signal, 1)
	signalNotify(sig)
	go func() {
		<-sig
		cancel()
	}()
	return ctx, cancel
}

func startChild(t *testing.T, stateDir string, emit bool) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildRunner$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+stateDir, childEnv+"_EMIT="+map[bool]string{true: "1", false: "0"}[emit])
	out, err := os.Create(filepath.Join(filepath.Dir(stateDir), fmt.Sprintf("child-%d.out", time.Now().UnixNano())))
	require.NoError(t, err)
	t.Cleanup(func() { _ = out.Close() })
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	return cmd
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	defer func() { _ = f.Close() }()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

func TestSIGKILLAndRestart(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts subprocesses")
	}
	e := newEnv(t)
	base := filepath.Dir(e.cfg.StateDir)

	first := startChild(t, e.cfg.StateDir, true)
	cid := e.fb.Queue(e.id, "test.slow", api.PriorityImmediate, nil)
	eventually(t, func() bool { return e.fb.Command(e.id, cid).Status == api.CommandRunning }, "slow command running")
	eventually(t, func() bool { return len(readLines(t, filepath.Join(base, "emitted.log"))) >= 500 }, "events emitted")
	require.NoError(t, first.Process.Signal(syscall.SIGKILL))
	_, _ = first.Process.Wait()
	emitted := readLines(t, filepath.Join(base, "emitted.log"))
	t.Logf("events durably emitted before SIGKILL: %d; delivered by then: %d", len(emitted), len(e.fb.Events(e.id)))

	e.fb.Redeliver(e.id, cid) // as after a lease expiry
	second := startChild(t, e.cfg.StateDir, false)
	eventually(t, func() bool {
		got := storedIDs(e.fb.Events(e.id))
		for _, id := range emitted {
			if got[id] != 1 {
				return false
			}
		}
		return true
	}, "every durably emitted event delivered once")
	st := e.fb.Command(e.id, cid)
	eventually(t, func() bool { st = e.fb.Command(e.id, cid); return st.Status == api.CommandFailed }, "interrupted command reported")
	assert.Equal(t, executor.InterruptedError, st.Updates[len(st.Updates)-1].Error)
	assert.Len(t, readLines(t, filepath.Join(base, "ran.log")), 1, "the command ran once, not again after the restart")
	t.Logf("duplicates the backend ignored (sent before the kill, answer lost): %d", e.fb.Duplicates(e.id))

	require.NoError(t, second.Process.Signal(syscall.SIGTERM))
	require.NoError(t, second.Wait(), "graceful stop exits 0")
}
