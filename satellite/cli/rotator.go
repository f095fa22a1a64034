package cli

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/talos-gs/talos/satellite/rotator"
)

func newRotatorCmd(s stdio) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rotator",
		Short: "Work with the station's rotator",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newCalibrateCmd(s))
	return cmd
}

type calibrateFlags struct {
	rotctld string
	degrees float64
	timeout time.Duration
	simAz   float64
	simEl   float64
}

func newCalibrateCmd(s stdio) *cobra.Command {
	var f calibrateFlags
	cmd := &cobra.Command{
		Use:   "calibrate",
		Short: "Time a move on each axis and print the slew rates as configuration lines",
		Long: "calibrate moves the rotator --degrees in azimuth, then in elevation (inside its limits),\n" +
			"reads the position back every 50 ms, and prints the measured slew rates as the\n" +
			"configuration lines to put in the station's configuration file (devices section). It\n" +
			"writes no file. The rotator is moved back where it stood. Without --rotctld it times the\n" +
			"simulated rotator (turning at --az-slew-rate and --el-slew-rate).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runCalibrate(ctx, s, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.rotctld, "rotctld", "", "rotctld address host:port (default: a simulated rotator)")
	fl.Float64Var(&f.degrees, "degrees", 20, "length of the timed move on each axis, degrees, over 1 and up to 180")
	fl.DurationVar(&f.timeout, "timeout", 2*time.Minute, "longest time a move may take")
	fl.Float64Var(&f.simAz, "az-slew-rate", rotator.DefaultSlewRate.AzDegS, "simulated rotator only: its azimuth rate, °/s")
	fl.Float64Var(&f.simEl, "el-slew-rate", rotator.DefaultSlewRate.ElDegS, "simulated rotator only: its elevation rate, °/s")
	return cmd
}

func runCalibrate(ctx context.Context, s stdio, f *calibrateFlags) error {
	switch {
	case math.IsNaN(f.degrees) || f.degrees <= 1 || f.degrees > 180:
		return fmt.Errorf("--degrees: %g must be over 1 and up to 180", f.degrees)
	case f.timeout <= 0:
		return fmt.Errorf("--timeout: %s must be positive", f.timeout)
	}
	rot, closeRot, err := calibrateRotator(ctx, f)
	if err != nil {
		return err
	}
	defer closeRot()
	c, err := rotator.Calibrate(ctx, rot, rotator.CalibrateOptions{MoveDeg: f.degrees, Timeout: f.timeout})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(s.out, "# measured with rotator calibrate: azimuth %.1f° in %.2f s, elevation %.1f° in %.2f s\n"+
		"devices:\n  az_slew_rate_deg_s: %.2f\n  el_slew_rate_deg_s: %.2f\n",
		c.AzDeg, c.AzTime.Seconds(), c.ElDeg, c.ElTime.Seconds(), c.Rate.AzDegS, c.Rate.ElDegS)
	return err
}

// calibrateRotator opens the rotator to time: rotctld, or the simulator at the given rates.
func calibrateRotator(ctx context.Context, f *calibrateFlags) (rotator.Rotator, func(), error) {
	if f.rotctld == "" {
		sim, err := rotator.NewSimRotator(rotator.SimRotatorConfig{AzRateDegPerS: f.simAz, ElRateDegPerS: f.simEl})
		if err != nil {
			return nil, nil, fmt.Errorf("--az-slew-rate, --el-slew-rate: %w", err)
		}
		return sim, func() {}, nil
	}
	rc, err := rotator.NewRotctld(rotator.RotctldOptions{ConnOptions: rotator.ConnOptions{Addr: f.rotctld, Logger: zap.NewNop()}})
	if err != nil {
		return nil, nil, fmt.Errorf("--rotctld: %w", err)
	}
	if err := rc.Connect(ctx); err != nil {
		_ = rc.Close() // never connected: nothing to flush
		return nil, nil, fmt.Errorf("--rotctld %s: %w", f.rotctld, err)
	}
	return rc, func() { _ = rc.Close() }, nil
}
