// Package catalog is the spacecraft catalog: spacecraft (global or owned by a team), their
// element sets kept as a history, and their transmitters. It imports TLE, OMM (JSON and KVN) and
// SatNOGS DB transmitter files, record by record so one bad record never stops the rest; fetches
// sources on a schedule (fetch.go); warns about stale element sets (stale.go); and hands the
// planner each visible spacecraft's current elements, parsed by orbit (Visible). It knows no
// HTTP: the server, the CLI and the background loops call it. docs/catalog.md describes it.
package catalog

import (
	"time"

	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/store"
)

// Defaults of a Catalog.
const (
	// DefaultStaleLEO is how old a low-Earth-orbit set may be before it counts as stale.
	DefaultStaleLEO = 3 * 24 * time.Hour
	// DefaultStaleOther is the same for every other orbit, whose sets change more slowly.
	DefaultStaleOther = 14 * 24 * time.Hour
	// LEOMeanMotion is the mean motion (rev/day) from which an orbit counts as low Earth orbit:
	// a period of 128 minutes or less, the usual definition.
	LEOMeanMotion = 11.25
)

// Catalog imports into the store and reports on it.
type Catalog struct {
	Store *store.Store
	Log   *zap.Logger
	// Metrics, when set, counts imports, fetches and stale sets.
	Metrics *Metrics
	// Stale decides when a current set is stale (zero fields take the defaults above).
	Stale store.StaleThresholds
	// Now is the clock (default: the store's).
	Now func() time.Time
}

func (c *Catalog) now() time.Time {
	if c.Now != nil {
		return c.Now().UTC()
	}
	return c.Store.Now()
}

// Thresholds returns the stale thresholds in force.
func (c *Catalog) Thresholds() store.StaleThresholds {
	t := c.Stale
	if t.LEO <= 0 {
		t.LEO = DefaultStaleLEO
	}
	if t.Other <= 0 {
		t.Other = DefaultStaleOther
	}
	if t.LEOMeanMotion <= 0 {
		t.LEOMeanMotion = LEOMeanMotion
	}
	return t
}

// IsStale reports whether a set of the given epoch and mean motion (rev/day) is stale at now
// under t.
func IsStale(t store.StaleThresholds, epoch time.Time, meanMotion float64, now time.Time) bool {
	limit := t.Other
	if meanMotion >= t.LEOMeanMotion {
		limit = t.LEO
	}
	return now.Sub(epoch) > limit
}
