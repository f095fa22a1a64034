package cli

import (
	"bufio"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/catalog"
	"github.com/talos-gs/talos/backend/planner"
	"github.com/talos-gs/talos/orbit"
)

// planFlags are the inputs of `talos-backend plan`.
type planFlags struct {
	tle, stations, from string
	hours, minEl        float64
	asJSON              bool
}

func newPlanCmd(e *env) *cobra.Command {
	var f planFlags
	cmd := &cobra.Command{
		Use:   "plan --tle FILE --stations FILE.json --from RFC3339 --hours H [--min-el D] [--json]",
		Short: "Print every pass of the element sets in a TLE file over a list of stations",
		Long: "Plan the passes of every spacecraft in --tle (2- or 3-line TLEs) over every station in " +
			"--stations, a JSON array of {\"id\", \"lat\", \"lon\", \"alt_m\", \"min_el\"?, \"horizon_mask\"?} (degrees, " +
			"metres above the WGS-84 ellipsoid; horizon_mask a list of {\"az_deg\", \"el_deg\"}), for --hours from --from. Works offline, without a " +
			"database. --json prints one object per pass and line, ordered by spacecraft (the file's " +
			"order), station, then AOS; the table is ordered by AOS.",
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return runPlan(e, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.tle, "tle", "", "file of element sets in TLE form (required)")
	fl.StringVar(&f.stations, "stations", "", "JSON file of stations (required)")
	fl.StringVar(&f.from, "from", "", "window start, RFC 3339 (default: now)")
	fl.Float64Var(&f.hours, "hours", 24, "window length, hours (up to 336)")
	fl.Float64Var(&f.minEl, "min-el", 0, "minimum elevation, degrees")
	fl.BoolVar(&f.asJSON, "json", false, "print JSON lines instead of a table")
	return cmd
}

func runPlan(e *env, f planFlags) error {
	req, err := planRequest(f)
	if err != nil {
		return err
	}
	res, err := planner.Plan(e.ctx, req)
	if err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	for _, se := range res.Errors {
		if _, err := fmt.Fprintf(e.err, "warning: NORAD %d: no passes after %s: %v\n",
			req.Spacecraft[se.Spacecraft].NORAD, se.At.Format(time.RFC3339), se.Err); err != nil {
			return err
		}
	}
	if w := farFromEpoch(req); w != "" {
		if _, err := fmt.Fprintln(e.err, w); err != nil {
			return err
		}
	}
	if f.asJSON {
		return writePlanJSON(e.out, req, res)
	}
	return writePlanTable(e.out, req, res)
}

// maxNamedFar is how many spacecraft farFromEpoch names.
const maxNamedFar = 5

// farFromEpoch warns, in one line, about element sets whose epoch lies further from the window
// than the catalog's stale thresholds (3 days in LEO, 14 days otherwise): their passes can be
// minutes off, or meaningless decades away. It names the furthest few; "" when none is far.
func farFromEpoch(req planner.Request) string {
	type far struct {
		norad int
		days  float64
	}
	var list []far
	for _, sc := range req.Spacecraft {
		es := sc.Elements
		gap := max(absDuration(req.From.Sub(es.Epoch)), absDuration(req.To.Sub(es.Epoch)))
		limit := catalog.DefaultStaleOther
		if es.MeanMotion >= catalog.LEOMeanMotion {
			limit = catalog.DefaultStaleLEO
		}
		if gap > limit {
			list = append(list, far{sc.NORAD, gap.Hours() / 24})
		}
	}
	if len(list) == 0 {
		return ""
	}
	slices.SortFunc(list, func(a, b far) int { return cmp.Compare(b.days, a.days) })
	names := make([]string, 0, maxNamedFar)
	for _, f := range list[:min(len(list), maxNamedFar)] {
		names = append(names, fmt.Sprintf("NORAD %d (%.0f days)", f.norad, f.days))
	}
	more := ""
	if len(list) > maxNamedFar {
		more = fmt.Sprintf(" and %d more", len(list)-maxNamedFar)
	}
	return fmt.Sprintf("warning: %d of %d element sets are further from the window than %.0f days (LEO) or "+
		"%.0f days (otherwise), so their passes may be far off: %s%s", len(list), len(req.Spacecraft),
		catalog.DefaultStaleLEO.Hours()/24, catalog.DefaultStaleOther.Hours()/24, strings.Join(names, ", "), more)
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func planRequest(f planFlags) (planner.Request, error) {
	var req planner.Request
	if f.tle == "" || f.stations == "" {
		return req, fmt.Errorf("%w: --tle and --stations are required", errUsage)
	}
	if math.IsNaN(f.hours) || f.hours <= 0 || f.hours > planner.MaxWindow.Hours() {
		return req, fmt.Errorf("%w: --hours must be more than 0 and at most %g", errUsage, planner.MaxWindow.Hours())
	}
	from := time.Now().UTC()
	if f.from != "" {
		t, err := time.Parse(time.RFC3339Nano, f.from)
		if err != nil {
			return req, fmt.Errorf("%w: --from: %w", errUsage, err)
		}
		from = t
	}
	spacecraft, err := readPlanTLEs(f.tle)
	if err != nil {
		return req, err
	}
	stations, err := readPlanStations(f.stations)
	if err != nil {
		return req, err
	}
	return planner.Request{Spacecraft: spacecraft, Stations: stations, From: from,
		To: from.Add(time.Duration(f.hours * float64(time.Hour))), MinElevationDeg: f.minEl}, nil
}

func readPlanTLEs(path string) ([]planner.Spacecraft, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--tle: %w", err)
	}
	defer func() { _ = fh.Close() }() // read-only: nothing to lose on close
	sets, err := orbit.ParseTLEs(fh)
	if err != nil {
		return nil, fmt.Errorf("--tle %s: %w", path, err)
	}
	if len(sets) == 0 {
		return nil, fmt.Errorf("--tle %s: no element sets", path)
	}
	out := make([]planner.Spacecraft, len(sets))
	for i, es := range sets {
		out[i] = planner.Spacecraft{NORAD: es.NORADID, Name: es.Name, Elements: es}
	}
	return out, nil
}

// planStation is one entry of the --stations file.
type planStation struct {
	ID    string   `json:"id"`
	Lat   *float64 `json:"lat"`
	Lon   *float64 `json:"lon"`
	AltM  float64  `json:"alt_m"`
	MinEl float64  `json:"min_el"`
	// HorizonMask is the station's mask, as the satellites API takes it; absent: flat.
	HorizonMask []api.HorizonPoint `json:"horizon_mask"`
}

// maxPlanStations bounds the --stations file.
const maxPlanStations = 100000

func readPlanStations(path string) ([]planner.Station, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--stations: %w", err)
	}
	defer func() { _ = fh.Close() }() // read-only: nothing to lose on close
	dec := json.NewDecoder(bufio.NewReader(fh))
	dec.DisallowUnknownFields()
	var list []planStation
	if err := dec.Decode(&list); err != nil {
		return nil, fmt.Errorf("--stations %s: %w", path, describeJSONError(err))
	}
	if dec.More() {
		return nil, fmt.Errorf("--stations %s: more than one JSON value", path)
	}
	if len(list) == 0 || len(list) > maxPlanStations {
		return nil, fmt.Errorf("--stations %s: want 1 to %d stations, got %d", path, maxPlanStations, len(list))
	}
	out := make([]planner.Station, len(list))
	seen := make(map[string]bool, len(list))
	for i, s := range list {
		switch {
		case s.ID == "":
			return nil, fmt.Errorf("--stations %s: station %d: id is missing", path, i)
		case seen[s.ID]:
			return nil, fmt.Errorf("--stations %s: station %d: id %q is used twice", path, i, s.ID)
		case s.Lat == nil || s.Lon == nil:
			return nil, fmt.Errorf("--stations %s: station %d (%s): lat and lon are required", path, i, s.ID)
		}
		mask, err := planner.StationMask(s.HorizonMask)
		if err != nil {
			return nil, fmt.Errorf("--stations %s: station %d (%s): horizon_mask: %w", path, i, s.ID, err)
		}
		seen[s.ID] = true
		out[i] = planner.Station{ID: s.ID, LatDeg: *s.Lat, LonDeg: *s.Lon, AltM: s.AltM, MinElevationDeg: s.MinEl, Mask: mask}
	}
	return out, nil
}

