package api

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	issLine1 = "1 25544U 98067A   08264.51782528 -.00002182  00000-0 -11606-4 0  2927"
	issLine2 = "2 25544  51.6416 247.4627 0006703 130.5360 325.0288 15.72125391563537"
)

func validObservation() ObservationSchedulePayload {
	aos := time.Date(2026, 6, 26, 12, 0, 0, 0, time.UTC)
	return ObservationSchedulePayload{
		ObservationID: "obs-1",
		NoradID:       25544,
		ElementSet:    ObservationElementSet{Name: "ISS (ZARYA)", Line1: issLine1, Line2: issLine2},
		AOS:           aos,
		LOS:           aos.Add(10 * time.Minute),
		Transmitter:   ObservationTransmitter{DownlinkHz: 145.8e6, Mode: "FM", PassbandHz: 15000},
	}
}

func TestObservationScheduleValidate(t *testing.T) {
	t.Parallel()
	f := func(v float64) *float64 { return &v }
	tests := []struct {
		name  string
		edit  func(p *ObservationSchedulePayload)
		field string // "" means valid
	}{
		{"valid", func(*ObservationSchedulePayload) {}, ""},
		{"valid omm", func(p *ObservationSchedulePayload) {
			p.ElementSet = ObservationElementSet{OMM: json.RawMessage(`{"OBJECT_NAME":"ISS"}`)}
		}, ""},
		{"valid park position", func(p *ObservationSchedulePayload) {
			p.Rotator = RotatorSettings{AfterLOS: AfterLOSPosition, ParkAzDeg: f(180), ParkElDeg: f(90)}
		}, ""},
		{"empty id", func(p *ObservationSchedulePayload) { p.ObservationID = "" }, "observation_id"},
		{"id with slash", func(p *ObservationSchedulePayload) { p.ObservationID = "../etc" }, "observation_id"},
		{"long id", func(p *ObservationSchedulePayload) { p.ObservationID = strings.Repeat("a", 65) }, "observation_id"},
		{"norad zero", func(p *ObservationSchedulePayload) { p.NoradID = 0 }, "norad_id"},
		{"no element set", func(p *ObservationSchedulePayload) { p.ElementSet = ObservationElementSet{} }, "element_set"},
		{"short line1", func(p *ObservationSchedulePayload) { p.ElementSet.Line1 = issLine1[:60] }, "element_set.line1"},
		{"swapped lines", func(p *ObservationSchedulePayload) {
			p.ElementSet.Line1, p.ElementSet.Line2 = issLine2, issLine1
		}, "element_set.line1"},
		{"norad mismatch", func(p *ObservationSchedulePayload) { p.NoradID = 25545 }, "element_set.line1"},
		{"long name", func(p *ObservationSchedulePayload) { p.ElementSet.Name = strings.Repeat("x", 101) }, "element_set.name"},
		{"no aos", func(p *ObservationSchedulePayload) { p.AOS = time.Time{} }, "aos"},
		{"no los", func(p *ObservationSchedulePayload) { p.LOS = time.Time{} }, "los"},
		{"los before aos", func(p *ObservationSchedulePayload) { p.LOS = p.AOS.Add(-time.Second) }, "los"},
		{"window too long", func(p *ObservationSchedulePayload) { p.LOS = p.AOS.Add(25 * time.Hour) }, "los"},
		{"no downlink", func(p *ObservationSchedulePayload) { p.Transmitter.DownlinkHz = 0 }, "transmitter.downlink_hz"},
		{"bad uplink", func(p *ObservationSchedulePayload) { p.Transmitter.UplinkHz = 5 }, "transmitter.uplink_hz"},
		{"mode with space", func(p *ObservationSchedulePayload) { p.Transmitter.Mode = "F M" }, "transmitter.mode"},
		{"negative passband", func(p *ObservationSchedulePayload) { p.Transmitter.PassbandHz = -1 }, "transmitter.passband_hz"},
		{"min el too high", func(p *ObservationSchedulePayload) { p.Rotator.MinElevationDeg = 91 }, "rotator.min_elevation_deg"},
		{"threshold too big", func(p *ObservationSchedulePayload) { p.Rotator.ThresholdDeg = 31 }, "rotator.threshold_deg"},
		{"unknown after_los", func(p *ObservationSchedulePayload) { p.Rotator.AfterLOS = "dance" }, "rotator.after_los"},
		{"position without az", func(p *ObservationSchedulePayload) {
			p.Rotator = RotatorSettings{AfterLOS: AfterLOSPosition, ParkElDeg: f(0)}
		}, "rotator.park_az_deg"},
		{"position without el", func(p *ObservationSchedulePayload) {
			p.Rotator = RotatorSettings{AfterLOS: AfterLOSPosition, ParkAzDeg: f(0)}
		}, "rotator.park_el_deg"},
		{"park az with stay", func(p *ObservationSchedulePayload) {
			p.Rotator = RotatorSettings{AfterLOS: AfterLOSStay, ParkAzDeg: f(0)}
		}, "rotator.park_az_deg"},
		{"bad process", func(p *ObservationSchedulePayload) { p.Process = &ProcessStartPayload{Name: "x"} }, "process"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := validObservation()
			tc.edit(&p)
			err := p.Validate()
			if tc.field == "" {
				require.NoError(t, err)
				return
			}
			var fe *ObservationFieldError
			require.True(t, errors.As(err, &fe), "want an ObservationFieldError, got %v", err)
			assert.Equal(t, tc.field, fe.Field, "error: %v", err)
		})
	}
}

