package rotator

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// MaxFrequencyHz bounds the frequencies the clients send (1 THz), so a unit mix-up (GHz given as
// Hz·10⁹ twice) fails here with a clear error instead of at the radio.
const MaxFrequencyHz = 1e12

// Rigctld is a Radio backed by Hamlib's rigctld over TCP. Its Radio methods address the current
// (receive) VFO; Uplink returns a Radio for the transmit side of split operation. Safe for
// concurrent use. rigctld must run without --vfo (-o), the mode that wants a VFO argument on
// every command.
type Rigctld struct {
	c *conn
}

var _ Radio = (*Rigctld)(nil)

// RigctldOptions configures a Rigctld client, as RotctldOptions does a Rotctld.
type RigctldOptions struct {
	ConnOptions
}

// NewRigctld returns a client for the rigctld at opts.Addr. It does not connect.
func NewRigctld(opts RigctldOptions) (*Rigctld, error) {
	c, err := newConn("rigctld", opts.ConnOptions)
	if err != nil {
		return nil, err
	}
	return &Rigctld{c: c}, nil
}

// Connect dials the daemon now (if not connected) and checks it answers.
func (r *Rigctld) Connect(ctx context.Context) error {
	_, err := r.c.call(ctx, "get_vfo")
	var he *HamlibError
	if errors.As(err, &he) {
		return nil // it answered: connected, even if this backend lacks the command
	}
	return err
}

// SetFrequency tunes the current VFO to hz (Hz), rounded to 1 Hz.
func (r *Rigctld) SetFrequency(ctx context.Context, hz float64) error {
	return r.setFreq(ctx, "set_freq", hz)
}

// Frequency reads the current VFO's frequency (Hz).
func (r *Rigctld) Frequency(ctx context.Context) (float64, error) {
	return r.getFloat(ctx, "get_freq", "Frequency")
}

// SetMode sets the current VFO's mode and passband (Hz; 0 = the radio's default for the mode,
// -1 = unchanged).
func (r *Rigctld) SetMode(ctx context.Context, mode string, passbandHz int) error {
	return r.setMode(ctx, "set_mode", mode, passbandHz)
}

// Mode reads the current VFO's mode and passband (Hz).
func (r *Rigctld) Mode(ctx context.Context) (string, int, error) {
	return r.getMode(ctx, "get_mode", "Mode", "Passband")
}

// Modes lists the mode names the radio supports ("set_mode ?").
func (r *Rigctld) Modes(ctx context.Context) ([]string, error) {
	rep, err := r.c.call(ctx, "set_mode", "?")
	if err != nil {
		return nil, err
	}
	var modes []string
	for _, f := range rep.Fields {
		if f.Key == "" {
			modes = append(modes, strings.Fields(f.Value)...)
		}
	}
	return modes, nil
}

// SetSplit turns split operation on or off, transmitting on txVFO (e.g. "VFOB", "Sub") when on.
// Satellite work uses split so the uplink (Uplink) and downlink (the Radio methods) are tuned
// separately.
func (r *Rigctld) SetSplit(ctx context.Context, on bool, txVFO string) error {
	v := "0"
	if on {
		v = "1"
	}
	_, err := r.c.call(ctx, "set_split_vfo", v, txVFO)
	return err
}

// Split reads whether split is on and the transmit VFO.
func (r *Rigctld) Split(ctx context.Context) (on bool, txVFO string, err error) {
	rep, err := r.c.call(ctx, "get_split_vfo")
	if err != nil {
		return false, "", err
	}
	s, ok := rep.value("Split")
	if !ok || (s != "0" && s != "1") {
		return false, "", fmt.Errorf("rigctld get_split_vfo: Split %q: %w", s, ErrProtocol)
	}
	vfo, _ := rep.value("TX VFO")
	return s == "1", vfo, nil
}

// Uplink returns a Radio that tunes the transmit side of split operation (set_split_freq,
// set_split_mode). Call SetSplit(ctx, true, "VFOB") (or the radio's TX VFO) first.
func (r *Rigctld) Uplink() Radio { return rigUplink{r} }

