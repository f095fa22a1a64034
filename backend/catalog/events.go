package catalog

import (
	"context"

	"github.com/talos-gs/talos/backend/store"
)

// Catalog event types (store.CatalogEvent.Type), documented in docs/catalog.md.
const (
	// EventStaleSet: a spacecraft's current element set passed the stale threshold.
	EventStaleSet = "element_set.stale"
	// EventFetchFailed: a scheduled fetch failed; the last good sets stay current.
	EventFetchFailed = "source.fetch_failed"
	// EventRecordsRejected: a scheduled fetch carried bad records (the rest were imported).
	EventRecordsRejected = "source.records_rejected"
)

// event stores e for the team (nil: the global catalog, whose events every team sees).
func (c *Catalog) event(ctx context.Context, teamID *string, e *store.CatalogEvent) error {
	if teamID != nil {
		e.TeamID = *teamID
	}
	return c.Store.AddCatalogEvent(ctx, e)
}
