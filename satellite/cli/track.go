package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"regexp"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/orbit"
	"github.com/talos-gs/talos/satellite/internal/clock"
	"github.com/talos-gs/talos/satellite/rotator"
	"github.com/talos-gs/talos/satellite/tracker"
)

// trackSearchWindow is how far ahead track looks for the next pass.
const trackSearchWindow = 48 * time.Hour

type trackFlags struct {
	stationFlags
	norad      int
	rotctld    string
	rigctld    string
	downlinkHz float64
	uplinkHz   float64
	txVFO      string
	minEl      float64
	once       bool
	nextPass   bool
	speed      float64
	afterLOS   string
	verbose    bool
	slew       rotator.SlewRate
}

func newTrackCmd(s stdio) *cobra.Command {
	var f trackFlags
	cmd := &cobra.Command{
		Use:   "track",
		Short: "Track a spacecraft with the station's rotator and radio",
		Long: "track points the rotator at a spacecraft and keeps the radio on its Doppler-corrected\n" +
			"downlink (and, with --uplink-hz, its transmitter on the Doppler-corrected uplink through\n" +
			"split operation), pass after pass, until interrupted. Without --rotctld/--rigctld it drives\n" +
			"simulated devices. --once points once at the spacecraft's current position and exits;\n" +
			"--next-pass tracks the next pass and exits. Each pass's summary is printed as one JSON\n" +
			"line on stdout; progress goes to stderr. --from and --speed run a simulated clock (only\n" +
			"with simulated devices), to dry-run a pass in seconds.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runTrack(ctx, s, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.tle, "tle", "", "element sets, 2- or 3-line TLE file (required)")
	fl.IntVar(&f.norad, "norad", 0, "catalog number of the spacecraft to track (required)")
	fl.Float64Var(&f.lat, "lat", 0, "station geodetic latitude, degrees north, -90..90 (required)")
	fl.Float64Var(&f.lon, "lon", 0, "station longitude, degrees east, -180..180 (required)")
	fl.Float64Var(&f.alt, "alt-m", 0, "station height above the WGS-84 ellipsoid, metres (required)")
	fl.StringVar(&f.rotctld, "rotctld", "", "rotctld address host:port (default: a simulated rotator)")
	fl.StringVar(&f.rigctld, "rigctld", "", "rigctld address host:port (default: a simulated radio)")
	fl.Float64Var(&f.downlinkHz, "downlink-hz", 0, "spacecraft downlink frequency, Hz; 0 leaves the radio alone")
	fl.Float64Var(&f.uplinkHz, "uplink-hz", 0, "spacecraft uplink frequency, Hz, tuned on the radio's split transmit VFO; 0 leaves it alone")
	fl.StringVar(&f.txVFO, "tx-vfo", "VFOB", "transmit VFO for split operation with --uplink-hz (rigctld's name, e.g. VFOB, Sub)")
	fl.Float64Var(&f.minEl, "min-el", 0, "minimum elevation of a pass, degrees, 0..90")
	fl.BoolVar(&f.once, "once", false, "point once at the current position and exit")
	fl.BoolVar(&f.nextPass, "next-pass", false, "track the next pass and exit")
	fl.StringVar(&f.from, "from", "", "simulated devices only: start the clock at this RFC 3339 time")
	fl.Float64Var(&f.speed, "speed", 1, "simulated devices only: run the clock this many times faster, 1..1000")
	fl.StringVar(&f.afterLOS, "after-los", api.AfterLOSPark, "after each pass: park, or stay")
	fl.BoolVar(&f.verbose, "verbose", false, "log device errors and overruns to stderr")
	fl.Float64Var(&f.slew.AzDegS, "az-slew-rate", rotator.DefaultSlewRate.AzDegS,
		"the rotator's azimuth slew rate, °/s (rotator calibrate measures it): the tracker aims with it; the simulated rotator turns at it")
	fl.Float64Var(&f.slew.ElDegS, "el-slew-rate", rotator.DefaultSlewRate.ElDegS, "the rotator's elevation slew rate, °/s, likewise")
	for _, name := range []string{"tle", "norad", "lat", "lon", "alt-m"} {
		_ = cmd.MarkFlagRequired(name) // only fails for an unknown flag name
	}
	cmd.MarkFlagsMutuallyExclusive("once", "next-pass")
	return cmd
}

func (f *trackFlags) validate() error {
	simulated := f.rotctld == "" && f.rigctld == ""
	switch {
	case f.norad <= 0:
		return fmt.Errorf("--norad: %d is not a catalog number", f.norad)
	case math.IsNaN(f.downlinkHz) || f.downlinkHz < 0 || f.downlinkHz > 300e9:
		return fmt.Errorf("--downlink-hz: %g is outside [0, 300e9] Hz", f.downlinkHz)
	case math.IsNaN(f.uplinkHz) || f.uplinkHz < 0 || (f.uplinkHz > 0 && f.uplinkHz < 1e3) || f.uplinkHz > 300e9:
		return fmt.Errorf("--uplink-hz: %g must be 0 (off) or 1e3 to 300e9 Hz", f.uplinkHz)
	case !vfoName.MatchString(f.txVFO):
		return fmt.Errorf("--tx-vfo: %q must be a VFO name of 1 to 16 letters and digits", f.txVFO)
	case math.IsNaN(f.minEl) || f.minEl < 0 || f.minEl >= 90:
		return fmt.Errorf("--min-el: %g is outside [0, 90) degrees", f.minEl)
	case math.IsNaN(f.speed) || f.speed < 1 || f.speed > 1000:
		return fmt.Errorf("--speed: %g is outside [1, 1000]", f.speed)
	case !simulated && (f.speed != 1 || f.from != ""):
		return errors.New("--from and --speed work only with simulated devices (no --rotctld or --rigctld)")
	case f.afterLOS != api.AfterLOSPark && f.afterLOS != api.AfterLOSStay:
		return fmt.Errorf("--after-los: %q must be %q or %q", f.afterLOS, api.AfterLOSPark, api.AfterLOSStay)
	}
	if err := f.slew.Validate(); err != nil {
		return fmt.Errorf("--az-slew-rate, --el-slew-rate: %w", err)
	}
	return nil
}

func (f *trackFlags) clock() (clock.Clock, error) {
	if f.from == "" && f.speed == 1 {
		return clock.Real{}, nil
	}
	start := time.Now()
	if f.from != "" {
		t, err := f.start()
		if err != nil {
			return nil, err
		}
		start = t
	}
	return tracker.NewScaledClock(start, f.speed), nil
}

// vfoName is what --tx-vfo accepts: Hamlib's VFO names (VFOA, VFOB, Main, Sub, ...).
var vfoName = regexp.MustCompile(`^[A-Za-z0-9]{1,16}$`)

// trackDevices are the rotator and radio track drives, and what to close after. uplink is nil
// without --uplink-hz.
type trackDevices struct {
	rot    rotator.Rotator
	radio  rotator.Radio
	uplink rotator.Radio
	closer []io.Closer
}

// splitRadio is a radio with a transmit side: rotator.Rigctld and rotator.SimRadio.
type splitRadio interface {
	rotator.Radio
	SetSplit(ctx context.Context, on bool, txVFO string) error
	Uplink() rotator.Radio
}

// enableUplink turns split on and keeps the transmit side, when --uplink-hz asks for it.
func (f *trackFlags) enableUplink(ctx context.Context, d *trackDevices, r splitRadio) error {
	if f.uplinkHz == 0 {
		return nil
	}
	if err := r.SetSplit(ctx, true, f.txVFO); err != nil {
		return fmt.Errorf("--uplink-hz: enable split on %s: %w", f.txVFO, err)
	}
	d.uplink = r.Uplink()
	return nil
}

func (d *trackDevices) Close() {
	for _, c := range d.closer {
		_ = c.Close() // a daemon connection being dropped at exit: nothing to recover
	}
}

func (f *trackFlags) devices(ctx context.Context, clk clock.Clock, log *zap.Logger) (*trackDevices, error) {
	d := &trackDevices{}
	if f.rotctld == "" {
		sim, err := rotator.NewSimRotator(rotator.SimRotatorConfig{AzRateDegPerS: f.slew.AzDegS, ElRateDegPerS: f.slew.ElDegS, Clock: clk})
		if err != nil {
			return nil, err
		}
		d.rot = sim
	} else {
		rc, err := rotator.NewRotctld(rotator.RotctldOptions{ConnOptions: rotator.ConnOptions{Addr: f.rotctld, Logger: log}, SlewRate: f.slew})
		if err != nil {
			return nil, fmt.Errorf("--rotctld: %w", err)
		}
		d.closer = append(d.closer, rc)
		if err := rc.Connect(ctx); err != nil {
			d.Close()
			return nil, fmt.Errorf("--rotctld %s: %w", f.rotctld, err)
		}
		d.rot = rc
	}
	if f.rigctld == "" {
		sim, err := rotator.NewSimRadio(rotator.SimRadioConfig{})
		if err != nil {
			d.Close()
			return nil, err
		}
		d.radio = sim
		if err := f.enableUplink(ctx, d, sim); err != nil {
			d.Close()
			return nil, err
		}
	} else {
		rig, err := rotator.NewRigctld(rotator.RigctldOptions{ConnOptions: rotator.ConnOptions{Addr: f.rigctld, Logger: log}})
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("--rigctld: %w", err)
		}
		d.closer = append(d.closer, rig)
		if err := rig.Connect(ctx); err != nil {
			d.Close()
			return nil, fmt.Errorf("--rigctld %s: %w", f.rigctld, err)
		}
		d.radio = rig
		if err := f.enableUplink(ctx, d, rig); err != nil {
			d.Close()
			return nil, fmt.Errorf("--rigctld %s: %w", f.rigctld, err)
		}
	}
	return d, nil
}

