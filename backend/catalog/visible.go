package catalog

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/orbit"
)

// Filter narrows Visible. Empty slices filter nothing; when both are given, a spacecraft
// matching either is kept.
type Filter struct {
	// SpacecraftIDs are catalog ids (store ids of spacecraft).
	SpacecraftIDs []string
	// NORADIDs are catalog numbers (parse user input with ParseNORAD, which accepts Alpha-5).
	NORADIDs []int
}

// Tracked is a spacecraft a team can see, with its current element set parsed.
type Tracked struct {
	// SpacecraftID is the catalog id; TeamID is "" for a spacecraft of the global catalog.
	SpacecraftID string
	TeamID       string
	NORADID      int
	Name         string
	// ElementSetID names the stored set Elements were parsed from.
	ElementSetID string
	// Elements is the current element set, ready for orbit.NewPropagator.
	Elements *orbit.ElementSet
	// Age is how old the set's epoch is at the time of the call; Stale applies the catalog's
	// thresholds (3 days in LEO by default): a planner may still use a stale set, but should say so.
	Age   time.Duration
	Stale bool
}

// Visible returns the spacecraft teamID can see that have an element set (the global catalog
// plus the team's own), each with its CURRENT element set parsed into orbit elements; this is
// what the pass planner propagates. Spacecraft without any element set cannot be planned and are
// left out. Where a team owns a spacecraft with the same NORAD id as one of the global catalog,
// the team's own one wins and the global one is left out, so each NORAD id appears once. The
// result is ordered by NORAD id. A stored set that no longer parses (it passed the same parser
// when it was stored, so only a parser change can do this) is logged and left out rather than
// failing the whole plan.
func (c *Catalog) Visible(ctx context.Context, teamID string, f Filter) ([]Tracked, error) {
	rows, err := c.Store.CurrentElementSets(ctx, teamID, store.SpacecraftQuery{IDs: f.SpacecraftIDs, NORADIDs: f.NORADIDs})
	if err != nil {
		return nil, fmt.Errorf("visible spacecraft of team %s: %w", teamID, err)
	}
	now, th := c.now(), c.Thresholds()
	out := make([]Tracked, 0, len(rows))
	for i := range rows {
		sc, set := &rows[i].Spacecraft, &rows[i].Set
		if len(out) > 0 && out[len(out)-1].NORADID == sc.NORADID {
			continue // the team's own spacecraft sorts first and shadows the global one
		}
		es, err := ParseStored(set.Format, set.Raw)
		if err != nil {
			c.Log.Error("stored element set does not parse", zap.String("spacecraft_id", sc.ID),
				zap.Int("norad_id", sc.NORADID), zap.String("element_set_id", set.ID), zap.Error(err))
			continue
		}
		t := Tracked{SpacecraftID: sc.ID, NORADID: sc.NORADID, Name: sc.Name, ElementSetID: set.ID,
			Elements: es, Age: now.Sub(set.Epoch), Stale: IsStale(th, set.Epoch, set.MeanMotion, now)}
		if sc.TeamID != nil {
			t.TeamID = *sc.TeamID
		}
		out = append(out, t)
	}
	return out, nil
}