func TestObservationScheduleRoundTrip(t *testing.T) {
	t.Parallel()
	p := validObservation()
	raw, err := json.Marshal(p)
	require.NoError(t, err)
	assert.Contains(t, string(raw), `"aos":"2026-06-26T12:00:00Z"`)
	var back ObservationSchedulePayload
	require.NoError(t, json.Unmarshal(raw, &back))
	require.NoError(t, back.Validate())
	assert.Equal(t, p.ElementSet, back.ElementSet)
	assert.True(t, p.AOS.Equal(back.AOS))
}

func TestObservationCancelValidate(t *testing.T) {
	t.Parallel()
	require.NoError(t, (&ObservationCancelPayload{ObservationID: "abc"}).Validate())
	var fe *ObservationFieldError
	require.ErrorAs(t, (&ObservationCancelPayload{}).Validate(), &fe)
	assert.Equal(t, "observation_id", fe.Field)
}

func TestRotatorSettingsThreshold(t *testing.T) {
	t.Parallel()
	assert.InDelta(t, DefaultPointingThresholdDeg, (&RotatorSettings{}).Threshold(), 0)
	assert.InDelta(t, 5.0, (&RotatorSettings{ThresholdDeg: 5}).Threshold(), 0)
}

// FuzzObservationSchedulePayload checks that no body makes decoding or validation panic, and
// that an accepted payload survives a round trip.
func FuzzObservationSchedulePayload(f *testing.F) {
	good, err := json.Marshal(validObservation())
	require.NoError(f, err)
	f.Add(string(good))
	f.Add(`{}`)
	f.Add(`{"observation_id":"a","norad_id":1,"element_set":{"omm":{}},"aos":"2026-01-01T00:00:00Z","los":"2026-01-01T00:00:01Z","transmitter":{"downlink_hz":1e9}}`)
	f.Add(`{"rotator":{"after_los":"position","park_az_deg":1e309}}`)
	f.Fuzz(func(t *testing.T, body string) {
		var p ObservationSchedulePayload
		if json.Unmarshal([]byte(body), &p) != nil {
			return
		}
		if p.Validate() != nil {
			return
		}
		raw, err := json.Marshal(p)
		require.NoError(t, err)
		var back ObservationSchedulePayload
		require.NoError(t, json.Unmarshal(raw, &back))
		require.NoError(t, back.Validate())
	})
}
