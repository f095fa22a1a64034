package api

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Observation limits shared by both sides.
const (
	// MaxObservationWindow is the longest AOS–LOS window an observation may have. A LEO pass
	// lasts under 25 minutes; MEO and GEO observations may be long, but not unbounded.
	MaxObservationWindow = 24 * time.Hour
	// MaxObservationIDLength is the longest observation id accepted, in bytes.
	MaxObservationIDLength = 64
	// DefaultPointingThresholdDeg is the pointing threshold (degrees) used when a payload leaves
	// RotatorSettings.ThresholdDeg at 0.
	DefaultPointingThresholdDeg = 2.0
)

// After-LOS behaviours of the rotator (RotatorSettings.AfterLOS).
const (
	// AfterLOSPark sends the rotator's own park command (rotctld "K"); the default.
	AfterLOSPark = "park"
	// AfterLOSPosition moves the rotator to RotatorSettings.ParkAzDeg / ParkElDeg.
	AfterLOSPosition = "position"
	// AfterLOSStay leaves the rotator where the pass ended.
	AfterLOSStay = "stay"
)

// ObservationSchedulePayload is the payload of observation.schedule: everything a station needs
// to run one pass on its own clock, with the backend unreachable. The station stores it durably
// and answers at once; the observation's progress comes back as observation.* events.
//
//	{"observation_id": "0b6f4f0e-...", "norad_id": 25544,
//	 "element_set": {"name": "ISS (ZARYA)",
//	   "line1": "1 25544U 98067A   26177.67101756  .00008101  00000+0  15268-3 0  9990",
//	   "line2": "2 25544  51.6322 253.1475 0004299 235.1263 124.9322 15.49442433573225"},
//	 "aos": "2026-06-27T00:00:28Z", "los": "2026-06-27T00:10:23Z",
//	 "transmitter": {"downlink_hz": 145800000, "mode": "FM", "passband_hz": 15000},
//	 "rotator": {"min_elevation_deg": 0, "after_los": "park", "threshold_deg": 2},
//	 "process": {"name": "iss-aprs", "team_id": "7f3c...", "command": ["/usr/bin/direwolf"]}}
//
// Re-sending the same observation_id replaces the stored observation (unless it is running).
type ObservationSchedulePayload struct {
	// ObservationID identifies the observation (the backend's UUID): 1 to 64 characters of
	// A-Z, a-z, 0-9, '-', '_'.
	ObservationID string `json:"observation_id"`
	// NoradID is the spacecraft's NORAD catalog number, 1 to 339999 (Alpha-5 range).
	NoradID int `json:"norad_id"`
	// ElementSet is the orbit to track.
	ElementSet ObservationElementSet `json:"element_set"`
	// AOS and LOS bound the pass (RFC 3339, UTC). LOS is after AOS, at most
	// MaxObservationWindow later.
	AOS time.Time `json:"aos"`
	LOS time.Time `json:"los"`
	// Transmitter is what to listen to (and transmit on), before Doppler correction.
	Transmitter ObservationTransmitter `json:"transmitter"`
	// Rotator tunes pointing for this observation.
	Rotator RotatorSettings `json:"rotator"`
	// Process is the decoder to run from AOS to LOS (see ProcessStartPayload); nil runs none.
	Process *ProcessStartPayload `json:"process,omitempty"`
}

// ObservationElementSet is the element set of an observation: a two-line element set; an OMM
// (CCSDS Orbit Mean-elements Message, JSON) may be given instead of the lines.
type ObservationElementSet struct {
	// Name is the spacecraft's name (TLE line 0), at most 100 characters; optional.
	Name string `json:"name,omitempty"`
	// Line1 and Line2 are the two 69-character TLE lines.
	Line1 string `json:"line1,omitempty"`
	Line2 string `json:"line2,omitempty"`
	// OMM is one OMM object in CCSDS JSON form (as CelesTrak serves it); used when the lines
	// are empty.
	OMM json.RawMessage `json:"omm,omitempty"`
}

// ObservationTransmitter is the spacecraft's transmitter (and receiver, for the uplink), in
// frequencies as the spacecraft sees them; the station applies Doppler correction.
type ObservationTransmitter struct {
	// DownlinkHz is the spacecraft's transmit frequency, Hz (1 kHz to 300 GHz).
	DownlinkHz float64 `json:"downlink_hz"`
	// UplinkHz is the spacecraft's receive frequency, Hz; 0 means no uplink.
	UplinkHz float64 `json:"uplink_hz,omitempty"`
	// Mode is the Hamlib modulation name ("FM", "USB", "CW", "PKTFM", ...); "" leaves the radio's.
	Mode string `json:"mode,omitempty"`
	// PassbandHz is the receive passband, Hz, 0 to 1 MHz; 0 keeps the radio's default for Mode.
	PassbandHz int `json:"passband_hz,omitempty"`
}

