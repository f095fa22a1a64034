package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/client"
	"github.com/talos-gs/talos/satellite/config"
	"github.com/talos-gs/talos/satellite/runner"
	"github.com/talos-gs/talos/satellite/state"
)

// registerFlags are the inputs of `talos-satellite register`.
type registerFlags struct {
	common       commonFlags
	backend      string
	token        string
	name         string
	lat, lon     float64
	altM         float64
	insecure     bool
	capabilities []string
}

func newRegisterCmd(s stdio) *cobra.Command {
	f := &registerFlags{}
	cmd := &cobra.Command{
		Use:   "register --backend URL --token TOKEN --name NAME",
		Short: "Register this station with a backend and store its identity and API key",
		Long: "Exchanges a registration token for an identity and an API key, stored in the state directory\n" +
			"(files 0600, directory 0700). Run it again with a new token to rotate the key: the station keeps\n" +
			"its satellite id and the old key stops working at once. The token may also come from\n" +
			"TALOS_REGISTRATION_TOKEN, which keeps it out of the process list and shell history.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runRegister(cmd.Context(), s, f) },
	}
	fl := cmd.Flags()
	f.common.add(cmd)
	fl.StringVar(&f.backend, "backend", "", "backend URL, e.g. https://talos.example.org (required)")
	fl.StringVar(&f.token, "token", "", "registration token (or TALOS_REGISTRATION_TOKEN)")
	fl.StringVar(&f.name, "name", "", "station name, 1 to 100 characters (required)")
	fl.Float64Var(&f.lat, "lat", 0, "latitude in degrees, -90 to 90, north positive")
	fl.Float64Var(&f.lon, "lon", 0, "longitude in degrees, -180 to 180, east positive")
	fl.Float64Var(&f.altM, "alt-m", 0, "height above the WGS-84 ellipsoid in metres")
	fl.BoolVar(&f.insecure, "insecure", false, "allow plain http to a host other than localhost (lab networks only)")
	fl.StringSliceVar(&f.capabilities, "capabilities", nil, "what this station can do, e.g. rotator,radio,proc")
	return cmd
}

func (f *registerFlags) validate() error {
	if f.token == "" {
		f.token = os.Getenv("TALOS_REGISTRATION_TOKEN")
	}
	name := strings.TrimSpace(f.name)
	switch {
	case f.backend == "":
		return errors.New("--backend: required (the backend's URL)")
	case f.token == "":
		return errors.New("--token: required (or set TALOS_REGISTRATION_TOKEN); ask your team admin for a registration token")
	case name == "" || len([]rune(name)) > 100:
		return errors.New("--name: required, 1 to 100 characters")
	case f.lat < -90 || f.lat > 90:
		return fmt.Errorf("--lat: must be -90 to 90 degrees, got %g", f.lat)
	case f.lon < -180 || f.lon > 180:
		return fmt.Errorf("--lon: must be -180 to 180 degrees, got %g", f.lon)
	case f.altM < -1000 || f.altM > 100000:
		return fmt.Errorf("--alt-m: must be -1000 to 100000 metres, got %g", f.altM)
	}
	f.name = name
	return nil
}

func runRegister(ctx context.Context, s stdio, f *registerFlags) error {
	if err := f.validate(); err != nil {
		return err
	}
	cfg, err := f.common.load()
	if err != nil {
		return err
	}
	base, err := client.ParseBaseURL(f.backend)
	if err != nil {
		return fmt.Errorf("--backend: %w", err)
	}
	if err := runner.CheckTransportSecurity(base, f.insecure || cfg.Backend.Insecure); err != nil {
		return err
	}
	previous, err := previousIdentity(cfg.StateDir, base.String())
	if err != nil {
		return err
	}
	resp, err := register(ctx, cfg, base.String(), f, previous)
	if err != nil {
		return err
	}
	return saveRegistration(s, cfg, base.String(), f, previous, resp)
}

// previousIdentity returns the satellite id to rotate, when this state directory is already
// registered with the same backend.
func previousIdentity(dir, backend string) (string, error) {
	id, err := state.ReadIdentity(dir)
	switch {
	case errors.Is(err, state.ErrNotRegistered):
		return "", nil
	case err != nil:
		return "", err
	case strings.TrimRight(id.BackendURL, "/") != strings.TrimRight(backend, "/"):
		return "", nil // a different backend: a new registration there
	}
	return id.SatelliteID, nil
}

func register(ctx context.Context, cfg config.Config, backend string, f *registerFlags, previous string) (api.RegisterResponse, error) {
	c, err := client.New(client.Options{BaseURL: backend, Timeout: cfg.Backend.Timeout,
		TLS: client.TLSOptions{CAFile: cfg.Backend.CAFile, CertFile: cfg.Backend.CertFile, KeyFile: cfg.Backend.KeyFile}})
	if err != nil {
		return api.RegisterResponse{}, err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Backend.Timeout+5*time.Second)
	defer cancel()
	resp, err := c.Register(ctx, f.token, api.RegisterRequest{Name: f.name, Version: api.Version, Capabilities: f.capabilities, Tags: cfg.Station.Tags,
		Location: api.Location{Lat: f.lat, Lon: f.lon, AltM: f.altM}, SatelliteID: previous})
	if err != nil {
		return resp, explainRegisterError(err)
	}
	return resp, nil
}

// registerMessages turn the backend's stable error codes into what the operator should do.
var registerMessages = map[string]string{
	api.ErrRegistrationTokenRequired: "the backend needs a registration token: pass --token or set TALOS_REGISTRATION_TOKEN",
	api.ErrInvalidRegistrationToken:  "the registration token is not valid for this backend: check it was copied whole and that --backend is the backend that issued it",
	api.ErrTokenExpired:              "the registration token has expired: ask your team admin for a new one (tokens last 1 h, team tokens 24 h, unless set otherwise)",
	api.ErrTokenAlreadyUsed:          "the registration token has already been used: ask your team admin for a new one",
	api.ErrTokenInvalidScope:         "the registration token does not allow this registration (for example a token of another team, or re-registering a station the token's team does not own): ask for a token of the station's team",
}

func explainRegisterError(err error) error {
	var apiErr *client.APIError
	if errors.As(err, &apiErr) {
		if msg, ok := registerMessages[apiErr.Code]; ok {
			return fmt.Errorf("registration refused (%s): %s", apiErr.Code, msg)
		}
	}
	return fmt.Errorf("registration failed: %w", err)
}

func saveRegistration(s stdio, cfg config.Config, backend string, f *registerFlags, previous string, resp api.RegisterResponse) error {
	id := state.Identity{SatelliteID: resp.SatelliteID, TeamID: resp.TeamID, BackendURL: backend, Name: f.name,
		Location: api.Location{Lat: f.lat, Lon: f.lon, AltM: f.altM}, Intervals: resp.Intervals, RegisteredAt: time.Now().UTC()}
	if err := state.SaveIdentity(cfg.StateDir, id, resp.APIKey); err != nil {
		return fmt.Errorf("registered as %s, but could not save the identity (register again with a new token): %w", resp.SatelliteID, err)
	}
	verb := "registered"
	if previous != "" {
		verb = "re-registered (API key rotated; restart a running runner: the old key no longer works)"
	}
	_, err := fmt.Fprintf(s.out, "%s station %q as satellite %s (team %s) with %s\nidentity and API key saved in %s\n",
		verb, f.name, resp.SatelliteID, orNone(resp.TeamID), backend, cfg.StateDir)
	return err
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
