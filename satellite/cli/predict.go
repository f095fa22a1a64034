package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/talos-gs/talos/orbit"
)

// maxPredictHours bounds --hours: a year, the longest window orbit.FindPasses searches (and far
// longer than an element set stays useful).
const maxPredictHours = 366 * 24

// jsonTime is the time format of the JSON output: RFC 3339 in UTC with milliseconds.
const jsonTime = "2006-01-02T15:04:05.000Z07:00"

// stationFlags are the flags predict and look share: the element sets and the observer.
type stationFlags struct {
	tle           string
	lat, lon, alt float64
	from          string
	json          bool
}

func (f *stationFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.tle, "tle", "", "element sets, 2- or 3-line TLE file (required)")
	fl.Float64Var(&f.lat, "lat", 0, "station geodetic latitude, degrees north, -90..90 (required)")
	fl.Float64Var(&f.lon, "lon", 0, "station longitude, degrees east, -180..180 (required)")
	fl.Float64Var(&f.alt, "alt-m", 0, "station height above the WGS-84 ellipsoid, metres (required)")
	fl.StringVar(&f.from, "from", "", "start time, RFC 3339, e.g. 2026-06-27T00:00:00Z (required)")
	fl.BoolVar(&f.json, "json", false, "print one JSON object per line instead of a table")
	for _, name := range []string{"tle", "lat", "lon", "alt-m", "from"} {
		_ = cmd.MarkFlagRequired(name) // only fails for an unknown flag name
	}
}

// observer validates the station flags, naming the flag at fault, and builds the observer.
func (f *stationFlags) observer() (*orbit.Observer, error) {
	switch {
	case math.IsNaN(f.lat) || f.lat < -90 || f.lat > 90:
		return nil, fmt.Errorf("--lat: %g is outside [-90, 90] degrees", f.lat)
	case math.IsNaN(f.lon) || f.lon < -180 || f.lon > 180:
		return nil, fmt.Errorf("--lon: %g is outside [-180, 180] degrees", f.lon)
	case math.IsNaN(f.alt) || f.alt < orbit.MinObserverAltitudeM || f.alt > orbit.MaxObserverAltitudeM:
		return nil, fmt.Errorf("--alt-m: %g is outside [%g, %g] metres (height above the ellipsoid, in metres)",
			f.alt, orbit.MinObserverAltitudeM, orbit.MaxObserverAltitudeM)
	}
	o, err := orbit.NewObserver(f.lat, f.lon, f.alt)
	if err != nil {
		return nil, fmt.Errorf("station: %w", err)
	}
	return o, nil
}

func (f *stationFlags) start() (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, f.from)
	if err != nil {
		return time.Time{}, fmt.Errorf("--from: %q is not an RFC 3339 time such as 2026-06-27T00:00:00Z", f.from)
	}
	return t.UTC(), nil
}

// elementSets reads the TLE file and keeps the requested catalog numbers (all if none), the
// newest element set of each. A requested number missing from the file is an error.
func (f *stationFlags) elementSets(norad []int) ([]*orbit.ElementSet, error) {
	file, err := os.Open(f.tle)
	if err != nil {
		return nil, fmt.Errorf("--tle: %w", err)
	}
	defer func() { _ = file.Close() }() // read only: a close error loses nothing
	sets, err := orbit.ParseTLEs(file)
	if err != nil {
		return nil, fmt.Errorf("--tle %s: %w", f.tle, err)
	}
	newest := map[int]*orbit.ElementSet{}
	var order []int
	for _, es := range sets {
		old, ok := newest[es.NORADID]
		if !ok {
			order = append(order, es.NORADID)
		}
		if !ok || es.Epoch.After(old.Epoch) {
			newest[es.NORADID] = es
		}
	}
	if len(norad) == 0 {
		if len(order) == 0 {
			return nil, fmt.Errorf("--tle %s: no element sets in the file", f.tle)
		}
		norad = order
	}
	out := make([]*orbit.ElementSet, 0, len(norad))
	for _, n := range norad {
		es, ok := newest[n]
		if !ok {
			return nil, fmt.Errorf("--norad: %d is not in %s", n, f.tle)
		}
		out = append(out, es)
	}
	return out, nil
}

type predictFlags struct {
	stationFlags
	norad []int
	hours float64
	minEl float64
}

func newPredictCmd(s stdio) *cobra.Command {
	var f predictFlags
	cmd := &cobra.Command{
		Use:   "predict",
		Short: "List the passes of spacecraft over a station",
		Long: "predict lists the passes (AOS, TCA, LOS, maximum elevation, AOS/LOS azimuths) of the\n" +
			"spacecraft in a TLE file over a station, in time order. Times are UTC, angles degrees.\n" +
			"A pass cut by the window is flagged; a spacecraft visible throughout (GEO) is listed\n" +
			"once as always visible. A spacecraft that cannot be propagated (decayed) is reported\n" +
			"on stderr and the exit status is 1.",
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return runPredict(s, &f) },
	}
	f.register(cmd)
	fl := cmd.Flags()
	fl.IntSliceVar(&f.norad, "norad", nil, "catalog numbers to predict, comma-separated (default: every one in the file)")
	fl.Float64Var(&f.hours, "hours", 0, "length of the window, hours, up to 8784 (required)")
	fl.Float64Var(&f.minEl, "min-el", 0, "minimum elevation, degrees, -90..90")
	_ = cmd.MarkFlagRequired("hours")
	return cmd
}

