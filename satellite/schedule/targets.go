package schedule

import (
	"bytes"
	"fmt"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/orbit"
	"github.com/talos-gs/talos/satellite/tracker"
)

// ParseElementSet parses an observation's element set (the TLE lines, else the OMM) and checks
// it describes norad. Errors are *api.ObservationFieldError naming the field.
func ParseElementSet(es api.ObservationElementSet, norad int) (*orbit.ElementSet, error) {
	var set *orbit.ElementSet
	field := "element_set.line1"
	if es.Line1 != "" || es.Line2 != "" {
		s, err := orbit.ParseTLE(es.Name, es.Line1, es.Line2)
		if err != nil {
			return nil, &api.ObservationFieldError{Field: "element_set", Message: err.Error()}
		}
		set = s
	} else {
		field = "element_set.omm"
		sets, err := orbit.ParseOMMJSON(bytes.NewReader(es.OMM))
		if err != nil {
			return nil, &api.ObservationFieldError{Field: field, Message: err.Error()}
		}
		if len(sets) != 1 {
			return nil, &api.ObservationFieldError{Field: field, Message: fmt.Sprintf("holds %d element sets, want 1", len(sets))}
		}
		set = sets[0]
	}
	if set.NORADID != norad {
		return nil, &api.ObservationFieldError{Field: field, Message: fmt.Sprintf("is for NORAD %d, not norad_id %d", set.NORADID, norad)}
	}
	return set, nil
}

// OrbitTargets returns the TargetFunc of a real station: SGP4 on the observation's element
// set, seen from obs.
func OrbitTargets(obs *orbit.Observer) TargetFunc {
	return func(p api.ObservationSchedulePayload) (tracker.Target, error) {
		set, err := ParseElementSet(p.ElementSet, p.NoradID)
		if err != nil {
			return nil, err
		}
		prop, err := orbit.NewPropagator(set)
		if err != nil {
			return nil, &api.ObservationFieldError{Field: "element_set", Message: err.Error()}
		}
		return tracker.OrbitTarget{Ephemeris: prop, Observer: obs}, nil
	}
}
