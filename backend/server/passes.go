package server

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/talos-gs/talos/backend/catalog"
	"github.com/talos-gs/talos/backend/planner"
	"github.com/talos-gs/talos/backend/store"
)

// Limits of GET /api/teams/{team}/passes.
const (
	// maxPassHours is the longest window one request may plan, hours.
	maxPassHours = 7 * 24
	// maxPassFilter bounds the satellite_id and norad lists.
	maxPassFilter = 1000
)

func (s *Server) passRoutes() {
	s.teamAPI.GET("/passes", s.listPasses)
}

// passQuery is the parsed query of a passes request.
type passQuery struct {
	from, to     time.Time
	minEl        float64
	satelliteIDs []string
	filter       catalog.Filter
}

// passJSON is one pass in the answer; satellite_id is the station, norad and name the spacecraft.
type passJSON struct {
	SatelliteID  string    `json:"satellite_id"`
	SpacecraftID string    `json:"spacecraft_id"`
	NORAD        int       `json:"norad"`
	Name         string    `json:"name"`
	AOS          time.Time `json:"aos"`
	TCA          time.Time `json:"tca"`
	LOS          time.Time `json:"los"`
	MaxEl        float64   `json:"max_el"`
	AOSAz        float64   `json:"aos_az"`
	LOSAz        float64   `json:"los_az"`
	InProgress   string    `json:"in_progress,omitempty"`
	StaleSet     bool      `json:"stale_element_set,omitempty"`
}

// listPasses plans the passes of the team's catalog (global and own spacecraft with an element
// set) over the team's stations that report a location. Any member, viewers included, may ask.
// Planning is CPU work, so at most one request per core plans at a time; others get 503.
func (s *Server) listPasses(c *gin.Context) {
	q, err := parsePassQuery(c, s.opts.Now())
	if err != nil {
		s.fail(c, err)
		return
	}
	if !s.takePlanSlot(c) {
		return
	}
	defer s.releasePlanSlot()
	ctx := c.Request.Context()
	team := teamOf(c)
	tracked, err := s.catalog.Visible(ctx, team.ID, q.filter)
	if err != nil {
		s.fail(c, err)
		return
	}
	sats, err := s.store.Satellites(ctx, &team.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	shared, err := s.store.SatellitesSharedWith(ctx, team.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	sats = append(sats, shared...)
	req, stations, err := passRequest(q, tracked, sats)
	if err != nil {
		s.fail(c, err)
		return
	}
	res, err := planner.Plan(ctx, req)
	if err != nil {
		s.fail(c, err)
		return
	}
	planner.SortByAOS(res.Passes)
	out := make([]passJSON, len(res.Passes))
	for i, p := range res.Passes {
		t := &tracked[p.Spacecraft]
		out[i] = passJSON{SatelliteID: stations[p.Station], SpacecraftID: t.SpacecraftID, NORAD: t.NORADID,
			Name: t.Name, AOS: p.AOS, TCA: p.TCA, LOS: p.LOS, MaxEl: round2(p.MaxElevationDeg),
			AOSAz: round2(p.AOSAzimuthDeg), LOSAz: round2(p.LOSAzimuthDeg), InProgress: inProgress(p), StaleSet: t.Stale}
	}
	writeJSON(c, http.StatusOK, gin.H{"passes": out, "from": q.from, "to": q.to})
}

func parsePassQuery(c *gin.Context, now time.Time) (passQuery, error) {
	q := passQuery{from: now.UTC()}
	if v := c.Query("from"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return q, errInvalid("from", "from must be an RFC 3339 time")
		}
		q.from = t.UTC()
	}
	hours := 24.0
	if v := c.Query("hours"); v != "" {
		h, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(h) || h <= 0 || h > maxPassHours {
			return q, errInvalid("hours", "hours must be a number above 0 and at most %d", maxPassHours)
		}
		hours = h
	}
	q.to = q.from.Add(time.Duration(hours * float64(time.Hour)))
	if v := c.Query("min_el"); v != "" {
		d, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(d) || d < -90 || d >= 90 {
			return q, errInvalid("min_el", "min_el must be degrees in [-90, 90)")
		}
		q.minEl = d
	}
	q.satelliteIDs = c.QueryArray("satellite_id")
	for _, id := range q.satelliteIDs {
		if !store.ValidID(id) {
			return q, errInvalid("satellite_id", "%q is not a satellite id", id)
		}
	}
	q.filter.SpacecraftIDs = c.QueryArray("spacecraft_id")
	for _, id := range q.filter.SpacecraftIDs {
		if !store.ValidID(id) {
			return q, errInvalid("spacecraft_id", "%q is not a spacecraft id", id)
		}
	}
	for _, v := range c.QueryArray("norad") {
		n, err := catalog.ParseNORAD(v)
		if err != nil {
			return q, errInvalid("norad", "%v", err)
		}
		q.filter.NORADIDs = append(q.filter.NORADIDs, n)
	}
	if len(q.satelliteIDs)+len(q.filter.SpacecraftIDs)+len(q.filter.NORADIDs) > maxPassFilter {
		return q, errInvalid("", "at most %d satellite_id, spacecraft_id and norad values", maxPassFilter)
	}
	return q, nil
}

// passRequest builds the planner's request; stations[i] is the satellite id of station i. Each
// station brings its own minimum elevation and horizon mask (a stored mask that no longer
// parses is an error naming the satellite).
func passRequest(q passQuery, tracked []catalog.Tracked, sats []store.Satellite) (planner.Request, []string, error) {
	req := planner.Request{From: q.from, To: q.to, MinElevationDeg: q.minEl}
	for _, t := range tracked {
		req.Spacecraft = append(req.Spacecraft, planner.Spacecraft{NORAD: t.NORADID, Name: t.Name, Elements: t.Elements})
	}
	var ids []string
	for _, sat := range sats {
		if len(q.satelliteIDs) > 0 && !slices.Contains(q.satelliteIDs, sat.ID) {
			continue
		}
		mask, err := planner.StationMask(sat.HorizonMask)
		if err != nil {
			return req, nil, fmt.Errorf("satellite %s: %w", sat.ID, err)
		}
		req.Stations = append(req.Stations, planner.Station{ID: sat.ID, LatDeg: sat.Lat, LonDeg: sat.Lon, AltM: sat.AltM,
			Mask: mask, MinElevationDeg: sat.MinElevationDeg})
		ids = append(ids, sat.ID)
	}
	return req, ids, nil
}

func inProgress(p planner.Pass) string {
	switch {
	case p.InProgressAtStart && p.InProgressAtEnd:
		return "both"
	case p.InProgressAtStart:
		return "start"
	case p.InProgressAtEnd:
		return "end"
	}
	return ""
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }
