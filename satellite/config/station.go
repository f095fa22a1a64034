package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/proc"
	"github.com/talos-gs/talos/satellite/rotator"
	"github.com/talos-gs/talos/satellite/tracker"
)

// Proc is the process manager's section: satellite/proc's own Config (docs/processes.md),
// except that an empty work_dir means TeamsDir(state_dir).
type Proc struct {
	proc.Config `yaml:",inline"`
}

// Validate checks the section as proc.New will, with its defaults filled in.
func (p Proc) Validate() error { return p.WithDefaults().Validate() }

// Station is where the station is and how it runs its observations.
type Station struct {
	// OverrideLocation makes Lat, Lon and AltM the observer's position instead of the location
	// stored at registration (e.g. after the antenna moved).
	OverrideLocation bool `yaml:"override_location" env:"TALOS_STATION_OVERRIDE_LOCATION"`
	// Lat and Lon are geodetic degrees (north and east positive); AltM metres above the ellipsoid.
	Lat  float64 `yaml:"lat" env:"TALOS_STATION_LAT"`
	Lon  float64 `yaml:"lon" env:"TALOS_STATION_LON"`
	AltM float64 `yaml:"alt_m" env:"TALOS_STATION_ALT_M"`
	// PrepareLead is how long before AOS an observation starts its decoder and slews.
	PrepareLead time.Duration `yaml:"prepare_lead" env:"TALOS_STATION_PREPARE_LEAD"`
	// RequireDevices makes an unreachable rotctld/rigctld at start-up fatal; otherwise the
	// runner starts anyway and the device clients keep reconnecting in the background.
	RequireDevices bool `yaml:"require_devices" env:"TALOS_STATION_REQUIRE_DEVICES"`
	// Tags are the station's key=value labels (band: uhf, rotator: az-el, site: campus-a),
	// sent at registration and in every heartbeat: operators select stations by them with tag
	// queries (docs/operations.md). This file is their source: a tag removed here is removed
	// from the backend with the next heartbeat. Limits: api.ValidateTags.
	Tags map[string]string `yaml:"tags"`
}

// Validate checks the location and the lead.
func (s Station) Validate() error {
	switch {
	case !(s.Lat >= -90 && s.Lat <= 90):
		return fmt.Errorf("lat: %v must be -90 to 90", s.Lat)
	case !(s.Lon >= -180 && s.Lon <= 180):
		return fmt.Errorf("lon: %v must be -180 to 180", s.Lon)
	case !(s.AltM >= -500 && s.AltM <= 100_000):
		return fmt.Errorf("alt_m: %v must be -500 to 100000 m", s.AltM)
	case s.PrepareLead < time.Second || s.PrepareLead > time.Hour:
		return fmt.Errorf("prepare_lead: must be 1s to 1h, got %s", s.PrepareLead)
	}
	if err := api.ValidateTags(s.Tags); err != nil {
		return err
	}
	return nil
}

// TeamsDir is proc's work_dir when the config leaves it empty: a sibling of the state
// directory named <state_dir>-teams. Not inside it: the state directory is 0700 and holds the
// API key, and a team's user must be able to traverse every parent of its own directory.
func TeamsDir(stateDir string) (string, error) {
	abs, err := filepath.Abs(stateDir)
	if err != nil {
		return "", fmt.Errorf("state_dir %q: %w", stateDir, err)
	}
	return strings.TrimRight(abs, "/") + "-teams", nil
}

func defaultProc() Proc {
	c := proc.DefaultConfig()
	c.WorkDir = "" // TeamsDir(state_dir)
	return Proc{Config: c}
}

// validateDevices checks the devices and the tracker as `run` will use them, without building
// or connecting anything, so a bad value is refused when the file is loaded rather than at the
// first pass. Errors keep their chain (errors.Is/As see the rotator's and tracker's own).
func (c Config) validateDevices() error {
	for name, addr := range map[string]string{"devices.rotctld": c.Devices.Rotctld, "devices.rigctld": c.Devices.Rigctld} {
		if addr != "" && !validHostPort(addr) {
			return fmt.Errorf("%s: want host:port, got %q", name, addr)
		}
	}
	if !finite(c.Devices.AzSlewRateDegS) || !finite(c.Devices.ElSlewRateDegS) {
		return errors.New("devices.az_slew_rate_deg_s and el_slew_rate_deg_s: must be finite")
	}
	if c.Devices.DialTimeout < 0 || c.Devices.CallTimeout < 0 {
		return errors.New("devices.dial_timeout and devices.call_timeout: must not be negative")
	}
	if err := rotator.ValidateDevices(c.Devices); err != nil {
		return fmt.Errorf("devices: %w", err)
	}
	if err := tracker.ValidateConfig(c.Tracker); err != nil {
		return fmt.Errorf("tracker: %w", err)
	}
	return nil
}

func validHostPort(s string) bool {
	host, port, err := net.SplitHostPort(s)
	return err == nil && host != "" && port != ""
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
