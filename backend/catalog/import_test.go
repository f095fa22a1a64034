package catalog_test

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/catalog"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

// TestImportTLEGoodAndBadRecords: every bad record is reported with its line (and field where
// there is one) and the good records around it are stored.
func TestImportTLEGoodAndBadRecords(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		c := newCatalog(t, st)
		badSum := tle("BAD SUM", "40001", 177.5)
		badSum = badSum[:len(badSum)-2] + "0\n" // last digit of line 2: the checksum
		if badSum == tle("BAD SUM", "40001", 177.5) {
			badSum = badSum[:len(badSum)-2] + "1\n"
		}
		badEcc := tle("BAD ECC", "40002", 177.5)
		l2 := []byte(badEcc[len(badEcc)-70:])
		copy(l2[26:33], "-000001") // a negative eccentricity
		badEcc = badEcc[:len(badEcc)-70] + withChecksum(string(l2[:69])) + "\n"
		data := lines(
			tle("GOOD ONE", "40000", 177.5), // lines 1-3
			badSum,                          // lines 4-6
			"2 stray line two\n",            // line 7
			badEcc,                          // lines 8-10
			tle("GOOD TWO", "A0001", 177.5), // lines 11-13 (Alpha-5)
			"LONELY NAME\n",                 // line 14
		)
		rep := mustImport(t, c, catalog.ImportRequest{Source: "test", Data: []byte(data)})
		assert.Equal(t, catalog.FormatTLE, rep.Format)
		assert.Equal(t, 2, rep.Accepted)
		assert.Equal(t, 2, rep.SpacecraftCreated)
		assert.Equal(t, 4, rep.Rejected, "%+v", rep.Errors)
		require.Len(t, rep.Errors, 4)
		assert.Equal(t, 4, rep.Errors[0].Line)
		assert.Contains(t, rep.Errors[0].Message, "checksum")
		assert.Equal(t, 7, rep.Errors[1].Line)
		assert.Contains(t, rep.Errors[1].Message, "line 2 without a line 1")
		assert.Equal(t, 8, rep.Errors[2].Line)
		assert.Equal(t, "eccentricity", rep.Errors[2].Field, rep.Errors[2].Message)
		assert.Equal(t, 14, rep.Errors[3].Line)

		got, err := c.Visible(t.Context(), "", catalog.Filter{})
		require.NoError(t, err)
		require.Len(t, got, 2)
		assert.Equal(t, 40000, got[0].NORADID)
		assert.Equal(t, "GOOD ONE", got[0].Name)
		assert.Equal(t, 100001, got[1].NORADID, "Alpha-5 A0001")
		assert.Equal(t, "A0001", catalog.FormatNORAD(got[1].NORADID))
		assert.Equal(t, day2026(177.5), got[1].Elements.Epoch.Round(time.Millisecond))
	})
}

// TestImportNewerEpochOnly: a set replaces the current one only when its epoch is newer; an
// older or equal one is refused and not stored, and the history keeps every accepted set.
func TestImportNewerEpochOnly(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		c := newCatalog(t, st)
		imp := func(day float64) *catalog.Report {
			return mustImport(t, c, catalog.ImportRequest{Source: "t", Data: []byte(tle("X", "40000", day))})
		}
		assert.Equal(t, 1, imp(177.5).Accepted)
		assert.Equal(t, 1, imp(178.5).Accepted, "newer")
		assert.Equal(t, 1, imp(176.5).Refused, "older")
		assert.Equal(t, 1, imp(178.5).Refused, "same epoch")

		got, err := c.Visible(t.Context(), "", catalog.Filter{NORADIDs: []int{40000}})
		require.NoError(t, err)
		require.Len(t, got, 1)
		assert.Equal(t, day2026(178.5), got[0].Elements.Epoch.Round(time.Millisecond))
		hist, err := st.ElementSetHistory(t.Context(), got[0].SpacecraftID, nil, 10)
		require.NoError(t, err)
		require.Len(t, hist, 2)
		assert.Equal(t, day2026(178.5), hist[0].Epoch.UTC().Round(time.Millisecond), "newest first")
		assert.Equal(t, "t", hist[0].Source)

		// Within one file, the same rule: a new spacecraft, a newer set, an older one.
		rep := mustImport(t, c, catalog.ImportRequest{Source: "one file", Data: []byte(
			tle("Y", "40001", 177.5) + tle("Y", "40001", 178.5) + tle("Y", "40001", 177.0))})
		assert.Equal(t, 1, rep.SpacecraftCreated)
		assert.Equal(t, 2, rep.Accepted)
		assert.Equal(t, 1, rep.Refused)
		got, err = c.Visible(t.Context(), "", catalog.Filter{NORADIDs: []int{40001}})
		require.NoError(t, err)
		require.Len(t, got, 1)
		assert.Equal(t, day2026(178.5), got[0].Elements.Epoch.Round(time.Millisecond))
		hist, err = st.ElementSetHistory(t.Context(), got[0].SpacecraftID, nil, 10)
		require.NoError(t, err)
		assert.Len(t, hist, 2)
	})
}

