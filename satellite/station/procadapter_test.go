package station

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/internal/clock"
	"github.com/talos-gs/talos/satellite/internal/stationtest"
	"github.com/talos-gs/talos/satellite/proc"
	"github.com/talos-gs/talos/satellite/rotator"
	"github.com/talos-gs/talos/satellite/schedule"
	"github.com/talos-gs/talos/satellite/tracker"
)

// eventLog keeps every event, for the adapter test.
type eventLog struct {
	mu  sync.Mutex
	evs []api.Event
}

func (l *eventLog) Emit(ev api.Event) { l.mu.Lock(); l.evs = append(l.evs, ev); l.mu.Unlock() }

func (l *eventLog) all() []api.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]api.Event(nil), l.evs...)
}

func (l *eventLog) has(typ string) bool {
	for _, e := range l.all() {
		if e.Type == typ {
			return true
		}
	}
	return false
}

// TestDecoderEventsCarryTheObservation runs an observation with a decoder through the
// scheduler, the adapter and a real process manager (real cgroups, a real child): every
// process.* event of the decoder carries the observation's command id, correlation id and
// observation_id, as the observation's own events do.
func TestDecoderEventsCarryTheObservation(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		if os.Getenv("TALOS_REQUIRE_INTEGRATION") == "1" {
			t.Fatalf("the process manager needs root to run a team's process")
		}
		t.Skip("the process manager needs root to run a team's process")
	}
	evs := &eventLog{}
	const team = "team-decoder-test"
	m, err := proc.New(context.Background(), proc.Options{Config: proc.Config{
		CgroupParent: fmt.Sprintf("talos-cli-procadapter-%d-%s", os.Getpid(), uuid.NewString()[:8]),
		WorkDir:      stationtest.DecoderWorkDir(t), GracePeriod: 2 * time.Second, OwnTeam: team, Programs: stationtest.Programs(),
		Users:  map[string]string{team: "nobody"},
		Output: proc.OutputConfig{FlushInterval: 20 * time.Millisecond},
	}, Log: zaptest.NewLogger(t), Emitter: evs})
	require.NoError(t, err)
	mctx, stopManager := context.WithCancel(context.Background())
	managerDone := make(chan error, 1)
	go func() { managerDone <- m.Run(mctx) }()
	t.Cleanup(func() { stopManager(); assert.NoError(t, <-managerDone) })

	pass := tracker.SyntheticPass{TCA: time.Date(2026, 6, 26, 12, 0, 0, 0, time.UTC), AltitudeKm: 500, HeadingDeg: 90, OffsetDeg: 8}
	aos, los, ok := pass.Window(0)
	require.True(t, ok)
	aos, los = aos.Truncate(time.Second), los.Truncate(time.Second)
	clk := clock.NewFake(aos.Add(-2 * time.Minute))
	rot, err := rotator.NewSimRotator(rotator.SimRotatorConfig{Limits: rotator.Limits{MaxAz: 450, MaxEl: 90},
		AzRateDegPerS: 10, ElRateDegPerS: 10, Clock: clk})
	require.NoError(t, err)
	tr, err := tracker.New(tracker.Options{Rotator: rot, Clock: clk, Emitter: evs})
	require.NoError(t, err)
	s, err := schedule.New(schedule.Options{StateDir: t.TempDir(), Tracker: tr, Rotator: rot,
		Targets:   func(api.ObservationSchedulePayload) (tracker.Target, error) { return pass, nil },
		Processes: procAdapter{m}, Clock: clk, Emitter: evs, PrepareLead: time.Minute})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })

	cmdID, corrID := uuid.NewString(), "corr-"+uuid.NewString()[:8]
	_, err = s.Schedule(schedule.Record{CommandID: cmdID, CorrelationID: corrID, Payload: api.ObservationSchedulePayload{
		ObservationID: "obs-decoder", NoradID: 25544, AOS: aos, LOS: los, Transmitter: api.ObservationTransmitter{DownlinkHz: 145.8e6},
		ElementSet: api.ObservationElementSet{ // not flown: the target is the synthetic pass
			Line1: "1 25544U 98067A   08264.51782528 -.00002182  00000-0 -11606-4 0  2927",
			Line2: "2 25544  51.6416 247.4627 0006703 130.5360 325.0288 15.72125391563537"},
		Process: &api.ProcessStartPayload{Name: "dec-obs", TeamID: team, Program: "decoder-sim"},
	}})
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	// The decoder's output must be seen before the pass is let run (on the fake clock it would
	// otherwise end, and the decoder be stopped, before the shell has written anything).
	deadline := time.Now().Add(30 * time.Second)
	for !evs.has(api.EventObservationCompleted) || !evs.has(api.EventProcessExited) {
		require.True(t, time.Now().Before(deadline), "events so far: %v", evs.all())
		if evs.has(api.EventObservationPrepared) && !evs.has(api.EventProcessOutput) {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		wctx, wcancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		if clk.BlockUntil(wctx, 1) == nil {
			clk.AdvanceToNext()
		}
		wcancel()
	}
	cancel()
	require.NoError(t, <-done)

	seen := map[string]bool{}
	for _, ev := range evs.all() {
		if !strings.HasPrefix(ev.Type, "process.") {
			continue
		}
		seen[ev.Type] = true
		assert.Equal(t, cmdID, ev.CommandID, "%s carries the observation's command id", ev.Type)
		assert.Equal(t, corrID, ev.CorrelationID, "%s carries the observation's correlation id", ev.Type)
		var data struct {
			ObservationID string `json:"observation_id"`
		}
		require.NoError(t, json.Unmarshal(ev.Data, &data))
		assert.Equal(t, "obs-decoder", data.ObservationID, "%s data names the observation", ev.Type)
	}
	for _, typ := range []string{api.EventProcessStarted, api.EventProcessOutput, api.EventProcessExited} {
		assert.True(t, seen[typ], "%s was emitted", typ)
	}
}
