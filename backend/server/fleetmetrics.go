package server

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/store"
)

// silentThresholds are the silences talos_stations_silent counts: how long offline stations
// (not in maintenance) have been unheard of. The alert rules pick one (deploy/observability).
var silentThresholds = []struct {
	label string
	d     time.Duration
}{{"5m", 5 * time.Minute}, {"15m", 15 * time.Minute}, {"1h", time.Hour}, {"1d", 24 * time.Hour}}

const (
	// fleetCacheTTL is how long one reading of the fleet serves scrapes: several Prometheus
	// servers scraping every few seconds cost the database one set of queries.
	fleetCacheTTL = 15 * time.Second
	// fleetQueryTimeout bounds the queries of one reading; a scrape never hangs on the database.
	fleetQueryTimeout = 5 * time.Second
)

// fleetCollector reports the fleet as the database sees it, read at scrape time: stations by
// status and version, and the offline ones unheard of for longer than each threshold. It carries
// no team or station labels: /metrics is not team-scoped.
type fleetCollector struct {
	store *store.Store
	now   func() time.Time
	log   *zap.Logger

	stations, silent, failures *prometheus.Desc

	mu     sync.Mutex
	readAt time.Time
	counts []store.FleetCount
	quiet  []int64
	errors float64
}

func newFleetCollector(st *store.Store, now func() time.Time, log *zap.Logger) *fleetCollector {
	return &fleetCollector{store: st, now: now, log: log,
		stations: prometheus.NewDesc("talos_stations", "Registered stations by status and version.",
			[]string{"status", "version"}, nil),
		silent: prometheus.NewDesc("talos_stations_silent",
			"Offline stations, not in maintenance, unheard of for longer than the threshold.", []string{"over"}, nil),
		failures: prometheus.NewDesc("talos_fleet_metrics_errors_total",
			"Scrapes whose fleet figures could not be read from the database.", nil, nil),
	}
}

func (f *fleetCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- f.stations
	ch <- f.silent
	ch <- f.failures
}

// Collect reads the fleet (or serves the last reading within fleetCacheTTL). When the database
// cannot answer, the fleet figures are left out of the scrape (absent, not zero: an alert must
// not see "no station offline") and the error counter goes up.
func (f *fleetCollector) Collect(ch chan<- prometheus.Metric) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	if f.counts == nil || now.Sub(f.readAt) >= fleetCacheTTL {
		if err := f.read(now); err != nil {
			f.errors++
			f.counts = nil
			f.log.Warn("fleet metrics: read the database", zap.Error(err))
		}
	}
	ch <- prometheus.MustNewConstMetric(f.failures, prometheus.CounterValue, f.errors)
	if f.counts == nil {
		return
	}
	for _, c := range f.counts {
		ch <- prometheus.MustNewConstMetric(f.stations, prometheus.GaugeValue, float64(c.Count), c.Status, c.Version)
	}
	for i, t := range silentThresholds {
		ch <- prometheus.MustNewConstMetric(f.silent, prometheus.GaugeValue, float64(f.quiet[i]), t.label)
	}
}

func (f *fleetCollector) read(now time.Time) error {
	ctx, cancel := context.WithTimeout(context.Background(), fleetQueryTimeout)
	defer cancel()
	counts, err := f.store.FleetCounts(ctx)
	if err != nil {
		return err
	}
	quiet := make([]int64, len(silentThresholds))
	for i, t := range silentThresholds {
		if quiet[i], err = f.store.SilentSatellites(ctx, now.Add(-t.d)); err != nil {
			return err
		}
	}
	if counts == nil {
		counts = []store.FleetCount{}
	}
	f.counts, f.quiet, f.readAt = counts, quiet, now
	return nil
}
