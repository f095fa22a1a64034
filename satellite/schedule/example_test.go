package schedule_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/orbit"
	"github.com/talos-gs/talos/satellite/events"
	"github.com/talos-gs/talos/satellite/rotator"
	"github.com/talos-gs/talos/satellite/schedule"
	"github.com/talos-gs/talos/satellite/tracker"
)

// ExampleNew wires a station's tracking the way the runner does: a rotator (here simulated;
// rotator.NewRotctld for Hamlib) behind a Monitor, a radio, the tracker, the observer at the
// station's location, and the scheduler on the state directory. The Scheduler is a runner part:
// Run (under the errgroup), Handlers (observation.schedule, observation.cancel, rotator.park)
// and Tracking (heartbeats).
func ExampleNew() {
	stateDir, err := os.MkdirTemp("", "talos-example")
	if err != nil {
		panic(err)
	}
	defer func() { _ = os.RemoveAll(stateDir) }()
	log, reg := zap.NewNop(), prometheus.NewRegistry()
	em := events.EmitterFunc(func(ev api.Event) { fmt.Println("event", ev.Type) })

	sim, err := rotator.NewSimRotator(rotator.SimRotatorConfig{Limits: rotator.Limits{MaxAz: 450, MaxEl: 90}})
	if err != nil {
		panic(err)
	}
	rot, err := rotator.NewMonitor(sim, rotator.MonitorOptions{Name: "sim", Emitter: em, Logger: log})
	if err != nil {
		panic(err)
	}
	radio, err := rotator.NewSimRadio(rotator.SimRadioConfig{})
	if err != nil {
		panic(err)
	}
	tr, err := tracker.New(tracker.Options{Rotator: rot, Downlink: radio, Uplink: radio.Uplink(),
		Logger: log, Emitter: em, Registerer: reg})
	if err != nil {
		panic(err)
	}
	obs, err := orbit.NewObserver(48.15, 11.58, 520)
	if err != nil {
		panic(err)
	}
	sched, err := schedule.New(schedule.Options{StateDir: stateDir, Tracker: tr, Rotator: rot,
		Targets: schedule.OrbitTargets(obs), Logger: log, Emitter: em})
	if err != nil {
		panic(err)
	}
	defer func() { _ = sched.Close() }()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_ = sched.Run(ctx) // in the runner: g.Go(func() error { return sched.Run(ctx) })
	fmt.Println(len(sched.Handlers()), "command types,", sched.Tracking().State)
	// Output: 3 command types, idle
}