// Connected reports whether the client holds a live connection.
func (r *Rigctld) Connected() bool { return r.c.Connected() }

// Run reconnects with backoff whenever the connection is down, until ctx ends.
func (r *Rigctld) Run(ctx context.Context) error { return r.c.Run(ctx) }

// Close closes the connection; later calls fail with ErrClosed.
func (r *Rigctld) Close() error { return r.c.Close() }

type rigUplink struct{ r *Rigctld }

func (u rigUplink) SetFrequency(ctx context.Context, hz float64) error {
	return u.r.setFreq(ctx, "set_split_freq", hz)
}

func (u rigUplink) Frequency(ctx context.Context) (float64, error) {
	return u.r.getFloat(ctx, "get_split_freq", "TX Frequency")
}

func (u rigUplink) SetMode(ctx context.Context, mode string, passbandHz int) error {
	return u.r.setMode(ctx, "set_split_mode", mode, passbandHz)
}

func (u rigUplink) Mode(ctx context.Context) (string, int, error) {
	return u.r.getMode(ctx, "get_split_mode", "TX Mode", "TX Passband")
}

func (r *Rigctld) setFreq(ctx context.Context, cmd string, hz float64) error {
	if err := checkFrequency(hz); err != nil {
		return fmt.Errorf("rigctld %s: %w", cmd, err)
	}
	_, err := r.c.call(ctx, cmd, strconv.FormatFloat(math.Round(hz), 'f', 0, 64))
	return err
}

func (r *Rigctld) getFloat(ctx context.Context, cmd, key string) (float64, error) {
	rep, err := r.c.call(ctx, cmd)
	if err != nil {
		return 0, err
	}
	v, err := rep.float(key)
	if err != nil {
		return 0, fmt.Errorf("rigctld %w", err)
	}
	return v, nil
}

func (r *Rigctld) setMode(ctx context.Context, cmd, mode string, passbandHz int) error {
	if err := checkMode(mode, passbandHz); err != nil {
		return fmt.Errorf("rigctld %s: %w", cmd, err)
	}
	_, err := r.c.call(ctx, cmd, mode, strconv.Itoa(passbandHz))
	return err
}

func (r *Rigctld) getMode(ctx context.Context, cmd, modeKey, pbKey string) (string, int, error) {
	rep, err := r.c.call(ctx, cmd)
	if err != nil {
		return "", 0, err
	}
	mode, ok := rep.value(modeKey)
	if !ok || mode == "" {
		return "", 0, fmt.Errorf("rigctld %s: no %q line: %w", cmd, modeKey, ErrProtocol)
	}
	pb, err := rep.float(pbKey)
	if err != nil || pb < math.MinInt32 || pb > math.MaxInt32 {
		return "", 0, fmt.Errorf("rigctld %s: passband: %w", cmd, ErrProtocol)
	}
	return mode, int(pb), nil
}

func checkFrequency(hz float64) error {
	if !finite(hz) || hz <= 0 || hz > MaxFrequencyHz {
		return fmt.Errorf("frequency %v Hz: must be above 0 and at most %g Hz: %w", hz, MaxFrequencyHz, ErrInvalidParameter)
	}
	return nil
}

// checkMode accepts Hamlib mode names (upper-case letters, digits, '-': "USB", "PKTFM",
// "D-STAR"); rigctld silently ignores a name it does not know, so a typo must fail here.
func checkMode(mode string, passbandHz int) error {
	if mode == "" || len(mode) > 16 {
		return fmt.Errorf("mode %q: must be 1 to 16 characters: %w", mode, ErrInvalidParameter)
	}
	for _, c := range mode {
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '-' {
			return fmt.Errorf("mode %q: only A-Z, 0-9 and '-' allowed (Hamlib names such as USB, FM, PKTFM): %w", mode, ErrInvalidParameter)
		}
	}
	if passbandHz < -1 {
		return fmt.Errorf("passband %d Hz: must be -1 (unchanged), 0 (default) or positive: %w", passbandHz, ErrInvalidParameter)
	}
	return nil
}