func runTrack(ctx context.Context, s stdio, f *trackFlags) error {
	if err := f.validate(); err != nil {
		return err
	}
	o, err := f.observer()
	if err != nil {
		return err
	}
	sets, err := f.elementSets([]int{f.norad})
	if err != nil {
		return err
	}
	prop, err := orbit.NewPropagator(sets[0])
	if err != nil {
		return fmt.Errorf("norad %d: %w", f.norad, err)
	}
	clk, err := f.clock()
	if err != nil {
		return err
	}
	log := zap.NewNop()
	if f.verbose {
		log = zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig()),
			zapcore.AddSync(s.err), zap.InfoLevel))
	}
	dev, err := f.devices(ctx, clk, log)
	if err != nil {
		return err
	}
	defer dev.Close()
	target := tracker.OrbitTarget{Ephemeris: prop, Observer: o}
	if f.once {
		return trackOnce(ctx, s, f, clk, dev, target)
	}
	tr, err := tracker.New(tracker.Options{Rotator: dev.rot, Downlink: dev.radio, Uplink: dev.uplink, Clock: clk, Logger: log})
	if err != nil {
		return err
	}
	return trackPasses(ctx, s, f, clk, tr, prop, o, target)
}

// trackPasses tracks pass after pass (one with --next-pass) until ctx ends.
func trackPasses(ctx context.Context, s stdio, f *trackFlags, clk clock.Clock, tr *tracker.Tracker,
	prop *orbit.Propagator, o *orbit.Observer, target tracker.Target) error {
	for {
		now := clk.Now()
		passes, err := orbit.FindPasses(prop, o, now, now.Add(trackSearchWindow), orbit.PassOptions{MinElevationDeg: f.minEl})
		if err != nil {
			return fmt.Errorf("norad %d: pass search: %w", f.norad, err)
		}
		if len(passes) == 0 {
			return fmt.Errorf("norad %d: no pass above %g° in the next %s", f.norad, f.minEl, trackSearchWindow)
		}
		p := passes[0]
		_, _ = fmt.Fprintf(s.err, "next pass of %d: AOS %s (az %.1f°), max el %.1f° at %s, LOS %s (az %.1f°)\n", f.norad,
			p.AOS.UTC().Format(time.RFC3339), p.AOSAzimuthDeg, p.MaxElevationDeg, p.TCA.UTC().Format(time.RFC3339),
			p.LOS.UTC().Format(time.RFC3339), p.LOSAzimuthDeg)
		sum, err := tr.Track(ctx, tracker.Pass{ObservationID: "cli", NoradID: f.norad, Target: target, AOS: p.AOS, LOS: p.LOS,
			Transmitter: api.ObservationTransmitter{DownlinkHz: f.downlinkHz, UplinkHz: f.uplinkHz},
			Rotator:     api.RotatorSettings{MinElevationDeg: f.minEl, AfterLOS: f.afterLOS}})
		if ctx.Err() != nil {
			return nil // interrupted: the tracker has parked
		}
		if err != nil {
			return fmt.Errorf("norad %d: %w", f.norad, err)
		}
		if err := json.NewEncoder(s.out).Encode(sum); err != nil {
			return err
		}
		if f.nextPass {
			return nil
		}
	}
}

