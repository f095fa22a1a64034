package catalog_test

import (
	"os"
	"testing"
	"unicode/utf8"

	"github.com/talos-gs/talos/backend/catalog"
)

// FuzzParseTransmitters: any input is either parsed into valid transmitters or reported record
// by record; nothing panics, and everything returned passes validation.
func FuzzParseTransmitters(f *testing.F) {
	f.Add([]byte(`[{"uuid":"a","norad_cat_id":25544,"downlink_low":437800000,"status":"active","baud":9600}]`))
	f.Add([]byte(`{"uuid":"b","norad_cat_id":1,"uplink_low":1,"uplink_high":0}`))
	f.Add([]byte(`[{"uuid":"c","norad_cat_id":"x"},{"uuid":"d","norad_cat_id":5,"baud":-1},`))
	f.Add([]byte(`[1, "x", null, {}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		txs, errs := catalog.ParseTransmitters(data)
		for _, p := range txs {
			if field, err := p.Transmitter.Validate(); err != nil {
				t.Fatalf("returned an invalid transmitter (%s: %v)", field, err)
			}
		}
		for _, e := range errs {
			if e.Message == "" {
				t.Fatalf("record error without a message: %+v", e)
			}
		}
	})
}

// FuzzParseElementSets: the record splitter of every element set format never panics, keeps
// line numbers inside the input, and returns only sets whose stored text parses again to the
// same catalog number and epoch.
func FuzzParseElementSets(f *testing.F) {
	if data, err := os.ReadFile("testdata/celestrak-active-2026-177.tle"); err == nil {
		f.Add(data[:600])
	}
	for _, name := range []string{"../../orbit/testdata/omm-iss.json", "../../orbit/testdata/omm-iss.kvn"} {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(tle("X", "A0001", 177.5) + "2 stray\n1 lonely\nNAME\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if !utf8.Valid(data) {
			return // Import refuses non-text before parsing
		}
		lines := 1
		for _, b := range data {
			if b == '\n' {
				lines++
			}
		}
		for _, format := range []catalog.Format{catalog.FormatTLE, catalog.FormatOMMJSON, catalog.FormatOMMKVN} {
			sets, errs := catalog.ParseElementSets(data, format)
			for _, e := range errs {
				if e.Line < 0 || e.Line > lines {
					t.Fatalf("%s: error line %d outside the input's %d lines", format, e.Line, lines)
				}
			}
			for _, ps := range sets {
				es, err := catalog.ParseStored(string(ps.Format), ps.Raw)
				if err != nil {
					t.Fatalf("%s: stored text does not parse again: %v\n%q", format, err, ps.Raw)
				}
				if es.NORADID != ps.Elements.NORADID || !es.Epoch.Equal(ps.Elements.Epoch) {
					t.Fatalf("%s: stored text parses to another set", format)
				}
			}
		}
	})
}
