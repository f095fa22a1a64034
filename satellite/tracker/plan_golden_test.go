package tracker

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/satellite/rotator"
)

var updateGolden = flag.Bool("update", false, "rewrite the planner's golden files in testdata/plans")

// TestPlanGolden pins whole plans, sampled every 30 s and at every mode change, in
// testdata/plans: a change of the
// planner's choices shows up as a readable diff. Regenerate with
// `go test ./satellite/tracker/ -run TestPlanGolden -update` and review the diff.
func TestPlanGolden(t *testing.T) {
	t.Parallel()
	cases := []struct {
		file string
		pass SyntheticPass
		lim  rotator.Limits
	}{
		{"north-0-360.golden", passNorth, lim360},
		{"north-0-450.golden", passNorth, lim450},
		{"north-flip.golden", passNorth, limFlip},
		{"south-180.golden", passSouth, lim180},
		{"overhead-north-0-450.golden", passOverheadNorth, lim450},
		{"overhead-north-flip.golden", passOverheadNorth, limFlip},
		{"zenith-0-450.golden", passZenith, lim450},
		{"zenith-flip.golden", passZenith, limFlip},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			track := trackOf(t, tc.pass)
			plan, err := PlanPass(track, tc.lim, nil)
			require.NoError(t, err)
			got := renderPlan(plan, track)
			path := filepath.Join("testdata", "plans", tc.file)
			if *updateGolden {
				require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
				require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run with -update to create it")
			require.Equal(t, string(want), got)
		})
	}
}

func renderPlan(p Plan, track []SkyPoint) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# limits az %g..%g el %g..%g; stop crossings %d; flipped points %d\n",
		p.Limits.MinAz, p.Limits.MaxAz, p.Limits.MinEl, p.Limits.MaxEl, p.StopCrossings, p.Flips)
	b.WriteString("# t_s   sky_az  sky_el   rot_az  rot_el  flip   plane  err\n")
	t0 := track[0].T
	for i, pt := range p.Points {
		modeChange := i > 0 && (pt.Flip != p.Points[i-1].Flip || pt.Plane != p.Points[i-1].Plane)
		if i%30 != 0 && i != len(p.Points)-1 && !modeChange {
			continue
		}
		fmt.Fprintf(&b, "%5.0f  %7.2f  %6.2f  %7.2f  %6.2f  %-5v  %-5v  %.2f\n", pt.T.Sub(t0).Seconds(),
			track[i].AzDeg, track[i].ElDeg, pt.AzDeg, pt.ElDeg, pt.Flip, pt.Plane, pt.ErrorDeg)
	}
	return b.String()
}
