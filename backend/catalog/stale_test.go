package catalog_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/talos-gs/talos/backend/catalog"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

// TestStaleWatch: a LEO set older than 3 days is warned about once (gauge, event, Visible's
// flag); a newer set clears the warning, and is warned about in its turn when it ages.
func TestStaleWatch(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		clk := &clock{now: day2026(178)}
		c := &catalog.Catalog{Store: st, Log: zaptest.NewLogger(t), Now: clk.Now, Metrics: catalog.NewMetrics(prometheus.NewRegistry())}
		w := &catalog.StaleWatch{Catalog: c}
		mustImport(t, c, catalog.ImportRequest{Data: []byte(tle("ISS", "25544", 177.5))})
		check := func(day float64) int {
			clk.set(day2026(day))
			n, err := w.Check(t.Context())
			require.NoError(t, err)
			return n
		}
		assert.Equal(t, 0, check(180), "2.5 days: fresh")
		assert.Equal(t, 1, check(180.6), "3.1 days: stale")
		assert.InDelta(t, 1, metricValue(t, c.Metrics.StaleSets), 0)
		assert.Equal(t, 0, check(181), "warned once")
		got, err := c.Visible(t.Context(), "", catalog.Filter{})
		require.NoError(t, err)
		assert.True(t, got[0].Stale)
		assert.Equal(t, 84*time.Hour, got[0].Age)
		events, err := st.CatalogEvents(t.Context(), "", "", 10)
		require.NoError(t, err)
		require.Len(t, events, 1)
		assert.Equal(t, catalog.EventStaleSet, events[0].Type)
		assert.Equal(t, 25544, events[0].NORADID)

		mustImport(t, c, catalog.ImportRequest{Data: []byte(tle("ISS", "25544", 180.5))})
		assert.Equal(t, 0, check(181))
		assert.InDelta(t, 0, metricValue(t, c.Metrics.StaleSets), 0)
		assert.Equal(t, 1, check(183.6), "the new set, aged, is warned about again")

		// Events older than the retention are pruned by the watch (the store stamps events with
		// its own clock, the real one, so the watch's clock is moved past that).
		clk.set(st.Now().Add(catalog.EventRetention + time.Hour))
		_, err = w.Check(t.Context())
		require.NoError(t, err)
		events, err = st.CatalogEvents(t.Context(), "", "", 10)
		require.NoError(t, err)
		assert.Empty(t, events, "the set was warned about already, so nothing new is written")
	})
}
