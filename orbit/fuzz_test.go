package orbit

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// propagateAny exercises the propagator on a parsed set: whatever the elements, it must return
// values or errors, never panic or hang.
func propagateAny(t *testing.T, es *ElementSet) {
	if err := es.Validate(); err != nil {
		t.Fatalf("parser returned an invalid set: %v", err)
	}
	p, err := NewPropagator(es)
	if err != nil {
		return
	}
	for _, m := range []float64{0, 1, -1, 720.5, -1441, 1e5} {
		_, _, _ = p.PropagateMinutes(m)
	}
}

func FuzzParseTLE(f *testing.F) {
	f.Add(issName, issLine1, issLine2)
	f.Add("", "1 00005U 58002B   00179.78495062  .00000023  00000-0  28098-4 0  4753",
		"2 00005  34.2682 348.7242 1859667 331.7664  19.3264 10.82419157413667")
	f.Add("0 LES-5", "1 02866U 67066E   26177.94438318 -.00000053  00000+0  00000+0 0  9997",
		"2 02866   2.6457  96.0605 0051806 214.1796 272.2684  1.09425326131147")
	f.Add("", "1 A0000U 98067A   08264.51782528 -.00002182  00000-0 -11606-4 0  2927",
		"2 A0000  51.6416 247.4627 0006703 130.5360 325.0288 15.72125391563537")
	f.Fuzz(func(t *testing.T, name, l1, l2 string) {
		es, err := ParseTLE(name, l1, l2)
		if err != nil {
			if es != nil {
				t.Fatal("element set returned with an error")
			}
			return
		}
		propagateAny(t, es)
	})
}

func FuzzParseTLEs(f *testing.F) {
	if data, err := os.ReadFile("testdata/SGP4-VER.TLE"); err == nil {
		f.Add(data[:2000])
	}
	f.Add([]byte(issName + "\n" + issLine1 + "\n" + issLine2 + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sets, err := ParseTLEs(bytes.NewReader(data))
		if err != nil && sets != nil {
			t.Fatal("sets returned with an error")
		}
		for _, es := range sets {
			if err := es.Validate(); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func FuzzParseOMMJSON(f *testing.F) {
	if data, err := os.ReadFile("testdata/omm-iss.json"); err == nil {
		f.Add(data)
	}
	f.Add([]byte(ommBase + "}"))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		sets, err := ParseOMMJSON(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, es := range sets {
			propagateAny(t, es)
		}
	})
}

func FuzzParseOMMKVN(f *testing.F) {
	if data, err := os.ReadFile("testdata/omm-iss.kvn"); err == nil {
		f.Add(string(data))
	}
	f.Add("CCSDS_OMM_VERS = 2.0\nEPOCH = 2008-264T00:00:00\n")
	f.Fuzz(func(t *testing.T, data string) {
		sets, err := ParseOMMKVN(strings.NewReader(data))
		if err != nil {
			return
		}
		for _, es := range sets {
			propagateAny(t, es)
		}
	})
}

// FuzzPropagateMinutes propagates resonant and near-Earth sets at arbitrary times: any float,
// including NaN, infinities and times beyond the allowed range, must give a state or an error,
// never a panic, a hang or a NaN state without an error.
func FuzzPropagateMinutes(f *testing.F) {
	for _, m := range []float64{0, -720, 719.999, 1e6, -1e8, 1e8 + 1} {
		f.Add(m)
	}
	props := []*Propagator{
		mustPropagator(f, issLine1, issLine2),
		mustPropagator(f, geoLine1, geoLine2),
		mustPropagator(f, molniyaLine1, molniyaLine2),
	}
	f.Fuzz(func(t *testing.T, m float64) {
		for _, p := range props {
			r, v, err := p.PropagateMinutes(m)
			if err == nil && !isFinite(r.X+r.Y+r.Z+v.X+v.Y+v.Z) {
				t.Fatalf("non-finite state without error at %v min", m)
			}
		}
	})
}
