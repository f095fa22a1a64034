package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/satellite/command"
	"github.com/talos-gs/talos/satellite/events"
	"github.com/talos-gs/talos/satellite/executor"
	"github.com/talos-gs/talos/satellite/runner"
)

// The event stream of TestEventsExactlyOnce: totalEvents events of type seqEventType, emitted
// at emitRate per second. At that rate the stream lasts about 20 s of runner time.
const (
	totalEvents  = 10_000
	emitRate     = 500
	seqEventType = "e2e.sequence"
	// emitEvery is the emitter's tick; each tick emits emitRate/50 events concurrently, so
	// they share the outbox's group commit as a station's parts would.
	emitEvery = 20 * time.Millisecond
)

// slowCommandType is a command that runs until the runner stops.
const slowCommandType = "e2e.slow"

// ranLog is where the child processes record each start of a slow command.
func ranLog(progress string) string { return filepath.Join(filepath.Dir(progress), "ran.log") }

// Environment of the child process (the test binary re-executed as a runner).
const (
	envChildState    = "E2E_CHILD_STATE_DIR"
	envChildProgress = "E2E_CHILD_PROGRESS"
)

// seqEventID is the id of event seq of satellite: known in advance, so the test can check
// every id, and stable, so an event emitted again after a restart is the same event.
func seqEventID(satelliteID string, seq int) string {
	return uuid.NewSHA1(uuid.MustParse(satelliteID), []byte("seq-"+strconv.Itoa(seq))).String()
}

// seqData is the data of a sequence event.
type seqData struct {
	Seq int `json:"seq"`
}

// sequence is a runner part emitting the sequence events from where the progress file says the
// previous process got to. After each tick's events are emitted (Emit returns once an event
// is fsync'd in the outbox) it appends the count emitted so far to the progress file; a process
// killed between the two emits a few events again after its restart, with the same ids.
type sequence struct {
	em        events.Emitter
	satellite string
	progress  string
}

func (p *sequence) Run(ctx context.Context) error {
	next, err := readProgress(p.progress)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(p.progress, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("open progress file: %w", err)
	}
	defer func() { _ = f.Close() }()
	t := time.NewTicker(emitEvery)
	defer t.Stop()
	perTick := int(emitRate * emitEvery / time.Second)
	for next < totalEvents {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		n := min(perTick, totalEvents-next)
		var wg sync.WaitGroup
		for seq := next; seq < next+n; seq++ {
			wg.Go(func() { p.em.Emit(p.event(seq)) })
		}
		wg.Wait()
		next += n
		if _, err := fmt.Fprintf(f, "%d\n", next); err != nil {
			return fmt.Errorf("write progress file: %w", err)
		}
	}
	<-ctx.Done()
	return nil
}

func (p *sequence) event(seq int) api.Event {
	ev := events.New(time.Now(), seqEventType, api.SeverityInfo, "sequence event "+strconv.Itoa(seq), seqData{Seq: seq})
	ev.ID = seqEventID(p.satellite, seq)
	return ev
}

// readProgress returns how many sequence events earlier processes emitted durably: the largest
// count in the file (a line cut short by SIGKILL only reads smaller).
func readProgress(path string) (int, error) {
	raw, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read progress file: %w", err)
	}
	best := 0
	for _, line := range strings.Fields(string(raw)) {
		if n, err := strconv.Atoi(line); err == nil && n > best {
			best = n
		}
	}
	return best, nil
}

// slowCommand serves e2e.slow: it records that it started (fsync'd) and then runs until the
// runner stops, so a SIGKILL always finds it running.
type slowCommand struct{ ranLog string }

func (p *slowCommand) Handlers() command.Handlers {
	return command.Handlers{slowCommandType: func(ctx context.Context, cmd api.Command) (json.RawMessage, error) {
		f, err := os.OpenFile(p.ranLog, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, err
		}
		_, err = fmt.Fprintln(f, cmd.ID)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, err
		}
		<-ctx.Done()
		return nil, ctx.Err()
	}}
}