// RotatorSettings tunes how the station points for one observation.
type RotatorSettings struct {
	// MinElevationDeg is the elevation (degrees, −5 to 90) below which the rotator holds at the
	// pass's rise or set point instead of following the spacecraft.
	MinElevationDeg float64 `json:"min_elevation_deg"`
	// AfterLOS is what the rotator does after LOS: "park" (default), "position" or "stay".
	AfterLOS string `json:"after_los,omitempty"`
	// ParkAzDeg and ParkElDeg are where to go after LOS with AfterLOS "position", degrees.
	ParkAzDeg *float64 `json:"park_az_deg,omitempty"`
	ParkElDeg *float64 `json:"park_el_deg,omitempty"`
	// ThresholdDeg is the pointing error (degrees, 0 to 30) above which the rotator is moved;
	// 0 means DefaultPointingThresholdDeg.
	ThresholdDeg float64 `json:"threshold_deg,omitempty"`
}

// ObservationCancelPayload is the payload of observation.cancel: forget a stored observation,
// stopping it (and parking per its settings) if it is running.
type ObservationCancelPayload struct {
	ObservationID string `json:"observation_id"`
}

// ObservationScheduleResult is the result of observation.schedule.
type ObservationScheduleResult struct {
	ObservationID string `json:"observation_id"`
	// Replaced says an observation with the same id was stored before and has been replaced.
	Replaced bool `json:"replaced"`
}

// ObservationCancelResult is the result of observation.cancel.
type ObservationCancelResult struct {
	ObservationID string `json:"observation_id"`
	// WasRunning says the observation was being tracked and has been stopped.
	WasRunning bool `json:"was_running"`
}

// ObservationFieldError is a validation error of an observation payload; Field names the
// offending JSON field (e.g. "element_set.line1", "transmitter.downlink_hz").
type ObservationFieldError struct {
	Field   string
	Message string
}

// Error says which field is wrong and why.
func (e *ObservationFieldError) Error() string {
	return fmt.Sprintf("invalid %s: %s", e.Field, e.Message)
}

