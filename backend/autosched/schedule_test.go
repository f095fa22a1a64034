package autosched_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/autosched"
)

var update = flag.Bool("update", false, "rewrite testdata/schedule.golden")

// twoTeams is the input of the determinism and overlap tests: four stations shared 2:1 by two
// teams whose lists overlap in ten spacecraft, and one observation already booked.
func twoTeams(t testing.TB) autosched.Input {
	leo := loadLEO(t)
	shares := []autosched.Share{{TeamID: "alpha", Weight: 2}, {TeamID: "beta", Weight: 1}}
	sts := stations(4, shares)
	sts[1].Slew = autosched.SlewRate{AzimuthDegS: 6, ElevationDegS: 3}
	busy := map[string][]autosched.Booking{"station-000": {{ID: "obs-1", TeamID: "beta",
		AOS: epoch.Add(3 * time.Hour), LOS: epoch.Add(3*time.Hour + 10*time.Minute),
		Start: autosched.Pointing{AzimuthDeg: 10, ElevationDeg: 10}, End: autosched.Pointing{AzimuthDeg: 200, ElevationDeg: 10}}}}
	return autosched.Input{From: epoch, To: epoch.Add(24 * time.Hour), Stations: sts, Busy: busy,
		Teams: []autosched.Team{{ID: "alpha", Targets: targets(leo[:30], 5)}, {ID: "beta", Targets: targets(leo[20:50], 3)}}}
}

