package autosched_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/talos-gs/talos/backend/autosched"
	"github.com/talos-gs/talos/orbit"
)

// benchInput is the goal: 100 stations × 200 prioritized spacecraft × 24 h. The
// spacecraft are the first 200 of the 571-object catalog (LEO, MEO, GEO, HEO alike), split
// between four teams of 50 with priorities 1–10; each station is shared by two to four of
// them with weights 1–3, and has one observation already booked.
func benchInput(b *testing.B) autosched.Input {
	f, err := os.Open("../../orbit/testdata/celestrak-active-2026-177.tle")
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = f.Close() }() // read-only
	sets, err := orbit.ParseTLEs(f)
	if err != nil {
		b.Fatal(err)
	}
	var teams []autosched.Team
	for i := range 4 {
		teams = append(teams, autosched.Team{ID: fmt.Sprintf("team-%d", i), Targets: targets(sets[i*50:(i+1)*50], 10)})
	}
	sts := stations(100, nil)
	busy := map[string][]autosched.Booking{}
	for i := range sts {
		for k := range 2 + i%3 {
			sts[i].Shares = append(sts[i].Shares, autosched.Share{TeamID: teams[(i+k)%4].ID, Weight: 1 + (i+k)%3})
		}
		at := epoch.Add(time.Duration(i%24) * time.Hour)
		busy[sts[i].ID] = []autosched.Booking{{ID: "obs-" + sts[i].ID, TeamID: teams[i%4].ID, AOS: at, LOS: at.Add(12 * time.Minute)}}
	}
	return autosched.Input{From: epoch, To: epoch.Add(24 * time.Hour), Stations: sts, Teams: teams, Busy: busy}
}

// BenchmarkAutoSchedule times Schedule on benchInput, planning included; it reports the
// planning and the choosing separately (plan-s, choose-s) and what was booked.
func BenchmarkAutoSchedule(b *testing.B) {
	in := benchInput(b)
	var res *autosched.Result
	var plan, choose time.Duration
	for b.Loop() {
		var err error
		if res, err = autosched.Schedule(context.Background(), in); err != nil {
			b.Fatal(err)
		}
		plan += res.Stats.Plan
		choose += res.Stats.Choose
	}
	b.ReportMetric(plan.Seconds()/float64(b.N), "plan-s")
	b.ReportMetric(choose.Seconds()/float64(b.N), "choose-s")
	b.ReportMetric(float64(res.Stats.Passes), "passes")
	b.ReportMetric(float64(res.Stats.Candidates), "candidates")
	b.ReportMetric(float64(len(res.Chosen)), "booked")
}
