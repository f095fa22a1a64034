package catalog_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap/zaptest"

	"github.com/talos-gs/talos/backend/catalog"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/orbit"
)

// The ISS set of the 2026-177 file, the template of the sets the tests make.
const (
	issLine1 = "1 25544U 98067A   26177.67101756  .00008101  00000+0  15268-3 0  9990"
	issLine2 = "2 25544  51.6322 253.1475 0004299 235.1263 124.9322 15.49442433573225"
)

// withChecksum replaces column 69 with the line's checksum.
func withChecksum(l string) string {
	return l[:68] + strconv.Itoa(orbit.TLEChecksum(l[:68]))
}

// tle makes a 3-line set of the ISS's elements with another catalog number (5 columns, Alpha-5
// allowed) and epoch day of 2026 (e.g. 177.5).
func tle(name, cat string, day float64) string {
	epoch := fmt.Sprintf("26%012.8f", day)
	l1 := withChecksum(issLine1[:2] + cat + issLine1[7:18] + epoch + issLine1[32:])
	l2 := withChecksum(issLine2[:2] + cat + issLine2[7:])
	return name + "\n" + l1 + "\n" + l2 + "\n"
}

// day2026 is the instant of a 2026 epoch day.
func day2026(day float64) time.Time {
	return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration((day - 1) * 24 * float64(time.Hour)))
}

func newCatalog(t testing.TB, st *store.Store) *catalog.Catalog {
	t.Helper()
	return &catalog.Catalog{Store: st, Log: zaptest.NewLogger(t)}
}

func mustImport(t testing.TB, c *catalog.Catalog, req catalog.ImportRequest) *catalog.Report {
	t.Helper()
	rep, err := c.Import(t.Context(), req)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	return rep
}

func lines(s ...string) string { return strings.Join(s, "") }

// metricValue reads a counter's or gauge's value.
func metricValue(t testing.TB, m prometheus.Metric) float64 {
	t.Helper()
	var out dto.Metric
	if err := m.Write(&out); err != nil {
		t.Fatalf("read metric: %v", err)
	}
	switch {
	case out.Counter != nil:
		return out.Counter.GetValue()
	case out.Gauge != nil:
		return out.Gauge.GetValue()
	}
	t.Fatalf("metric is neither a counter nor a gauge")
	return 0
}