// predictedPass is one line of predict's JSON output.
type predictedPass struct {
	NORAD             int     `json:"norad"`
	Name              string  `json:"name"`
	AOS               string  `json:"aos"`
	TCA               string  `json:"tca"`
	LOS               string  `json:"los"`
	MaxEl             float64 `json:"max_el"`
	AOSAz             float64 `json:"aos_az"`
	LOSAz             float64 `json:"los_az"`
	InProgressAtStart bool    `json:"in_progress_at_start"`
	InProgressAtEnd   bool    `json:"in_progress_at_end"`
	AlwaysVisible     bool    `json:"always_visible"`

	pass orbit.Pass // for sorting and the table
}

func (f *predictFlags) validate() error {
	for _, n := range f.norad {
		if n <= 0 {
			return fmt.Errorf("--norad: %d is not a catalog number", n)
		}
	}
	if math.IsNaN(f.hours) || f.hours <= 0 || f.hours > maxPredictHours {
		return fmt.Errorf("--hours: %g is outside (0, %d]", f.hours, maxPredictHours)
	}
	if math.IsNaN(f.minEl) || f.minEl < -90 || f.minEl >= 90 {
		return fmt.Errorf("--min-el: %g is outside [-90, 90) degrees", f.minEl)
	}
	return nil
}

func runPredict(s stdio, f *predictFlags) error {
	if err := f.validate(); err != nil {
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
	sets, err := f.elementSets(f.norad)
	if err != nil {
		return err
	}
	to := from.Add(time.Duration(f.hours * float64(time.Hour)))
	var all []predictedPass
	failed := 0
	for _, es := range sets {
		passes, err := passesOf(es, o, from, to, f.minEl)
		if err != nil {
			failed++
			// A failed write to stderr cannot be reported anywhere else; the exit status still is.
			_, _ = fmt.Fprintf(s.err, "talos-satellite: predict: norad %d (%s): %v\n", es.NORADID, es.Name, err)
			continue
		}
		all = append(all, passes...)
	}
	slices.SortStableFunc(all, func(a, b predictedPass) int { return a.pass.AOS.Compare(b.pass.AOS) })
	if err := writePasses(s.out, all, f.json); err != nil {
		return err
	}
	if failed > 0 {
		return &exitError{code: 1, err: fmt.Errorf("predict: %d of %d spacecraft could not be predicted", failed, len(sets))}
	}
	return nil
}

func passesOf(es *orbit.ElementSet, o *orbit.Observer, from, to time.Time, minEl float64) ([]predictedPass, error) {
	p, err := orbit.NewPropagator(es)
	if err != nil {
		return nil, err
	}
	passes, err := orbit.FindPasses(p, o, from, to, orbit.PassOptions{MinElevationDeg: minEl})
	if err != nil {
		return nil, err
	}
	out := make([]predictedPass, 0, len(passes))
	for _, q := range passes {
		out = append(out, predictedPass{
			NORAD: es.NORADID, Name: es.Name,
			AOS: q.AOS.UTC().Format(jsonTime), TCA: q.TCA.UTC().Format(jsonTime), LOS: q.LOS.UTC().Format(jsonTime),
			MaxEl: round3(q.MaxElevationDeg), AOSAz: round3(q.AOSAzimuthDeg), LOSAz: round3(q.LOSAzimuthDeg),
			InProgressAtStart: q.InProgressAtStart, InProgressAtEnd: q.InProgressAtEnd, AlwaysVisible: q.AlwaysVisible,
			pass: q,
		})
	}
	return out, nil
}

// round3 rounds to 0.001, the precision worth printing for degrees and km.
func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

func writePasses(w io.Writer, passes []predictedPass, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		for _, p := range passes {
			if err := enc.Encode(p); err != nil {
				return fmt.Errorf("write pass: %w", err)
			}
		}
		return nil
	}
	tw := newTable(w, 0)
	tw.row("NORAD\tNAME\tAOS (UTC)\tAOS AZ\tTCA (UTC)\tMAX EL\tLOS (UTC)\tLOS AZ\tDURATION\tNOTE\n")
	for _, p := range passes {
		q := p.pass
		tw.row("%d\t%s\t%s\t%.1f\t%s\t%.1f\t%s\t%.1f\t%s\t%s\n", p.NORAD, p.Name,
			tableTime(q.AOS), q.AOSAzimuthDeg, tableTime(q.TCA), q.MaxElevationDeg, tableTime(q.LOS),
			q.LOSAzimuthDeg, q.LOS.Sub(q.AOS).Round(time.Second), passNote(q))
	}
	if err := tw.flush(); err != nil {
		return fmt.Errorf("write passes: %w", err)
	}
	return nil
}

// table is a tabwriter that keeps the first write error for flush to return.
type table struct {
	tw  *tabwriter.Writer
	err error
}

func newTable(w io.Writer, flags uint) *table {
	return &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', flags)}
}

func (t *table) row(format string, a ...any) {
	if t.err == nil {
		_, t.err = fmt.Fprintf(t.tw, format, a...)
	}
}

func (t *table) flush() error {
	if t.err != nil {
		return t.err
	}
	return t.tw.Flush()
}

// tableTime formats a time for the table: UTC to the second.
func tableTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") }

func passNote(p orbit.Pass) string {
	switch {
	case p.AlwaysVisible:
		return "always visible"
	case p.InProgressAtStart:
		return "in progress at start"
	case p.InProgressAtEnd:
		return "in progress at end"
	}
	return ""
}