// TestImportOMM: OMM JSON and KVN, with a bad element among good ones.
func TestImportOMM(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		c := newCatalog(t, st)
		js, err := os.ReadFile("../../orbit/testdata/omm-iss.json")
		require.NoError(t, err)
		// A third element with an eccentricity of 2, on its own line.
		bad := `,
{"OBJECT_NAME":"BROKEN","OBJECT_ID":"2000-001A","EPOCH":"2026-06-26T00:00:00","MEAN_MOTION":15,"ECCENTRICITY":2,"INCLINATION":51,"RA_OF_ASC_NODE":1,"ARG_OF_PERICENTER":1,"MEAN_ANOMALY":1,"BSTAR":0,"MEAN_MOTION_DOT":0,"MEAN_MOTION_DDOT":0,"NORAD_CAT_ID":99990}]`
		data := string(js[:len(trimRight(js))-1]) + bad
		rep := mustImport(t, c, catalog.ImportRequest{Source: "celestrak", Data: []byte(data)})
		assert.Equal(t, catalog.FormatOMMJSON, rep.Format)
		assert.Equal(t, 2, rep.Accepted)
		require.Len(t, rep.Errors, 1)
		assert.Equal(t, 3, rep.Errors[0].Record)
		assert.Equal(t, 3, rep.Errors[0].Line)
		assert.Equal(t, "eccentricity", rep.Errors[0].Field, rep.Errors[0].Message)

		kvn, err := os.ReadFile("../../orbit/testdata/omm-iss.kvn")
		require.NoError(t, err)
		team, err := st.CreateTeam(t.Context(), "Cubesat", "")
		require.NoError(t, err)
		rep = mustImport(t, c, catalog.ImportRequest{TeamID: team.ID, Source: "kvn", Data: append(append([]byte{}, kvn...), kvn...)})
		assert.Equal(t, catalog.FormatOMMKVN, rep.Format)
		assert.Equal(t, 1, rep.Accepted)
		assert.Equal(t, 1, rep.Refused, "the same message twice: the second is not newer")

		got, err := c.Visible(t.Context(), team.ID, catalog.Filter{NORADIDs: []int{25544}})
		require.NoError(t, err)
		require.Len(t, got, 1)
		assert.Equal(t, team.ID, got[0].TeamID, "the team's own set shadows the global one")
	})
}

func trimRight(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}