// oncePosition is track --once's output.
type oncePosition struct {
	Time         string  `json:"time"`
	NORAD        int     `json:"norad"`
	AzimuthDeg   float64 `json:"azimuth_deg"`
	ElevationDeg float64 `json:"elevation_deg"`
	RangeRateKmS float64 `json:"range_rate_km_s"`
	// Pointed says the rotator was commanded (the spacecraft is above --min-el).
	Pointed    bool    `json:"pointed"`
	RotatorAz  float64 `json:"rotator_az_deg,omitempty"`
	RotatorEl  float64 `json:"rotator_el_deg,omitempty"`
	DownlinkHz float64 `json:"downlink_hz,omitempty"`
	UplinkHz   float64 `json:"uplink_hz,omitempty"`
}

// trackOnce points at the spacecraft's position now, tunes the radio, and prints what it did.
func trackOnce(ctx context.Context, s stdio, f *trackFlags, clk clock.Clock, dev *trackDevices, target tracker.Target) error {
	now := clk.Now()
	l, err := target.Look(now)
	if err != nil {
		return fmt.Errorf("norad %d: %w", f.norad, err)
	}
	out := oncePosition{Time: now.UTC().Format(jsonTime), NORAD: f.norad, AzimuthDeg: l.AzDeg, ElevationDeg: l.ElDeg, RangeRateKmS: l.RangeRateKmS}
	if l.ElDeg >= f.minEl {
		plan, err := tracker.PlanPass([]tracker.SkyPoint{{T: now, AzDeg: l.AzDeg, ElDeg: l.ElDeg}}, dev.rot.Limits(), nil)
		if err != nil {
			return err
		}
		pt := plan.Points[0]
		if err := dev.rot.SetPosition(ctx, pt.AzDeg, pt.ElDeg); err != nil {
			return fmt.Errorf("rotator: %w", err)
		}
		out.Pointed, out.RotatorAz, out.RotatorEl = true, pt.AzDeg, pt.ElDeg
	}
	if f.downlinkHz > 0 {
		out.DownlinkHz = orbit.DownlinkFrequency(f.downlinkHz, l.RangeRateKmS)
		if err := dev.radio.SetFrequency(ctx, out.DownlinkHz); err != nil {
			return fmt.Errorf("radio: %w", err)
		}
	}
	if dev.uplink != nil {
		out.UplinkHz = orbit.UplinkFrequency(f.uplinkHz, l.RangeRateKmS)
		if err := dev.uplink.SetFrequency(ctx, out.UplinkHz); err != nil {
			return fmt.Errorf("radio uplink: %w", err)
		}
	}
	return json.NewEncoder(s.out).Encode(out)
}
