package catalog

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/store"
)

// DefaultStaleEvery is how often the stale watch looks at the catalog.
const DefaultStaleEvery = 10 * time.Minute

// EventRetention is how long catalog events are kept; the watch prunes older ones.
const EventRetention = 90 * 24 * time.Hour

// staleBatch bounds the warnings one check writes; the rest follow at the next check.
const staleBatch = 500

// StaleWatch warns about stale element sets: it keeps the stale gauge up to date and writes one
// element_set.stale event per stale current set (a newer set clears the mark; if it is stale in
// its turn, it is warned about again). Safe on several replicas: each warning is claimed with a
// conditional UPDATE.
type StaleWatch struct {
	Catalog *Catalog
	// Every is the check interval (default DefaultStaleEvery).
	Every time.Duration
}

// Run checks at once and then every w.Every until ctx ends.
func (w *StaleWatch) Run(ctx context.Context) error {
	every := w.Every
	if every <= 0 {
		every = DefaultStaleEvery
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := w.Check(ctx); err != nil && ctx.Err() == nil {
			w.Catalog.Log.Warn("stale element set check failed", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Check updates the gauge, writes the warnings due at the catalog's clock and prunes events
// older than EventRetention; it returns how many warnings this call wrote.
func (w *StaleWatch) Check(ctx context.Context) (int, error) {
	c := w.Catalog
	now, th := c.now(), c.Thresholds()
	if _, err := c.Store.PruneCatalogEvents(ctx, now.Add(-EventRetention)); err != nil {
		return 0, err
	}
	n, err := c.Store.CountStaleSets(ctx, th, now)
	if err != nil {
		return 0, err
	}
	if c.Metrics != nil {
		c.Metrics.StaleSets.Set(float64(n))
	}
	stale, err := c.Store.UnwarnedStaleSets(ctx, th, now, staleBatch)
	if err != nil {
		return 0, err
	}
	written := 0
	for i := range stale {
		sc := &stale[i]
		e := &store.CatalogEvent{Type: EventStaleSet, Severity: "warning", SpacecraftID: sc.ID, NORADID: sc.NORADID,
			Message: fmt.Sprintf("%s (%s): the current element set is %s old", sc.Name, FormatNORAD(sc.NORADID),
				now.Sub(*sc.CurrentEpoch).Round(time.Hour))}
		if sc.TeamID != nil {
			e.TeamID = *sc.TeamID
		}
		won, err := c.Store.WarnStaleSet(ctx, sc, e)
		if err != nil {
			return written, err
		}
		if won {
			written++
		}
	}
	return written, nil
}