// TestChildRunner is the body of the child process of TestEventsExactlyOnce: a real runner on
// the state directory the parent registered, emitting the sequence, until SIGTERM (or SIGKILL).
func TestChildRunner(t *testing.T) {
	stateDir := os.Getenv(envChildState)
	if stateDir == "" {
		t.Skip("helper of TestEventsExactlyOnce; runs only as its child process")
	}
	log, err := zap.NewProduction()
	require.NoError(t, err)
	r, err := runner.NewWithOptions(runnerConfig(stateDir), log, runner.Options{Rand: shortJitter})
	require.NoError(t, err)
	progress := os.Getenv(envChildProgress)
	part := &sequence{em: r.Emitter(), satellite: r.Identity().SatelliteID, progress: progress}
	require.NoError(t, r.Plug(runner.Extras{Loops: []runner.Loop{{Name: "sequence", Run: part.Run}},
		Handlers: (&slowCommand{ranLog: ranLog(progress)}).Handlers()}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	require.NoError(t, r.Run(ctx))
}

// child is a runner process.
type child struct {
	cmd  *exec.Cmd
	log  string
	done chan error
}

func startChild(t *testing.T, stateDir, progress string, n int) *child {
	t.Helper()
	c := &child{log: filepath.Join(filepath.Dir(stateDir), fmt.Sprintf("child-%d.log", n)), done: make(chan error, 1)}
	out, err := os.Create(c.log)
	require.NoError(t, err)
	t.Cleanup(func() { _ = out.Close() })
	c.cmd = exec.Command(os.Args[0], "-test.run=^TestChildRunner$", "-test.count=1", "-test.v")
	c.cmd.Env = append(os.Environ(), envChildState+"="+stateDir, envChildProgress+"="+progress)
	c.cmd.Stdout, c.cmd.Stderr = out, out
	require.NoError(t, c.cmd.Start())
	go func() { c.done <- c.cmd.Wait() }()
	t.Cleanup(func() {
		_ = c.cmd.Process.Kill()
		_ = c.wait(t) // killed: the error only says so
	})
	return c
}

// exited reports whether the process has ended (and how), without waiting.
func (c *child) exited() (bool, error) {
	select {
	case err := <-c.done:
		c.done <- err // keep it for the next reader
		return true, err
	default:
		return false, nil
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (c *child) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, c.cmd.Process.Signal(syscall.SIGKILL))
	_ = c.wait(t)
}

// wait waits (up to a minute) for the process to end and returns how it ended.
func (c *child) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-c.done:
		c.done <- err // keep it for the next reader
		return err
	case <-time.After(time.Minute):
		t.Fatalf("runner process did not exit within a minute; output ends with:\n%s", c.logTail())
		return nil
	}
}

// logTail is the end of the child's output, for failure messages.
func (c *child) logTail() string {
	raw, _ := os.ReadFile(c.log)
	if len(raw) > 4000 {
		raw = raw[len(raw)-4000:]
	}
	return string(raw)
}

// stream is the state of TestEventsExactlyOnce: the backend, the station's files and the
// current runner process.
type stream struct {
	b         *backend
	satellite string
	stateDir  string
	progress  string
	current   *child
	started   int
	begun     time.Time
}

func (s *stream) start(t *testing.T) {
	if s.begun.IsZero() {
		s.begun = time.Now()
	}
	s.started++
	s.current = startChild(t, s.stateDir, s.progress, s.started)
}

// emitted is how many sequence events the runner processes have emitted durably so far.
func (s *stream) emitted(t *testing.T) int {
	n, err := readProgress(s.progress)
	require.NoError(t, err)
	return n
}

// stored counts the sequence events in the backend's database (-1 while it is stopped).
func (s *stream) stored(t *testing.T) int {
	st := s.b.store()
	if st == nil {
		return -1
	}
	var n int64
	err := st.DB().Model(&store.Event{}).Where("satellite_id = ? AND type = ?", s.satellite, seqEventType).Count(&n).Error
	require.NoError(t, err)
	return int(n)
}