// describeJSONError names where a JSON document went wrong.
func describeJSONError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("invalid JSON at byte %d: %w", syn.Offset, err)
	case errors.As(err, &typ):
		return fmt.Errorf("field %s: want %s, got %s", typ.Field, typ.Type, typ.Value)
	case errors.Is(err, io.EOF):
		return errors.New("empty file")
	}
	return err
}

func writePlanJSON(out io.Writer, req planner.Request, res *planner.Result) error {
	bw := bufio.NewWriterSize(out, 1<<16)
	if err := planner.WriteJSONLines(bw, req, res.Passes); err != nil {
		return err
	}
	return bw.Flush()
}

func writePlanTable(out io.Writer, req planner.Request, res *planner.Result) error {
	planner.SortByAOS(res.Passes)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	const layout = "2006-01-02 15:04:05"
	if _, err := fmt.Fprintln(tw, "STATION\tNORAD\tNAME\tAOS (UTC)\tTCA\tLOS\tMAX EL\tAOS AZ\tLOS AZ\t"); err != nil {
		return err
	}
	for _, p := range res.Passes {
		sc := req.Spacecraft[p.Spacecraft]
		note := ""
		switch {
		case p.AlwaysVisible:
			note = "visible throughout"
		case p.InProgressAtStart:
			note = "in progress at start"
		case p.InProgressAtEnd:
			note = "in progress at end"
		}
		if _, err := fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%.1f°\t%.0f°\t%.0f°\t%s\n",
			req.Stations[p.Station].ID, sc.NORAD, sc.Name, p.AOS.Format(layout), p.TCA.Format("15:04:05"),
			p.LOS.Format("15:04:05"), p.MaxElevationDeg, p.AOSAzimuthDeg, p.LOSAzimuthDeg, note); err != nil {
			return err
		}
	}
	return tw.Flush()
}
