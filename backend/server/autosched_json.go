package server

import (
	"math"
	"time"

	"github.com/talos-gs/talos/backend/autosched"
)

// autoschedPassJSON is a pass the auto-scheduler booked (or would book, or skipped): the pass
// as GET …/passes shows it, and what the auto-scheduler made of it.
type autoschedPassJSON struct {
	passJSON
	TeamID        string  `json:"team_id"`
	ElementSetID  string  `json:"element_set_id"`
	TransmitterID string  `json:"transmitter_id"`
	Decoder       string  `json:"decoder,omitempty"`
	Priority      int     `json:"priority"`
	Quality       float64 `json:"quality"`
	Score         float64 `json:"score"`
	// Of a skipped pass only:
	Reason   autosched.Reason `json:"reason,omitempty"`
	Conflict *conflictJSON    `json:"conflict,omitempty"`
	Detail   string           `json:"detail,omitempty"`
}

// conflictJSON names what a skipped pass collided with: an observation already booked, or a
// pass chosen in the same run.
type conflictJSON struct {
	ObservationID string    `json:"observation_id,omitempty"`
	TeamID        string    `json:"team_id,omitempty"`
	NORAD         int       `json:"norad,omitempty"`
	AOS           time.Time `json:"aos"`
	LOS           time.Time `json:"los"`
}

type autoschedReportJSON struct {
	TeamID          string                     `json:"team_id"`
	DryRun          bool                       `json:"dry_run"`
	From            time.Time                  `json:"from"`
	To              time.Time                  `json:"to"`
	Booked          []autoschedPassJSON        `json:"booked"`
	Skipped         []autoschedPassJSON        `json:"skipped"`
	SkippedTotal    int                        `json:"skipped_total"`
	SkippedByReason map[autosched.Reason]int   `json:"skipped_by_reason"`
	Targets         []targetProblemJSON        `json:"targets"`
	Errors          []autoschedSpacecraftError `json:"errors"`
	Stats           autoschedStatsJSON         `json:"stats"`
}

type targetProblemJSON struct {
	TeamID  string `json:"team_id"`
	NORAD   int    `json:"norad"`
	Problem string `json:"problem"`
}

type autoschedSpacecraftError struct {
	NORAD        int    `json:"norad"`
	ElementSetID string `json:"element_set_id"`
	Error        string `json:"error"`
}

type autoschedStatsJSON struct {
	Stations   int   `json:"stations"`
	Spacecraft int   `json:"spacecraft"`
	Passes     int   `json:"passes"`
	Candidates int   `json:"candidates"`
	PlanMS     int64 `json:"plan_ms"`
	ChooseMS   int64 `json:"choose_ms"`
}

func toPassJSON(c *autosched.Choice) autoschedPassJSON {
	p := &c.Pass
	return autoschedPassJSON{passJSON: passJSON{SatelliteID: c.StationID, SpacecraftID: c.SpacecraftID, NORAD: c.NORAD,
		Name: c.Name, AOS: p.AOS, TCA: p.TCA, LOS: p.LOS, MaxEl: round2(p.MaxElevationDeg), AOSAz: round2(p.AOSAzimuthDeg),
		LOSAz: round2(p.LOSAzimuthDeg), InProgress: inProgress(*p)},
		TeamID: c.TeamID, ElementSetID: c.ElementSetID, TransmitterID: c.TransmitterID, Decoder: c.Decoder,
		Priority: c.Priority, Quality: round4(c.Quality), Score: round4(c.Score)}
}

func toReportJSON(rep *autosched.Report) autoschedReportJSON {
	out := autoschedReportJSON{TeamID: rep.TeamID, DryRun: rep.DryRun, From: rep.From, To: rep.To,
		Booked: make([]autoschedPassJSON, len(rep.Chosen)), Skipped: []autoschedPassJSON{}, SkippedTotal: len(rep.Skipped),
		SkippedByReason: map[autosched.Reason]int{}, Targets: []targetProblemJSON{}, Errors: []autoschedSpacecraftError{},
		Stats: autoschedStatsJSON{Stations: rep.Stats.Stations, Spacecraft: rep.Stats.Spacecraft, Passes: rep.Stats.Passes,
			Candidates: rep.Stats.Candidates, PlanMS: rep.Stats.Plan.Milliseconds(), ChooseMS: rep.Stats.Choose.Milliseconds()}}
	for i := range rep.Chosen {
		out.Booked[i] = toPassJSON(&rep.Chosen[i])
	}
	for i := range rep.Skipped {
		sk := &rep.Skipped[i]
		out.SkippedByReason[sk.Reason]++
		if len(out.Skipped) == maxSkippedShown {
			continue
		}
		p := toPassJSON(&sk.Choice)
		p.Reason, p.Detail = sk.Reason, sk.Detail
		if k := sk.Conflict; k != nil {
			p.Conflict = &conflictJSON{ObservationID: k.BookingID, TeamID: k.TeamID, NORAD: k.NORAD, AOS: k.AOS, LOS: k.LOS}
		}
		out.Skipped = append(out.Skipped, p)
	}
	for _, t := range rep.Targets {
		out.Targets = append(out.Targets, targetProblemJSON{TeamID: t.TeamID, NORAD: t.NORAD, Problem: t.Problem})
	}
	for _, e := range rep.Errors {
		out.Errors = append(out.Errors, autoschedSpacecraftError{NORAD: e.NORAD, ElementSetID: e.ElementSetID, Error: e.Err})
	}
	return out
}

func round4(x float64) float64 { return math.Round(x*1e4) / 1e4 }
