package observations_test

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/talos-gs/talos/backend/catalog"
	"github.com/talos-gs/talos/backend/commands"
	"github.com/talos-gs/talos/backend/observations"
	"github.com/talos-gs/talos/backend/planner"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/orbit"
)

// The ISS's element set of the shared catalog (epoch 2026-06-26 16:06 UTC).
const (
	issName  = "ISS (ZARYA)"
	issLine1 = "1 25544U 98067A   26177.67101756  .00008101  00000+0  15268-3 0  9990"
	issLine2 = "2 25544  51.6322 253.1475 0004299 235.1263 124.9322 15.49442433573225"
	issNORAD = 25544
)

// clock is a settable clock shared by the service under test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// world is a store with a team, a station of it in Munich and the ISS in the global catalog
// with one FM transmitter, and a Service on a settable clock.
type world struct {
	st      *store.Store
	cat     *catalog.Catalog
	cmds    *commands.Service
	svc     *observations.Service
	clk     *clock
	team    string
	station *store.Satellite
	txID    string
}

func newWorld(t *testing.T, st *store.Store, settings ...func(*observations.Settings)) *world {
	t.Helper()
	ctx := t.Context()
	w := &world{st: st, clk: &clock{t: time.Date(2026, 6, 26, 18, 0, 0, 0, time.UTC)}}
	w.cat = &catalog.Catalog{Store: st, Log: zaptest.NewLogger(t), Now: w.clk.Now}
	w.cmds = commands.New(commands.Options{Store: st, Logger: zaptest.NewLogger(t)})
	team, err := st.CreateTeam(ctx, "Lab "+uuid.NewString()[:8], "")
	require.NoError(t, err)
	w.team = team.ID
	w.station = w.newStation(t, w.team, 48.15, 11.57)
	w.importSet(t, issLine1)
	down := int64(145_800_000)
	_, err = st.UpsertTransmitters(ctx, "", "test", []store.TransmitterFor{{NORADID: issNORAD,
		Transmitter: store.Transmitter{ExternalID: "iss-fm", Description: "FM voice", Alive: true, Status: "active",
			DownlinkLow: &down, Mode: "FM"}}})
	require.NoError(t, err)
	txs, err := st.Transmitters(ctx, w.spacecraftID(t))
	require.NoError(t, err)
	require.Len(t, txs, 1)
	w.txID = txs[0].ID
	var set observations.Settings
	for _, f := range settings {
		f(&set)
	}
	w.svc = w.newService(t, set)
	return w
}

func (w *world) newService(t *testing.T, set observations.Settings) *observations.Service {
	return observations.New(observations.Options{Store: w.st, Commands: w.cmds, Catalog: w.cat,
		Logger: zaptest.NewLogger(t), Settings: set, Now: w.clk.Now})
}

// newStation registers an online station of teamID at lat, lon.
func (w *world) newStation(t *testing.T, teamID string, lat, lon float64) *store.Satellite {
	t.Helper()
	ctx := t.Context()
	tok := &store.RegistrationToken{ID: store.NewID(), TeamID: &teamID, ExpiresAt: w.st.Now().Add(time.Hour), UsesAllowed: 1}
	require.NoError(t, w.st.CreateRegistrationToken(ctx, tok))
	sat, err := w.st.RegisterSatellite(ctx, store.Registration{TokenID: tok.ID, Name: "roof-" + uuid.NewString()[:4],
		Lat: lat, Lon: lon, AltM: 500, APIKeyID: uuid.NewString()[:16], APIKeyHash: "hash", HeartbeatSeconds: 30})
	require.NoError(t, err)
	return sat
}

func (w *world) spacecraftID(t *testing.T) string {
	t.Helper()
	tracked, err := w.cat.Visible(t.Context(), w.team, catalog.Filter{NORADIDs: []int{issNORAD}})
	require.NoError(t, err)
	require.Len(t, tracked, 1)
	return tracked[0].SpacecraftID
}

// importSet imports the ISS with line1 (line 2 unchanged) into the global catalog.
func (w *world) importSet(t *testing.T, line1 string) {
	t.Helper()
	rep, err := w.cat.Import(t.Context(), catalog.ImportRequest{Source: "test",
		Data: []byte(issName + "\n" + line1 + "\n" + issLine2 + "\n")})
	require.NoError(t, err)
	require.Equal(t, 1, rep.Accepted, "%+v", rep)
}

// shiftedEpoch is the ISS's line 1 with its epoch moved by d (so its passes move by about d),
// with the checksum fixed.
func shiftedEpoch(t *testing.T, d time.Duration) string {
	t.Helper()
	day, err := strconv.ParseFloat(strings.TrimSpace(issLine1[20:32]), 64)
	require.NoError(t, err)
	day += d.Hours() / 24
	l := issLine1[:20] + fmt.Sprintf("%012.8f", day) + issLine1[32:68]
	sum := 0
	for _, c := range l {
		switch {
		case c >= '0' && c <= '9':
			sum += int(c - '0')
		case c == '-':
			sum++
		}
	}
	return l + strconv.Itoa(sum%10)
}

// passes plans the ISS over the station from the clock's time for hours.
func (w *world) passes(t *testing.T, station *store.Satellite, hours int) []planner.Pass {
	t.Helper()
	es, err := orbit.ParseTLE(issName, issLine1, issLine2)
	require.NoError(t, err)
	from := w.clk.Now()
	res, err := planner.Plan(t.Context(), planner.Request{
		Spacecraft: []planner.Spacecraft{{NORAD: issNORAD, Elements: es}},
		Stations:   []planner.Station{{ID: station.ID, LatDeg: station.Lat, LonDeg: station.Lon, AltM: station.AltM}},
		From:       from, To: from.Add(time.Duration(hours) * time.Hour)})
	require.NoError(t, err)
	var out []planner.Pass
	for _, p := range res.Passes {
		if !p.InProgressAtStart && !p.InProgressAtEnd {
			out = append(out, p)
		}
	}
	require.NotEmpty(t, out)
	return out
}

// input books pass p on the world's station.
func (w *world) input(p planner.Pass) observations.ScheduleInput {
	return observations.ScheduleInput{TeamID: w.team, SatelliteID: w.station.ID, NORAD: issNORAD, AOS: p.AOS, LOS: p.LOS,
		TransmitterID: w.txID, CreatedBy: "tester"}
}

// commandsOf lists the station's commands of type typ, oldest first.
func (w *world) commandsOf(t *testing.T, satelliteID, typ string) []store.Command {
	t.Helper()
	all, err := w.cmds.History(t.Context(), commands.HistoryQuery{SatelliteID: satelliteID, Limit: commands.MaxHistoryLimit})
	require.NoError(t, err)
	var out []store.Command
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].Type == typ {
			out = append(out, all[i])
		}
	}
	return out
}
