package catalog

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the catalog's Prometheus instruments.
type Metrics struct {
	// Imported counts element sets and transmitters by what became of them: accepted, refused
	// (not newer than the current set), rejected (a bad record).
	Imported *prometheus.CounterVec
	// Fetches counts source fetches by outcome: ok, not_modified, failed.
	Fetches *prometheus.CounterVec
	// StaleSets is the number of spacecraft whose current set is stale, at the last check.
	StaleSets prometheus.Gauge
}

// NewMetrics makes the instruments and registers them on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Imported: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "talos_catalog_records_total",
			Help: "Catalog records imported, by kind (element_set, transmitter) and outcome (accepted, refused, rejected).",
		}, []string{"kind", "outcome"}),
		Fetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "talos_catalog_fetches_total",
			Help: "Scheduled catalog source fetches by outcome (ok, not_modified, failed).",
		}, []string{"outcome"}),
		StaleSets: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "talos_catalog_stale_element_sets",
			Help: "Spacecraft whose current element set is older than the stale threshold of its orbit.",
		}),
	}
	reg.MustRegister(m.Imported, m.Fetches, m.StaleSets)
	return m
}

func (m *Metrics) imported(kind, outcome string, n int) {
	if m != nil && n > 0 {
		m.Imported.WithLabelValues(kind, outcome).Add(float64(n))
	}
}

func (m *Metrics) fetched(outcome string) {
	if m != nil {
		m.Fetches.WithLabelValues(outcome).Inc()
	}
}