// await waits for cond, failing early (with the runner's output) if the runner process ends.
func (s *stream) await(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for !cond() {
		if done, err := s.current.exited(); done {
			t.Fatalf("waiting for %s: runner process %d exited (%v); its output ends with:\n%s", what, s.started, err, s.current.logTail())
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: not after 3 minutes (emitted %d, stored %d); runner output ends with:\n%s",
				what, s.emitted(t), s.stored(t), s.current.logTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("%6.1fs %-58s emitted %5d, stored %5d", time.Since(s.begun).Seconds(), what+":", s.emitted(t), s.stored(t))
}

// TestEventsExactlyOnce streams 10,000 events from a runner process into the real backend
// while the backend is stopped and restarted (same address, same database) and the runner is
// killed with SIGKILL twice, once while the backend is down and once while the backend is
// catching up on the queue, each time restarted on the same state directory. Every event must
// be stored exactly once.
func TestEventsExactlyOnce(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("streams 10,000 events through runner processes for about half a minute")
	}
	forEachDialect(t, func(t *testing.T, d store.Dialect, dbURL string) {
		b := startBackend(t, d, dbURL)
		c := seed(t, b)
		dir, id := register(t, b.URL, c.registrationToken(t), "Stream station")
		s := &stream{b: b, satellite: id, stateDir: dir, progress: filepath.Join(filepath.Dir(dir), "progress.log")}

		s.start(t)
		s.await(t, "events flowing", func() bool { return s.emitted(t) >= 1500 && s.stored(t) >= 500 })
		slow := c.createCommand(t, c.operator, id, map[string]any{"type": slowCommandType, "priority": "high"})
		s.await(t, "a slow command running", func() bool {
			return commandIn(c.history(t, c.operator, id), slow.ID).Status == api.CommandRunning
		})

		b.stop()
		mark := s.emitted(t)
		s.await(t, "backend down, runner queueing", func() bool { return s.emitted(t) >= mark+1500 })

		s.current.kill(t)
		t.Logf("runner process 1 killed (SIGKILL) with the backend down")
		s.start(t)
		mark = s.emitted(t)
		s.await(t, "runner process 2 resumed the stream, backend down", func() bool { return s.emitted(t) >= mark+1000 })

		b.start()
		mark = s.stored(t)
		s.await(t, "backend restarted on "+b.addr+", catching up", func() bool { return s.stored(t) >= mark+200 })

		s.current.kill(t)
		t.Logf("runner process 2 killed (SIGKILL) while catching up: %d events emitted, %d stored",
			s.emitted(t), s.stored(t))
		s.start(t)
		s.await(t, "runner process 3 finished the stream", func() bool {
			return s.emitted(t) == totalEvents && s.stored(t) >= totalEvents
		})

		require.NoError(t, s.current.cmd.Process.Signal(syscall.SIGTERM))
		require.NoError(t, s.current.wait(t), "a runner stopped by SIGTERM exits 0; output:\n%s", s.current.logTail())

		// Real concurrent duplicates, as a retried batch racing its first attempt: the last 300
		// sequence events (stored already) and 100 new ones, one batch sent by six senders at once.
		sendConcurrentDuplicates(t, b.URL, id, dir)
		checkSequence(t, id, c.allEvents(t, id, seqEventType))
		assert.Len(t, c.allEvents(t, id, concurrentEventType), concurrentNew, "the new events of the racing batches, once each")

		// The command the first SIGKILL interrupted was reported failed by the next process,
		// not run again.
		got := commandIn(c.history(t, c.operator, id), slow.ID)
		assert.Equal(t, api.CommandFailed, got.Status)
		assert.Equal(t, executor.InterruptedError, got.Error)
		assert.Len(t, readLines(t, ranLog(s.progress)), 1, "the slow command ran once")
	})
}

const (
	concurrentEventType = "e2e.concurrent"
	concurrentNew       = 100
	concurrentSenders   = 6
)

// sendConcurrentDuplicates posts one batch from concurrentSenders goroutines released together
// by a start barrier, with the station's own key: every event must be accepted by exactly one
// sender and counted as a duplicate by all the others.
func sendConcurrentDuplicates(t *testing.T, baseURL, satelliteID, stateDir string) {
	t.Helper()
	key, err := os.ReadFile(filepath.Join(stateDir, "api_key"))
	require.NoError(t, err)
	var batch api.EventBatch
	for seq := totalEvents - 300; seq < totalEvents; seq++ {
		batch.Events = append(batch.Events, api.Event{ID: seqEventID(satelliteID, seq), Type: seqEventType,
			Severity: api.SeverityInfo, Time: time.Now().UTC(), Data: json.RawMessage(fmt.Sprintf(`{"seq":%d}`, seq))})
	}
	for range concurrentNew {
		batch.Events = append(batch.Events, api.Event{ID: uuid.NewString(), Type: concurrentEventType,
			Severity: api.SeverityInfo, Time: time.Now().UTC()})
	}
	body, err := json.Marshal(batch)
	require.NoError(t, err)
	url := baseURL + "/api/satellites/" + satelliteID + "/events"
	results := make([]api.EventBatchResponse, concurrentSenders)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, bytes.NewReader(body))
			if !assert.NoError(t, err) {
				return
			}
			req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(key)))
			req.Header.Set("Content-Type", "application/json")
			<-start
			resp, err := http.DefaultClient.Do(req)
			if !assert.NoError(t, err) {
				return
			}
			defer func() { _ = resp.Body.Close() }()
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.NoError(t, json.NewDecoder(resp.Body).Decode(&results[i]))
		}()
	}
	close(start)
	wg.Wait()
	accepted, duplicates := 0, 0
	for _, r := range results {
		accepted += r.Accepted
		duplicates += r.Duplicates
		assert.Empty(t, r.Rejected)
	}
	assert.Equal(t, concurrentNew, accepted, "each new event accepted by one sender")
	assert.Equal(t, concurrentSenders*len(batch.Events)-concurrentNew, duplicates, "every other copy a duplicate")
}

// checkSequence asserts that evs are exactly the totalEvents sequence events: each known id
// once, each sequence number once, none missing, none extra.
func checkSequence(t *testing.T, satelliteID string, evs []eventView) {
	t.Helper()
	ids := map[string]int{}
	seqs := make([]int, totalEvents)
	for _, ev := range evs {
		ids[ev.ID]++
		var data seqData
		require.NoError(t, json.Unmarshal(ev.Data, &data), "event %s data %s", ev.ID, ev.Data)
		require.True(t, data.Seq >= 0 && data.Seq < totalEvents, "sequence number %d out of range", data.Seq)
		require.Equal(t, seqEventID(satelliteID, data.Seq), ev.ID, "event %d has the id it was emitted with", data.Seq)
		seqs[data.Seq]++
	}
	assert.Len(t, evs, totalEvents, "events stored")
	assert.Len(t, ids, totalEvents, "distinct event ids")
	var missing, doubled []int
	for seq, n := range seqs {
		switch {
		case n == 0:
			missing = append(missing, seq)
		case n > 1:
			doubled = append(doubled, seq)
		}
	}
	assert.Empty(t, missing, "sequence numbers missing")
	assert.Empty(t, doubled, "sequence numbers stored more than once")
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	return strings.Fields(string(raw))
}