func observationErr(field, format string, args ...any) error {
	return &ObservationFieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// ValidateObservationID checks an observation id (see ObservationSchedulePayload.ObservationID).
func ValidateObservationID(id string) error {
	if id == "" || len(id) > MaxObservationIDLength {
		return observationErr("observation_id", "must be 1 to %d characters, got %d", MaxObservationIDLength, len(id))
	}
	for _, c := range id {
		if !idChar(c) {
			return observationErr("observation_id", "%q may hold only A-Z, a-z, 0-9, '-' and '_'", id)
		}
	}
	return nil
}

// Validate checks every field of an observation.schedule payload and names the first bad one.
// It checks the element set's shape (line numbers, lengths, catalog number); the station
// parses it fully before accepting the observation.
func (p *ObservationSchedulePayload) Validate() error {
	checks := []func() error{
		func() error { return ValidateObservationID(p.ObservationID) },
		p.validateNorad,
		func() error { return p.ElementSet.validate(p.NoradID) },
		p.validateWindow,
		p.Transmitter.validate,
		p.Rotator.validate,
		p.validateProcess,
	}
	for _, check := range checks {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

// Validate checks an observation.cancel payload.
func (p *ObservationCancelPayload) Validate() error { return ValidateObservationID(p.ObservationID) }

func (p *ObservationSchedulePayload) validateNorad() error {
	if p.NoradID < 1 || p.NoradID > 339999 {
		return observationErr("norad_id", "%d must be 1 to 339999", p.NoradID)
	}
	return nil
}

func (p *ObservationSchedulePayload) validateWindow() error {
	switch {
	case p.AOS.IsZero():
		return observationErr("aos", "is required (RFC 3339)")
	case p.LOS.IsZero():
		return observationErr("los", "is required (RFC 3339)")
	case !p.LOS.After(p.AOS):
		return observationErr("los", "%s must be after aos %s", p.LOS.Format(time.RFC3339), p.AOS.Format(time.RFC3339))
	case p.LOS.Sub(p.AOS) > MaxObservationWindow:
		return observationErr("los", "window of %s is longer than %s", p.LOS.Sub(p.AOS), MaxObservationWindow)
	}
	return nil
}

func (p *ObservationSchedulePayload) validateProcess() error {
	if p.Process == nil {
		return nil
	}
	if err := p.Process.Validate(); err != nil {
		return observationErr("process", "%v", err)
	}
	return nil
}

func (e *ObservationElementSet) validate(norad int) error {
	if len(e.Name) > 100 {
		return observationErr("element_set.name", "is %d characters, at most 100 allowed", len(e.Name))
	}
	if e.Line1 == "" && e.Line2 == "" {
		if len(e.OMM) == 0 {
			return observationErr("element_set", "needs line1 and line2, or omm")
		}
		return nil
	}
	if err := validateTLELine("element_set.line1", strings.TrimRight(e.Line1, " \r\n"), '1', norad); err != nil {
		return err
	}
	return validateTLELine("element_set.line2", strings.TrimRight(e.Line2, " \r\n"), '2', norad)
}

// validateTLELine checks the shape the station's parser relies on; the checksum and the
// numeric fields are checked by the parser itself.
func validateTLELine(field, line string, number byte, norad int) error {
	if len(line) != 69 {
		return observationErr(field, "is %d characters, a TLE line has 69", len(line))
	}
	if line[0] != number || line[1] != ' ' {
		return observationErr(field, "must start with %q", string(number)+" ")
	}
	cat := strings.TrimSpace(line[2:7])
	if n, err := strconv.Atoi(cat); err == nil && n != norad {
		return observationErr(field, "catalog number %d does not match norad_id %d", n, norad)
	}
	return nil
}

func (t *ObservationTransmitter) validate() error {
	switch {
	case !(t.DownlinkHz >= 1e3 && t.DownlinkHz <= 300e9):
		return observationErr("transmitter.downlink_hz", "%v must be 1 kHz to 300 GHz", t.DownlinkHz)
	case t.UplinkHz != 0 && !(t.UplinkHz >= 1e3 && t.UplinkHz <= 300e9):
		return observationErr("transmitter.uplink_hz", "%v must be 0 (none) or 1 kHz to 300 GHz", t.UplinkHz)
	case len(t.Mode) > 16 || strings.ContainsAny(t.Mode, " \t\r\n"):
		return observationErr("transmitter.mode", "%q must be a Hamlib mode name of at most 16 characters", t.Mode)
	case t.PassbandHz < 0 || t.PassbandHz > 1_000_000:
		return observationErr("transmitter.passband_hz", "%d must be 0 to 1000000", t.PassbandHz)
	}
	return nil
}

func (r *RotatorSettings) validate() error {
	switch {
	case !(r.MinElevationDeg >= -5 && r.MinElevationDeg <= 90):
		return observationErr("rotator.min_elevation_deg", "%v must be -5 to 90", r.MinElevationDeg)
	case !(r.ThresholdDeg >= 0 && r.ThresholdDeg <= 30):
		return observationErr("rotator.threshold_deg", "%v must be 0 to 30", r.ThresholdDeg)
	}
	switch r.AfterLOS {
	case "", AfterLOSPark, AfterLOSStay:
		if r.ParkAzDeg != nil || r.ParkElDeg != nil {
			return observationErr("rotator.park_az_deg", "is only allowed with after_los %q", AfterLOSPosition)
		}
	case AfterLOSPosition:
		return r.validateParkPosition()
	default:
		return observationErr("rotator.after_los", "%q must be %q, %q or %q", r.AfterLOS, AfterLOSPark, AfterLOSPosition, AfterLOSStay)
	}
	return nil
}

func (r *RotatorSettings) validateParkPosition() error {
	switch {
	case r.ParkAzDeg == nil || !finiteIn(*r.ParkAzDeg, -360, 720):
		return observationErr("rotator.park_az_deg", "is required with after_los %q, -360 to 720", AfterLOSPosition)
	case r.ParkElDeg == nil || !finiteIn(*r.ParkElDeg, -90, 180):
		return observationErr("rotator.park_el_deg", "is required with after_los %q, -90 to 180", AfterLOSPosition)
	}
	return nil
}

// Threshold returns ThresholdDeg, or DefaultPointingThresholdDeg when it is 0 (degrees).
func (r *RotatorSettings) Threshold() float64 {
	if r.ThresholdDeg == 0 {
		return DefaultPointingThresholdDeg
	}
	return r.ThresholdDeg
}

func finiteIn(v, lo, hi float64) bool { return !math.IsNaN(v) && v >= lo && v <= hi }

// idChar reports whether c may appear in an observation id.
func idChar(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}
