package schedule

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/internal/clock"
	"github.com/talos-gs/talos/satellite/rotator"
	"github.com/talos-gs/talos/satellite/tracker"
)

// firstMove closes moved at the first SetPosition.
type firstMove struct {
	rotator.Rotator
	once  sync.Once
	moved chan struct{}
}

func (f *firstMove) SetPosition(ctx context.Context, az, el float64) error {
	f.once.Do(func() { close(f.moved) })
	return f.Rotator.SetPosition(ctx, az, el)
}

// BenchmarkResumeAfterRestart measures, on the real clock, the time from constructing a
// scheduler on a state directory holding a running observation (as a SIGKILL mid-pass leaves it)
// to the first rotator command of the resumed pass: opening the store, planning the whole pass
// and the first tick. The requirement is under 2 s.
//
//	go test -run '^$' -bench ResumeAfterRestart ./satellite/schedule/
func BenchmarkResumeAfterRestart(b *testing.B) {
	dir := b.TempDir()
	now := time.Now().UTC()
	sp := tracker.SyntheticPass{TCA: now.Add(time.Minute), AltitudeKm: 500, HeadingDeg: 60, OffsetDeg: -0.5}
	aos, los, _ := sp.Window(0)
	targets := func(api.ObservationSchedulePayload) (tracker.Target, error) { return sp, nil }
	p := api.ObservationSchedulePayload{ObservationID: "resume", NoradID: 25544,
		ElementSet: api.ObservationElementSet{Line1: issLine1, Line2: issLine2}, AOS: aos, LOS: los,
		Transmitter: api.ObservationTransmitter{DownlinkHz: 145.8e6}}
	st, err := OpenStore(dir)
	if err != nil {
		b.Fatal(err)
	}
	if err := st.Put(Record{Payload: p, State: Running}); err != nil {
		b.Fatal(err)
	}
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	var total time.Duration
	for b.Loop() {
		start := time.Now()
		s, rot, err := newRealScheduler(dir, targets)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		<-rot.moved
		total += time.Since(start)
		cancel() // a graceful stop keeps the record for the next iteration
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		_ = s.Close()
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/resume")
}

func newRealScheduler(dir string, targets TargetFunc) (*Scheduler, *firstMove, error) {
	sim, err := rotator.NewSimRotator(rotator.SimRotatorConfig{Limits: rotator.Limits{MaxAz: 450, MaxEl: 90}})
	if err != nil {
		return nil, nil, err
	}
	rot := &firstMove{Rotator: sim, moved: make(chan struct{})}
	tr, err := tracker.New(tracker.Options{Rotator: rot, Clock: clock.Real{}})
	if err != nil {
		return nil, nil, err
	}
	s, err := New(Options{StateDir: dir, Tracker: tr, Rotator: rot, Targets: targets, Emitter: &evLog{}})
	return s, rot, err
}
