package rotator

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"
)

// RotctldOptions configures a Rotctld client.
type RotctldOptions struct {
	ConnOptions
	// Limits are used while the daemon has not told its range (before the first connection, or
	// when it answers neither dump_state nor dump_caps); the zero value means DefaultLimits.
	Limits Limits
	// SlewRate is the rotator's speed per axis (°/s), as `talos-satellite rotator calibrate`
	// measured it; a zero axis means DefaultSlewRate's. rotctld does not report it.
	SlewRate SlewRate
}

// Rotctld is a Rotator backed by Hamlib's rotctld over TCP. Safe for concurrent use; requests
// are serialised on one connection.
type Rotctld struct {
	c    *conn
	slew SlewRate

	noDumpState atomic.Bool // the daemon never answered dump_state

	mu         sync.Mutex
	limits     Limits
	fromDevice bool
}

var _ Rotator = (*Rotctld)(nil)

// NewRotctld returns a client for the rotctld at opts.Addr. It does not connect: the first call
// (or Connect, or Run) does.
func NewRotctld(opts RotctldOptions) (*Rotctld, error) {
	opts.Limits = limitsOrDefault(opts.Limits)
	if err := opts.Limits.Validate(); err != nil {
		return nil, fmt.Errorf("rotctld: configured %w", err)
	}
	opts.SlewRate = opts.SlewRate.orDefault()
	if err := opts.SlewRate.Validate(); err != nil {
		return nil, fmt.Errorf("rotctld: configured slew rate %w", err)
	}
	c, err := newConn("rotctld", opts.ConnOptions)
	if err != nil {
		return nil, err
	}
	r := &Rotctld{c: c, limits: opts.Limits, slew: opts.SlewRate}
	c.onConnect = r.readLimits
	return r, nil
}

// Connect dials the daemon now (if not connected) and reads its limits, so a misconfigured
// address shows at start-up rather than at the first pass.
func (r *Rotctld) Connect(ctx context.Context) error {
	_, err := r.c.call(ctx, "get_info")
	var he *HamlibError
	if errors.As(err, &he) {
		return nil // it answered: connected, even if this backend lacks the command
	}
	return err
}

// SetPosition commands azDeg, elDeg (degrees). A position outside the daemon's limits comes
// back as ErrInvalidParameter (RPRT -1).
func (r *Rotctld) SetPosition(ctx context.Context, azDeg, elDeg float64) error {
	if !finite(azDeg) || !finite(elDeg) {
		return fmt.Errorf("rotctld set_pos: az %v el %v: %w", azDeg, elDeg, ErrInvalidParameter)
	}
	_, err := r.c.call(ctx, "set_pos", formatDeg(azDeg), formatDeg(elDeg))
	return err
}

// Position reads the current azimuth and elevation (degrees).
func (r *Rotctld) Position(ctx context.Context) (azDeg, elDeg float64, err error) {
	rep, err := r.c.call(ctx, "get_pos")
	if err != nil {
		return 0, 0, err
	}
	if azDeg, err = rep.float("Azimuth"); err != nil {
		return 0, 0, fmt.Errorf("rotctld %w", err)
	}
	if elDeg, err = rep.float("Elevation"); err != nil {
		return 0, 0, fmt.Errorf("rotctld %w", err)
	}
	return azDeg, elDeg, nil
}

// Stop halts the rotator.
func (r *Rotctld) Stop(ctx context.Context) error {
	_, err := r.c.call(ctx, "stop")
	return err
}

// Park moves the rotator to the park position configured in the daemon/backend.
func (r *Rotctld) Park(ctx context.Context) error {
	_, err := r.c.call(ctx, "park")
	return err
}

// Limits returns the range the daemon reported at the last connection, or the configured one.
func (r *Rotctld) Limits() Limits {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.limits
}

// SlewRate returns the configured slew rate (rotctld cannot tell it).
func (r *Rotctld) SlewRate() SlewRate { return r.slew }

// LimitsFromDevice reports whether Limits came from the daemon rather than the configuration.
func (r *Rotctld) LimitsFromDevice() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fromDevice
}

// Connected reports whether the client holds a live connection.
func (r *Rotctld) Connected() bool { return r.c.Connected() }

// Run reconnects with backoff whenever the connection is down, until ctx ends.
func (r *Rotctld) Run(ctx context.Context) error { return r.c.Run(ctx) }

// Close closes the connection; later calls fail with ErrClosed.
func (r *Rotctld) Close() error { return r.c.Close() }

// readLimits asks the daemon for its range on each new connection. dump_state comes first: it
// reports the limits in force (a station narrows the model's range with
// `-C min_az=0,max_az=360`, and rotctld then refuses positions outside it), while dump_caps
// reports the model's built-in range. Only transport errors are returned (they drop the
// connection); a daemon that answers neither keeps the configured limits.
func (r *Rotctld) readLimits(ctx context.Context, ex exchangeFunc) error {
	sources := []struct{ cmd, minAz, maxAz, minEl, maxEl string }{
		{"dump_state", "Minimum Azimuth", "Maximum Azimuth", "Minimum Elevation", "Maximum Elevation"},
		{"dump_caps", "Min Azimuth", "Max Azimuth", "Min Elevation", "Max Elevation"},
	}
	for _, s := range sources {
		if s.cmd == "dump_state" && r.noDumpState.Load() {
			continue
		}
		rep, err := ex(ctx, s.cmd)
		var he *HamlibError
		if errors.As(err, &he) {
			continue
		}
		if err != nil {
			if s.cmd == "dump_state" && errors.Is(err, os.ErrDeadlineExceeded) {
				// rotctld does not answer a command it does not know (Hamlib before 4.0
				// has no dump_state): skip it from the next connection on.
				r.noDumpState.Store(true)
				r.c.log.Warn("rotctld did not answer dump_state; using dump_caps from now on", zap.Error(err))
			}
			return err
		}
		l, err := limitsFrom(rep, s.minAz, s.maxAz, s.minEl, s.maxEl)
		if err != nil {
			r.c.log.Warn("rotctld limits unreadable", zap.String("command", s.cmd), zap.Error(err))
			continue
		}
		r.mu.Lock()
		r.limits, r.fromDevice = l, true
		r.mu.Unlock()
		r.c.log.Info("rotctld limits", zap.String("source", s.cmd), zap.Float64("min_az", l.MinAz),
			zap.Float64("max_az", l.MaxAz), zap.Float64("min_el", l.MinEl), zap.Float64("max_el", l.MaxEl))
		return nil
	}
	return nil
}

func limitsFrom(rep reply, keys ...string) (Limits, error) {
	var v [4]float64
	for i, k := range keys {
		f, err := rep.float(k)
		if err != nil {
			return Limits{}, err
		}
		v[i] = f
	}
	l := Limits{MinAz: v[0], MaxAz: v[1], MinEl: v[2], MaxEl: v[3]}
	return l, l.Validate()
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// formatDeg writes an angle with 0.001° resolution and never in exponent form.
func formatDeg(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