// TestImportTransmitters: SatNOGS DB JSON, updated in place on a second import, bad records and
// unknown spacecraft reported by field.
func TestImportTransmitters(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		c := newCatalog(t, st)
		mustImport(t, c, catalog.ImportRequest{Data: []byte(tle("ISS", "25544", 177.5))})
		data := `[
{"uuid":"abc1","description":"Mode V/U FM","alive":true,"type":"Transceiver","uplink_low":145990000,"uplink_high":null,"downlink_low":437800000,"downlink_high":null,"mode":"FM","baud":null,"invert":false,"norad_cat_id":25544,"status":"active","service":"Amateur"},
{"uuid":"abc2","description":"APRS","alive":true,"type":"Transmitter","downlink_low":"145825000","norad_cat_id":25544,"status":"active"},
{"uuid":"abc3","description":"far away","downlink_low":437000000,"norad_cat_id":99999,"status":"active"},
{"uuid":"abc4","description":"bad status","downlink_low":437000000,"norad_cat_id":25544,"status":"weird"}
]`
		rep := mustImport(t, c, catalog.ImportRequest{Source: "satnogs", Data: []byte(data)})
		assert.Equal(t, catalog.FormatTransmitters, rep.Format)
		assert.Equal(t, 4, rep.Records)
		assert.Equal(t, 1, rep.Accepted)
		require.Len(t, rep.Errors, 3, "%+v", rep.Errors)
		assert.Equal(t, "downlink_low", rep.Errors[0].Field)
		assert.Equal(t, 3, rep.Errors[0].Line)
		assert.Equal(t, "norad_cat_id", rep.Errors[1].Field)
		assert.Equal(t, "status", rep.Errors[2].Field)

		// Again, with a changed description: updated in place.
		again := `[{"uuid":"abc1","description":"FM repeater","downlink_low":437800000,"norad_cat_id":25544}]`
		mustImport(t, c, catalog.ImportRequest{Source: "satnogs", Data: []byte(again)})
		got, err := c.Visible(t.Context(), "", catalog.Filter{})
		require.NoError(t, err)
		txs, err := st.Transmitters(t.Context(), got[0].SpacecraftID)
		require.NoError(t, err)
		require.Len(t, txs, 1)
		assert.Equal(t, "FM repeater", txs[0].Description)
		assert.Equal(t, int64(437800000), *txs[0].DownlinkLow)
	})
}

// TestImportRefusesNonText: binary input and NUL bytes never reach the database.
func TestImportRefusesNonText(t *testing.T) {
	t.Parallel()
	c := newCatalog(t, storetest.Open(t, store.SQLite))
	_, err := c.Import(t.Context(), catalog.ImportRequest{Data: []byte("ISS\x00\n")})
	assert.ErrorIs(t, err, catalog.ErrNotText)
	_, err = c.Import(t.Context(), catalog.ImportRequest{Data: []byte{0xff, 0xfe}})
	assert.ErrorIs(t, err, catalog.ErrNotText)
	_, err = c.Import(t.Context(), catalog.ImportRequest{Source: "a\x00b", Data: []byte(tle("X", "40000", 177.5))})
	assert.ErrorIs(t, err, catalog.ErrBadSource)
}

// TestImportActiveCatalog imports the real 571-object CelesTrak file on each dialect.
func TestImportActiveCatalog(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/celestrak-active-2026-177.tle")
	require.NoError(t, err)
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		c := newCatalog(t, st)
		rep := mustImport(t, c, catalog.ImportRequest{Source: "celestrak-active", Data: data})
		assert.Equal(t, 571, rep.Records)
		assert.Equal(t, 571, rep.Accepted, "%+v", rep.Errors)
		assert.Empty(t, rep.Errors)
		got, err := c.Visible(t.Context(), "", catalog.Filter{})
		require.NoError(t, err)
		assert.Len(t, got, 571)
		rep = mustImport(t, c, catalog.ImportRequest{Source: "celestrak-active", Data: data})
		assert.Equal(t, 571, rep.Refused, "the same file again changes nothing")
	})
}

// BenchmarkImportActiveCatalog measures importing the 571-object file into an empty catalog,
// on each dialect (PostgreSQL when TALOS_TEST_DATABASE_URL is set).
func BenchmarkImportActiveCatalog(b *testing.B) {
	data, err := os.ReadFile("testdata/celestrak-active-2026-177.tle")
	require.NoError(b, err)
	for _, d := range storetest.Dialects(b) {
		b.Run(string(d), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				c := newCatalog(b, storetest.Open(b, d))
				b.StartTimer()
				rep, err := c.Import(b.Context(), catalog.ImportRequest{Source: "bench", Data: data})
				if err != nil || rep.Accepted != 571 {
					b.Fatalf("import: %v %+v", err, rep)
				}
			}
		})
	}
}
