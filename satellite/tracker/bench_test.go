package tracker

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/talos-gs/talos/satellite/internal/clock"
	"github.com/talos-gs/talos/satellite/rotator"
)

// BenchmarkTickJitter measures how late the monotonic schedule starts its ticks on the real
// clock of this machine, with a tick doing the pointing loop's work (look angles, plan mapping,
// a simulated rotator's set and readback). Each iteration is one tick; the period is 10 ms
// rather than 500 ms so a thousand ticks take seconds (timer wake-up jitter does not depend
// on the period). Reported: p50, p99 and max lateness in milliseconds, and overruns.
//
//	go test -run '^$' -bench TickJitter -benchtime 1000x ./satellite/tracker/
func BenchmarkTickJitter(b *testing.B) {
	const period = 10 * time.Millisecond
	sp := passNorth
	aos, los, _ := sp.Window(0)
	track, err := SampleTrack(sp, aos, los, time.Second)
	if err != nil {
		b.Fatal(err)
	}
	plan, err := PlanPass(track, lim450, nil)
	if err != nil {
		b.Fatal(err)
	}
	rot, err := rotator.NewSimRotator(rotator.SimRotatorConfig{Limits: lim450})
	if err != nil {
		b.Fatal(err)
	}
	late := make([]time.Duration, 0, b.N)
	overruns := 0
	ctx := context.Background()
	b.ResetTimer()
	err = schedule{clk: clock.Real{}, period: period}.run(ctx, time.Now(), func(tk tick) bool {
		late = append(late, tk.Late)
		if tk.Skipped > 0 {
			overruns++
		}
		at := aos.Add(time.Duration(len(late)) * time.Second / 4)
		l, err := sp.Look(at)
		if err != nil {
			b.Fatal(err)
		}
		pt := plan.Map(at, l.AzDeg, l.ElDeg)
		_ = rot.SetPosition(ctx, pt.AzDeg, pt.ElDeg)
		_, _, _ = rot.Position(ctx)
		return len(late) >= b.N
	})
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	sort.Slice(late, func(i, j int) bool { return late[i] < late[j] })
	ms := func(q float64) float64 { return float64(late[int(q*float64(len(late)-1))]) / 1e6 }
	b.ReportMetric(ms(0.5), "p50_ms")
	b.ReportMetric(ms(0.99), "p99_ms")
	b.ReportMetric(ms(1), "max_ms")
	b.ReportMetric(float64(overruns), "overruns")
}

// BenchmarkAim measures one tick's pointing decision (aim.go: the aim point half a threshold
// ahead, found on the plan and refined on the target, and the lag at the slew rate) on issue
// 18's ORBCOMM FM19 pass with the SGP4 target. Each iteration is one tick of the pass.
//
//	go test -run '^$' -bench Aim ./satellite/tracker/
func BenchmarkAim(b *testing.B) {
	p, _ := fm19Pass(b)
	sim, err := rotator.NewSimRotator(rotator.SimRotatorConfig{Limits: lim450})
	if err != nil {
		b.Fatal(err)
	}
	tr, err := New(Options{Rotator: sim, Clock: clock.NewFake(p.AOS)})
	if err != nil {
		b.Fatal(err)
	}
	r, err := tr.newRun(context.Background(), p)
	if err != nil {
		b.Fatal(err)
	}
	ticks := int(p.LOS.Sub(p.AOS) / tr.cfg.Period)
	b.ResetTimer()
	for i := range b.N {
		now := p.AOS.Add(time.Duration(i%ticks) * tr.cfg.Period)
		want, lead, move, err := r.aim(now, 2)
		if err != nil {
			b.Fatal(err)
		}
		if move || i%ticks == 0 {
			r.cmd, r.cmdLead = &want, lead
		}
	}
}
