package schedule

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/orbit"
)

const issOMM = `{"OBJECT_NAME":"ISS (ZARYA)","OBJECT_ID":"1998-067A","EPOCH":"2008-09-20T12:25:40.104192",` +
	`"MEAN_MOTION":15.72125391,"ECCENTRICITY":0.0006703,"INCLINATION":51.6416,"RA_OF_ASC_NODE":247.4627,` +
	`"ARG_OF_PERICENTER":130.536,"MEAN_ANOMALY":325.0288,"EPHEMERIS_TYPE":0,"CLASSIFICATION_TYPE":"U",` +
	`"NORAD_CAT_ID":25544,"ELEMENT_SET_NO":292,"REV_AT_EPOCH":56353,"BSTAR":-1.1606e-5,"MEAN_MOTION_DOT":-2.182e-5,"MEAN_MOTION_DDOT":0}`

func TestParseElementSet(t *testing.T) {
	t.Parallel()
	badSum := issLine1[:68] + "0"
	tests := []struct {
		name  string
		es    api.ObservationElementSet
		norad int
		field string // "" means valid
	}{
		{"tle", api.ObservationElementSet{Name: "ISS", Line1: issLine1, Line2: issLine2}, 25544, ""},
		{"omm", api.ObservationElementSet{OMM: json.RawMessage(issOMM)}, 25544, ""},
		{"tle for another spacecraft", api.ObservationElementSet{Line1: issLine1, Line2: issLine2}, 25545, "element_set.line1"},
		{"omm for another spacecraft", api.ObservationElementSet{OMM: json.RawMessage(issOMM)}, 1, "element_set.omm"},
		{"bad checksum", api.ObservationElementSet{Line1: badSum, Line2: issLine2}, 25544, "element_set"},
		{"omm garbage", api.ObservationElementSet{OMM: json.RawMessage(`{"NORAD_CAT_ID":`)}, 25544, "element_set.omm"},
		{"two omms", api.ObservationElementSet{OMM: json.RawMessage("[" + issOMM + "," + issOMM + "]")}, 25544, "element_set.omm"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			set, err := ParseElementSet(tc.es, tc.norad)
			if tc.field == "" {
				require.NoError(t, err)
				assert.Equal(t, 25544, set.NORADID)
				return
			}
			var fe *api.ObservationFieldError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, tc.field, fe.Field, "%v", err)
		})
	}
}

func TestOrbitTargetsLookLikeTheObserver(t *testing.T) {
	t.Parallel()
	obs, err := orbit.NewObserver(48.1, 11.6, 520)
	require.NoError(t, err)
	p := api.ObservationSchedulePayload{NoradID: 25544, ElementSet: api.ObservationElementSet{Line1: issLine1, Line2: issLine2}}
	target, err := OrbitTargets(obs)(p)
	require.NoError(t, err)
	at := time.Date(2008, 9, 20, 13, 0, 0, 0, time.UTC)
	got, err := target.Look(at)
	require.NoError(t, err)
	set, err := orbit.ParseTLE("", issLine1, issLine2)
	require.NoError(t, err)
	prop, err := orbit.NewPropagator(set)
	require.NoError(t, err)
	want, err := obs.Look(prop, at)
	require.NoError(t, err)
	assert.InDelta(t, want.AzimuthDeg, got.AzDeg, 1e-9)
	assert.InDelta(t, want.ElevationDeg, got.ElDeg, 1e-9)
	assert.InDelta(t, want.RangeRateKmS, got.RangeRateKmS, 1e-12)
}

// FuzzScheduleCommand feeds arbitrary payloads to the observation.schedule handler: nothing may
// panic, and whatever is accepted must be stored and read back intact.
func FuzzScheduleCommand(f *testing.F) {
	aos := time.Date(2026, 6, 26, 12, 0, 0, 0, time.UTC)
	good, err := json.Marshal(api.ObservationSchedulePayload{ObservationID: "obs-a", NoradID: 25544,
		ElementSet: api.ObservationElementSet{Line1: issLine1, Line2: issLine2}, AOS: aos, LOS: aos.Add(10 * time.Minute),
		Transmitter: api.ObservationTransmitter{DownlinkHz: 145.8e6}})
	require.NoError(f, err)
	f.Add(string(good))
	f.Add(`{"observation_id":"x","element_set":{"omm":` + issOMM + `}}`)
	f.Add(`[]`)
	f.Add(`{"observation_id":"a","norad_id":25544,"element_set":{"line1":"1","line2":"2"}}`)
	fx := newFixture(f, f.TempDir(), aos.Add(-time.Hour))
	fx.s.targets = OrbitTargets(mustObserver(f))
	h := fx.s.Handlers()[api.CommandObservationSchedule]
	f.Fuzz(func(t *testing.T, body string) {
		out, err := h(t.Context(), api.Command{Type: api.CommandObservationSchedule, Payload: json.RawMessage(body)})
		if err != nil {
			return
		}
		var res api.ObservationScheduleResult
		require.NoError(t, json.Unmarshal(out, &res))
		_, ok, err := fx.s.store.Get(res.ObservationID)
		require.NoError(t, err)
		require.True(t, ok)
		_, err = fx.s.Cancel(t.Context(), res.ObservationID)
		require.NoError(t, err)
	})
}

func mustObserver(f *testing.F) *orbit.Observer {
	obs, err := orbit.NewObserver(48.1, 11.6, 520)
	require.NoError(f, err)
	return obs
}
