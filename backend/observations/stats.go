package observations

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/talos-gs/talos/backend/store"
)

// RateWindows are the windows success rates are given over, in days.
var RateWindows = []int{7, 30}

// Rate counts the verdicts of the passes that ended in a window. SuccessRate is the share
// judged good (degraded and failed passes count against it); 0 without passes.
type Rate struct {
	Good        int     `json:"good"`
	Degraded    int     `json:"degraded"`
	Failed      int     `json:"failed"`
	Total       int     `json:"total"`
	SuccessRate float64 `json:"success_rate"`
}

func (r *Rate) add(verdict string, n int) {
	switch verdict {
	case VerdictGood:
		r.Good += n
	case VerdictDegraded:
		r.Degraded += n
	case VerdictFailed:
		r.Failed += n
	}
	r.Total += n
	r.SuccessRate = float64(r.Good) / float64(r.Total)
}

// StationRate is a station's rate.
type StationRate struct {
	SatelliteID string `json:"satellite_id"`
	Rate
}

// SpacecraftRate is a spacecraft's rate.
type SpacecraftRate struct {
	NORAD int `json:"norad"`
	Rate
}

// Rates are the success rates over one window.
type Rates struct {
	Days       int              `json:"days"`
	From       time.Time        `json:"from"`
	To         time.Time        `json:"to"`
	Stations   []StationRate    `json:"stations"`
	Spacecraft []SpacecraftRate `json:"spacecraft"`
}

// SuccessRates are the success rates per station and per spacecraft of the passes that ended in
// the last days days; teamID "" counts every team's observations.
func (s *Service) SuccessRates(ctx context.Context, teamID string, days int) (*Rates, error) {
	to := s.now()
	from := to.Add(-time.Duration(days) * 24 * time.Hour)
	counts, err := s.st.VerdictCounts(ctx, teamID, from, to)
	if err != nil {
		return nil, err
	}
	stations, crafts := map[string]*Rate{}, map[int]*Rate{}
	for _, c := range counts {
		if stations[c.SatelliteID] == nil {
			stations[c.SatelliteID] = &Rate{}
		}
		if crafts[c.NORADID] == nil {
			crafts[c.NORADID] = &Rate{}
		}
		stations[c.SatelliteID].add(c.Verdict, c.N)
		crafts[c.NORADID].add(c.Verdict, c.N)
	}
	out := &Rates{Days: days, From: from, To: to, Stations: []StationRate{}, Spacecraft: []SpacecraftRate{}}
	for id, r := range stations {
		out.Stations = append(out.Stations, StationRate{id, *r})
	}
	for n, r := range crafts {
		out.Spacecraft = append(out.Spacecraft, SpacecraftRate{n, *r})
	}
	slices.SortFunc(out.Stations, func(a, b StationRate) int { return compareStrings(a.SatelliteID, b.SatelliteID) })
	slices.SortFunc(out.Spacecraft, func(a, b SpacecraftRate) int { return a.NORAD - b.NORAD })
	return out, nil
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// rateRefreshEvery is how often the job recomputes the success-rate gauges.
const rateRefreshEvery = time.Minute

// refreshRates sets the success-rate gauges from every team's observations, at most once per
// rateRefreshEvery.
func (s *Service) refreshRates(ctx context.Context) error {
	m := s.metrics
	m.mu.Lock()
	defer m.mu.Unlock()
	now := s.now()
	if now.Sub(m.refreshed) < rateRefreshEvery {
		return nil
	}
	for _, days := range RateWindows {
		r, err := s.SuccessRates(ctx, "", days)
		if err != nil {
			return err
		}
		window := strconv.Itoa(days) + "d"
		m.stationRate.DeletePartialMatch(prometheus.Labels{"window": window})
		m.spacecraftRate.DeletePartialMatch(prometheus.Labels{"window": window})
		for _, st := range r.Stations {
			m.stationRate.WithLabelValues(st.SatelliteID, window).Set(st.SuccessRate)
		}
		for _, sc := range r.Spacecraft {
			m.spacecraftRate.WithLabelValues(strconv.Itoa(sc.NORAD), window).Set(sc.SuccessRate)
		}
	}
	m.refreshed = now
	return nil
}

// metrics are the observation instruments.
type metrics struct {
	booked, dispatched, transitions, verdicts *prometheus.CounterVec
	tickErrors                                prometheus.Counter
	stationRate, spacecraftRate               *prometheus.GaugeVec

	mu        sync.Mutex
	refreshed time.Time
}

func newMetrics() *metrics {
	return &metrics{
		booked: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "talos_observations_booked_total",
			Help: "Observations booked, by source (user, auto)."}, []string{"source"}),
		dispatched: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "talos_observations_dispatched_total",
			Help: "observation.schedule commands queued: dispatched (first time) or re-dispatched (a newer element set moved the pass)."},
			[]string{"kind"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "talos_observation_transitions_total",
			Help: "Observation state changes after booking and dispatch, by new state."}, []string{"state"}),
		verdicts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "talos_observation_verdicts_total",
			Help: "Automatic verdicts given, by verdict."}, []string{"verdict"}),
		tickErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "talos_observation_job_errors_total",
			Help: "Runs of the observation job that met an error (logged)."}),
		stationRate: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "talos_observation_station_success_ratio",
			Help: "Share of a station's passes judged good, over the window (7d, 30d)."}, []string{"satellite_id", "window"}),
		spacecraftRate: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "talos_observation_spacecraft_success_ratio",
			Help: "Share of a spacecraft's passes judged good, over the window (7d, 30d)."}, []string{"norad_id", "window"}),
	}
}

// Collectors are the Service's Prometheus metrics.
func (s *Service) Collectors() []prometheus.Collector {
	m := s.metrics
	return []prometheus.Collector{m.booked, m.dispatched, m.transitions, m.verdicts, m.tickErrors, m.stationRate, m.spacecraftRate}
}

// History is an observation's history, oldest first.
func (s *Service) History(ctx context.Context, teamID, id string) ([]store.ObservationChange, error) {
	if _, err := s.st.TeamObservation(ctx, teamID, id); err != nil {
		return nil, err
	}
	return s.st.ObservationHistory(ctx, id)
}
