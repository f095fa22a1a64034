package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/talos-gs/talos/orbit"
)

// Limits of look's sampling flags.
const (
	maxLookCount = 1_000_000
	minLookStep  = time.Millisecond
	maxLookStep  = 366 * 24 * time.Hour
)

type lookFlags struct {
	stationFlags
	norad int
	step  string
	count int
}

func newLookCmd(s stdio) *cobra.Command {
	var f lookFlags
	cmd := &cobra.Command{
		Use:   "look",
		Short: "Print look angles of one spacecraft from a station",
		Long: "look prints, every --step from --from, the azimuth and elevation (degrees; azimuth from\n" +
			"north, clockwise; geometric elevation above the WGS-84 horizon), the range (km) and the\n" +
			"range rate (km/s, positive receding) of one spacecraft from a station.",
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return runLook(s, &f) },
	}
	f.register(cmd)
	fl := cmd.Flags()
	fl.IntVar(&f.norad, "norad", 0, "catalog number of the spacecraft (required)")
	fl.StringVar(&f.step, "step", "", "time between samples: a duration such as 500ms or 10s, or seconds (required)")
	fl.IntVar(&f.count, "count", 0, "number of samples, 1..1000000 (required)")
	for _, name := range []string{"norad", "step", "count"} {
		_ = cmd.MarkFlagRequired(name) // only fails for an unknown flag name
	}
	return cmd
}

// lookSample is one line of look's JSON output.
type lookSample struct {
	Time         string  `json:"time"`
	Az           float64 `json:"az"`
	El           float64 `json:"el"`
	RangeKm      float64 `json:"range_km"`
	RangeRateKmS float64 `json:"range_rate_km_s"`
}

// parseStep reads --step: a Go duration ("500ms", "10s") or a plain number of seconds.
func parseStep(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		sec, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || math.IsNaN(sec) || math.IsInf(sec, 0) {
			return 0, fmt.Errorf("--step: %q is neither a duration (10s, 500ms) nor a number of seconds", s)
		}
		if sec > maxLookStep.Seconds() {
			return 0, fmt.Errorf("--step: %q is longer than %s", s, maxLookStep)
		}
		d = time.Duration(sec * float64(time.Second))
	}
	if d < minLookStep {
		return 0, fmt.Errorf("--step: %q is shorter than %s", s, minLookStep)
	}
	if d > maxLookStep {
		return 0, fmt.Errorf("--step: %q is longer than %s", s, maxLookStep)
	}
	return d, nil
}

func (f *lookFlags) validate() (time.Duration, error) {
	if f.norad <= 0 {
		return 0, fmt.Errorf("--norad: %d is not a catalog number", f.norad)
	}
	if f.count < 1 || f.count > maxLookCount {
		return 0, fmt.Errorf("--count: %d is outside [1, %d]", f.count, maxLookCount)
	}
	return parseStep(f.step)
}

func runLook(s stdio, f *lookFlags) error {
	step, err := f.validate()
	if err != nil {
		return err
	}
	o, err := f.observer()
	if err != nil {
		return err
	}
	from, err := f.start()
	if err != nil {
		return err
	}
	sets, err := f.elementSets([]int{f.norad})
	if err != nil {
		return err
	}
	p, err := orbit.NewPropagator(sets[0])
	if err != nil {
		return fmt.Errorf("norad %d: %w", f.norad, err)
	}
	samples := make([]lookSample, 0, f.count)
	for i := range f.count {
		at := from.Add(time.Duration(i) * step)
		l, err := o.Look(p, at)
		if err != nil {
			return fmt.Errorf("norad %d: %w", f.norad, err)
		}
		samples = append(samples, lookSample{
			Time: at.UTC().Format(jsonTime), Az: round3(l.AzimuthDeg), El: round3(l.ElevationDeg),
			RangeKm: round3(l.RangeKm), RangeRateKmS: math.Round(l.RangeRateKmS*1e6) / 1e6,
		})
	}
	return writeLooks(s.out, samples, f.json)
}

func writeLooks(w io.Writer, samples []lookSample, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		for _, l := range samples {
			if err := enc.Encode(l); err != nil {
				return fmt.Errorf("write sample: %w", err)
			}
		}
		return nil
	}
	tw := newTable(w, tabwriter.AlignRight)
	tw.row("TIME (UTC)\tAZ (°)\tEL (°)\tRANGE (km)\tRANGE RATE (km/s)\t\n")
	for _, l := range samples {
		tw.row("%s\t%.3f\t%.3f\t%.3f\t%.6f\t\n", l.Time, l.Az, l.El, l.RangeKm, l.RangeRateKmS)
	}
	if err := tw.flush(); err != nil {
		return fmt.Errorf("write samples: %w", err)
	}
	return nil
}