func render(res *autosched.Result) string {
	var b strings.Builder
	for _, c := range res.Chosen {
		fmt.Fprintf(&b, "book %s %s %d p%d %s %s el=%.2f score=%.4f\n", c.StationID, c.TeamID, c.NORAD, c.Priority,
			c.Pass.AOS.Format(time.RFC3339), c.Pass.LOS.Format(time.RFC3339), c.Pass.MaxElevationDeg, c.Score)
	}
	for _, s := range res.Skipped {
		fmt.Fprintf(&b, "skip %s %s %d %s %s", s.StationID, s.TeamID, s.NORAD, s.Pass.AOS.Format(time.RFC3339), s.Reason)
		if s.Conflict != nil {
			fmt.Fprintf(&b, " by %s%s/%d@%s", s.Conflict.BookingID, s.Conflict.TeamID, s.Conflict.NORAD, s.Conflict.AOS.Format(time.RFC3339))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// TestScheduleIsDeterministic: the same input gives the same bookings, whatever the number of
// workers, and exactly those pinned in testdata/schedule.golden.
func TestScheduleIsDeterministic(t *testing.T) {
	t.Parallel()
	in := twoTeams(t)
	var got []string
	for _, workers := range []int{1, 3, 0} {
		in.Workers = workers
		res, err := autosched.Schedule(context.Background(), in)
		require.NoError(t, err)
		require.NotEmpty(t, res.Chosen)
		got = append(got, render(res))
	}
	assert.Equal(t, got[0], got[1], "1 worker against 3")
	assert.Equal(t, got[0], got[2], "1 worker against GOMAXPROCS")
	const golden = "testdata/schedule.golden"
	if *update {
		require.NoError(t, os.WriteFile(golden, []byte(got[0]), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	assert.Equal(t, string(want), got[0], "the schedule changed: check why, then go test -run TestScheduleIsDeterministic -update")
}

// TestNoOverlapsIncludingSlew: on every station, between any two bookings (existing or chosen)
// the rotator has at least the time to slew from one's last pointing to the other's first.
func TestNoOverlapsIncludingSlew(t *testing.T) {
	t.Parallel()
	in := twoTeams(t)
	res, err := autosched.Schedule(context.Background(), in)
	require.NoError(t, err)
	for _, st := range in.Stations {
		var slots []autosched.Booking
		slots = append(slots, in.Busy[st.ID]...)
		for _, c := range res.Chosen {
			if c.StationID == st.ID {
				slots = append(slots, autosched.Booking{AOS: c.Pass.AOS, LOS: c.Pass.LOS, Start: c.Start, End: c.End})
			}
		}
		require.Greater(t, len(slots), 20, "station %s", st.ID)
		slices.SortFunc(slots, func(a, b autosched.Booking) int { return a.AOS.Compare(b.AOS) })
		for i := 1; i < len(slots); i++ {
			a, b := slots[i-1], slots[i]
			gap := b.AOS.Sub(a.LOS)
			assert.GreaterOrEqual(t, gap, st.Slew.Time(a.End, b.Start), "station %s: %s–%s then %s", st.ID, a.AOS, a.LOS, b.AOS)
		}
	}
}

// TestSlewGapDecides: a pass followed by an existing booking one second after its LOS is booked
// when the booking starts where the pass ends (no slew), and skipped for that booking when the
// antenna must first turn 180° in azimuth.
func TestSlewGapDecides(t *testing.T) {
	t.Parallel()
	leo := loadLEO(t)
	st := stations(1, []autosched.Share{{TeamID: "alpha", Weight: 1}})
	in := autosched.Input{From: epoch, To: epoch.Add(12 * time.Hour), Stations: st,
		Teams: []autosched.Team{{ID: "alpha", Targets: targets(leo[:3], 1)}}}
	res, err := autosched.Schedule(context.Background(), in)
	require.NoError(t, err)
	require.NotEmpty(t, res.Chosen)
	p := res.Chosen[0]
	at := p.Pass.LOS.Add(time.Second)
	for _, tc := range []struct {
		name   string
		start  autosched.Pointing
		booked bool
	}{
		{"same pointing", p.End, true},
		{"half a turn away", autosched.Pointing{AzimuthDeg: normalize(p.End.AzimuthDeg + 180), ElevationDeg: p.End.ElevationDeg}, false},
	} {
		in.Busy = map[string][]autosched.Booking{st[0].ID: {{ID: "obs-next", TeamID: "other", AOS: at,
			LOS: at.Add(5 * time.Minute), Start: tc.start, End: tc.start}}}
		res, err := autosched.Schedule(context.Background(), in)
		require.NoError(t, err)
		assert.Equal(t, tc.booked, containsPass(res.Chosen, p), tc.name)
		if !tc.booked {
			skip := findSkip(res.Skipped, p)
			require.NotNil(t, skip, tc.name)
			assert.Equal(t, autosched.ReasonOverlapsBooking, skip.Reason)
			assert.Equal(t, "obs-next", skip.Conflict.BookingID)
		}
	}
}

func normalize(az float64) float64 {
	for az >= 360 {
		az -= 360
	}
	return az
}

func containsPass(cs []autosched.Choice, p autosched.Choice) bool {
	return slices.ContainsFunc(cs, func(c autosched.Choice) bool {
		return c.NORAD == p.NORAD && c.Pass.AOS.Equal(p.Pass.AOS) && c.TeamID == p.TeamID
	})
}

func findSkip(ss []autosched.Skip, p autosched.Choice) *autosched.Skip {
	for i := range ss {
		if ss[i].NORAD == p.NORAD && ss[i].Pass.AOS.Equal(p.Pass.AOS) && ss[i].TeamID == p.TeamID {
			return &ss[i]
		}
	}
	return nil
}

// fairnessTolerance is how far the booked-time ratio of two teams may stray from their shares'
// ratio over the network: 15 %. The turns hold the ratio to within one pass until the team with
// the larger share has no pass left that fits; the other team then fills the gaps that are left
// rather than leave them idle, which here gives it 2–5 % more of the day. Measured on the eight
// stations below: 2.54–2.91 per station for 3, 2.67 over all (TestShareFairness -v logs them).
// One station alone may stray up to stationTolerance.
const (
	fairnessTolerance = 0.15
	stationTolerance  = 0.20
)

// TestShareFairness: two teams with shares 3:1, each with more passes than it could get (140
// spacecraft: over a day about twice the station's time even for the larger share), get booked
// time in the ratio 3:1, within fairnessTolerance over the network and stationTolerance on each
// station.
func TestShareFairness(t *testing.T) {
	t.Parallel()
	leo := loadLEO(t)
	st := stations(8, []autosched.Share{{TeamID: "big", Weight: 3}, {TeamID: "small", Weight: 1}})
	in := autosched.Input{From: epoch, To: epoch.Add(24 * time.Hour), Stations: st,
		Teams: []autosched.Team{{ID: "big", Targets: targets(leo[:140], 1)}, {ID: "small", Targets: targets(leo[140:280], 1)}}}
	res, err := autosched.Schedule(context.Background(), in)
	require.NoError(t, err)
	for _, s := range st {
		var mine []autosched.Choice
		for _, c := range res.Chosen {
			if c.StationID == s.ID {
				mine = append(mine, c)
			}
		}
		secs := bookedSeconds(mine)
		require.Positive(t, secs["small"], s.ID)
		ratio := secs["big"] / secs["small"]
		t.Logf("%s: big %.0f s, small %.0f s, ratio %.3f", s.ID, secs["big"], secs["small"], ratio)
		assert.InDelta(t, 3, ratio, 3*stationTolerance, s.ID)
	}
	secs := bookedSeconds(res.Chosen)
	t.Logf("network: ratio %.3f", secs["big"]/secs["small"])
	assert.InDelta(t, 3, secs["big"]/secs["small"], 3*fairnessTolerance)
}

// TestPriorityWins: two targets on the same orbit (so every pass collides) differ only in
// priority: every pass goes to the higher one, and the lower one's are skipped for it.
func TestPriorityWins(t *testing.T) {
	t.Parallel()
	leo := loadLEO(t)
	tr := targets(leo[:1], 1)
	low, high := tr[0], tr[0]
	low.Priority, high.NORAD, high.Priority, high.ElementSetID = 2, 99001, 3, "set-twin"
	st := stations(2, []autosched.Share{{TeamID: "alpha", Weight: 1}})
	in := autosched.Input{From: epoch, To: epoch.Add(24 * time.Hour), Stations: st,
		Teams: []autosched.Team{{ID: "alpha", Targets: []autosched.Tracked{low, high}}}}
	res, err := autosched.Schedule(context.Background(), in)
	require.NoError(t, err)
	require.NotEmpty(t, res.Chosen)
	for _, c := range res.Chosen {
		assert.Equal(t, 99001, c.NORAD, "%s at %s", c.StationID, c.Pass.AOS)
	}
	lost := 0
	for _, s := range res.Skipped {
		if s.NORAD == low.NORAD && s.Reason == autosched.ReasonOverlapsChoice {
			assert.Equal(t, 99001, s.Conflict.NORAD)
			lost++
		}
	}
	assert.Equal(t, len(res.Chosen), lost)
}

// TestExistingBookingsRespected: nothing is chosen over what is booked, the skipped passes name
// the booking in their way, and a team's booked time counts towards its share: with 6 h
// already booked for it, a team of equal share gets that much less of the rest.
func TestExistingBookingsRespected(t *testing.T) {
	t.Parallel()
	leo := loadLEO(t)
	st := stations(1, []autosched.Share{{TeamID: "a", Weight: 1}, {TeamID: "b", Weight: 1}})
	var busy []autosched.Booking
	for h := range 6 {
		at := epoch.Add(time.Duration(2*h+1) * time.Hour)
		busy = append(busy, autosched.Booking{ID: fmt.Sprintf("obs-%d", h), TeamID: "a", AOS: at, LOS: at.Add(time.Hour),
			Start: autosched.Pointing{AzimuthDeg: 0, ElevationDeg: 10}, End: autosched.Pointing{AzimuthDeg: 0, ElevationDeg: 10}})
	}
	in := autosched.Input{From: epoch, To: epoch.Add(24 * time.Hour), Stations: st, Busy: map[string][]autosched.Booking{st[0].ID: busy},
		Teams: []autosched.Team{{ID: "a", Targets: targets(leo[:60], 1)}, {ID: "b", Targets: targets(leo[60:120], 1)}}}
	res, err := autosched.Schedule(context.Background(), in)
	require.NoError(t, err)
	for _, c := range res.Chosen {
		for _, b := range busy {
			assert.False(t, c.Pass.AOS.Before(b.LOS) && b.AOS.Before(c.Pass.LOS), "%d at %s overlaps %s", c.NORAD, c.Pass.AOS, b.ID)
		}
	}
	named := 0
	for _, s := range res.Skipped {
		if s.Reason == autosched.ReasonOverlapsBooking {
			assert.True(t, strings.HasPrefix(s.Conflict.BookingID, "obs-"))
			named++
		}
	}
	assert.Positive(t, named)
	secs := bookedSeconds(res.Chosen)
	total := secs["a"] + 6*3600
	t.Logf("a: %.0f s chosen + 21600 s booked, b: %.0f s", secs["a"], secs["b"])
	assert.InDelta(t, 1, total/secs["b"], stationTolerance)
}

func TestScheduleRejectsBadInput(t *testing.T) {
	t.Parallel()
	_, err := autosched.Schedule(context.Background(), autosched.Input{From: epoch, To: epoch})
	require.ErrorIs(t, err, autosched.ErrInvalidInput)
	_, err = autosched.Schedule(context.Background(), autosched.Input{From: epoch, To: epoch.Add(15 * 24 * time.Hour)})
	require.ErrorIs(t, err, autosched.ErrInvalidInput)
	_, err = autosched.Schedule(context.Background(), autosched.Input{From: epoch, To: epoch.Add(time.Hour),
		Teams: []autosched.Team{{ID: "a", Targets: []autosched.Tracked{{Target: autosched.Target{NORAD: 1}}}}}})
	require.ErrorIs(t, err, autosched.ErrInvalidInput)
}

// TestScheduleStopsOnCancel: a cancelled run returns the context's error, not a partial result.
func TestScheduleStopsOnCancel(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := autosched.Schedule(ctx, twoTeams(t))
	require.ErrorIs(t, err, context.Canceled)
	assert.Nil(t, res)
}
