package catalog_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
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

// fakeCelesTrak serves one document with an ETag and answers If-None-Match with 304, or fails
// with a status when told to.
type fakeCelesTrak struct {
	mu       sync.Mutex
	body     string
	etag     string
	fail     int
	requests atomic.Int32
	lastINM  string
}

func (f *fakeCelesTrak) set(body, etag string, fail int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.body, f.etag, f.fail = body, etag, fail
}

func (f *fakeCelesTrak) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastINM = r.Header.Get("If-None-Match")
	switch {
	case f.fail != 0:
		http.Error(w, "broken", f.fail)
	case f.lastINM != "" && f.lastINM == f.etag:
		w.WriteHeader(http.StatusNotModified)
	default:
		w.Header().Set("ETag", f.etag)
		_, _ = w.Write([]byte(f.body))
	}
}

// clock is a settable clock for the catalog.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func currentEpoch(t *testing.T, c *catalog.Catalog, norad int) time.Time {
	t.Helper()
	got, err := c.Visible(t.Context(), "", catalog.Filter{NORADIDs: []int{norad}})
	require.NoError(t, err)
	require.Len(t, got, 1)
	return got[0].Elements.Epoch.Round(time.Millisecond)
}

// TestScheduledFetch walks a source through new data, 304, a failure, an older epoch and a
// garbage answer: the last good set stays current throughout.
func TestScheduledFetch(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		srv := &fakeCelesTrak{}
		ts := httptest.NewServer(srv)
		t.Cleanup(ts.Close)
		clk := &clock{now: day2026(178)}
		reg := prometheus.NewRegistry()
		c := &catalog.Catalog{Store: st, Log: zaptest.NewLogger(t), Now: clk.Now, Metrics: catalog.NewMetrics(reg)}
		f := &catalog.Fetcher{Catalog: c}
		src := &store.CatalogSource{Name: "celestrak-active", URL: ts.URL + "/gp.php?GROUP=active&FORMAT=tle",
			Format: string(catalog.FormatTLE), IntervalSeconds: 7200}
		require.NoError(t, st.CreateCatalogSource(t.Context(), src))
		fetch := func(at time.Time) int {
			clk.set(at)
			n, err := f.FetchDue(t.Context())
			require.NoError(t, err)
			return n
		}
		source := func() *store.CatalogSource {
			got, err := st.CatalogSourceByID(t.Context(), "", src.ID)
			require.NoError(t, err)
			return got
		}
		t0 := src.NextFetchAt.UTC() // due at creation

		srv.set(tle("ISS", "25544", 177.5), `"v1"`, 0)
		assert.Equal(t, 1, fetch(t0), "a new source is due at once")
		assert.Equal(t, day2026(177.5), currentEpoch(t, c, 25544))
		assert.Equal(t, catalog.StatusOK, source().LastStatus)
		assert.Equal(t, `"v1"`, source().ETag)

		assert.Equal(t, 0, fetch(t0.Add(time.Hour)), "not due before its interval")
		assert.Equal(t, int32(1), srv.requests.Load())

		assert.Equal(t, 1, fetch(t0.Add(2*time.Hour)))
		assert.Equal(t, `"v1"`, srv.lastINM, "the ETag is sent back")
		assert.Equal(t, catalog.StatusNotModified, source().LastStatus)

		srv.set(tle("ISS", "25544", 178.5), `"v2"`, 0)
		assert.Equal(t, 1, fetch(t0.Add(4*time.Hour)))
		assert.Equal(t, day2026(178.5), currentEpoch(t, c, 25544), "new data")

		srv.set("", "", http.StatusBadGateway)
		assert.Equal(t, 1, fetch(t0.Add(6*time.Hour)))
		assert.Equal(t, day2026(178.5), currentEpoch(t, c, 25544), "a failed fetch keeps the last good set")
		s := source()
		assert.Equal(t, catalog.StatusFailed, s.LastStatus)
		assert.Contains(t, s.LastError, "HTTP 502")
		assert.Equal(t, t0.Add(6*time.Hour+15*time.Minute), s.NextFetchAt.UTC(), "retried sooner than the interval")
		events, err := st.CatalogEvents(t.Context(), "", "", 10)
		require.NoError(t, err)
		require.NotEmpty(t, events)
		assert.Equal(t, catalog.EventFetchFailed, events[0].Type)

		srv.set(tle("ISS", "25544", 176.5), `"v3"`, 0)
		assert.Equal(t, 1, fetch(t0.Add(6*time.Hour+15*time.Minute)))
		assert.Equal(t, day2026(178.5), currentEpoch(t, c, 25544), "an older epoch is refused")
		assert.Equal(t, catalog.StatusOK, source().LastStatus)

		srv.set("<html>maintenance</html>", `"v4"`, 0)
		assert.Equal(t, 1, fetch(t0.Add(9*time.Hour)))
		assert.Equal(t, catalog.StatusFailed, source().LastStatus, "an answer without one good record is a failure")
		assert.Equal(t, `"v3"`, source().ETag, "and its validators are not kept")
		assert.Equal(t, day2026(178.5), currentEpoch(t, c, 25544))

		assert.InDelta(t, 2, metricValue(t, c.Metrics.Fetches.WithLabelValues(catalog.StatusFailed)), 0)
		assert.InDelta(t, 1, metricValue(t, c.Metrics.Imported.WithLabelValues("element_set", "refused")), 0)
	})
}

// TestFetchClaimedOnce: two replicas on one database, due at the same moment and started
// together, fetch the source once between them.
func TestFetchClaimedOnce(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			srv := &fakeCelesTrak{}
			srv.set(tle("ISS", "25544", 177.5), `"v1"`, 0)
			ts := httptest.NewServer(srv)
			t.Cleanup(ts.Close)
			u := storetest.NewURL(t, d)
			stores := []*store.Store{storetest.OpenURL(t, u), storetest.OpenURL(t, u)}
			clk := &clock{now: day2026(178)}
			src := &store.CatalogSource{Name: "a", URL: ts.URL, Format: "tle", IntervalSeconds: 7200}
			require.NoError(t, stores[0].CreateCatalogSource(t.Context(), src))
			clk.set(src.NextFetchAt.Add(time.Second))

			start := make(chan struct{})
			counts := make([]int, len(stores))
			var wg sync.WaitGroup
			for i, st := range stores {
				f := &catalog.Fetcher{Catalog: &catalog.Catalog{Store: st, Log: zaptest.NewLogger(t), Now: clk.Now}}
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					n, err := f.FetchDue(t.Context())
					assert.NoError(t, err)
					counts[i] = n
				}()
			}
			close(start)
			wg.Wait()
			assert.Equal(t, 1, counts[0]+counts[1], "fetched by exactly one replica")
			assert.Equal(t, int32(1), srv.requests.Load())
		})
	}
}

func TestValidateSourceURL(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"file:///etc/passwd", "ftp://example.org/x", "gopher://x", "/relative", "http://", "https://user:pw@example.org/x", "::"} {
		assert.Error(t, catalog.ValidateSourceURL(bad), bad)
	}
	for _, good := range []string{"https://celestrak.org/NORAD/elements/gp.php?GROUP=active&FORMAT=json", "http://127.0.0.1:8080/x"} {
		assert.NoError(t, catalog.ValidateSourceURL(good), good)
	}
}

// TestFetchBodyCap: a body over the cap fails the fetch instead of filling memory.
func TestFetchBodyCap(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t, store.SQLite)
	srv := &fakeCelesTrak{}
	srv.set(tle("ISS", "25544", 177.5)+tle("ISS", "25544", 177.6), `"v1"`, 0)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	c := newCatalog(t, st)
	f := &catalog.Fetcher{Catalog: c, MaxBytes: 200}
	src := &store.CatalogSource{Name: "big", URL: ts.URL, Format: "tle", IntervalSeconds: 7200}
	require.NoError(t, st.CreateCatalogSource(t.Context(), src))
	_, err := f.FetchDue(t.Context())
	require.NoError(t, err)
	got, err := st.CatalogSourceByID(t.Context(), "", src.ID)
	require.NoError(t, err)
	assert.Equal(t, catalog.StatusFailed, got.LastStatus)
	assert.Contains(t, got.LastError, "exceeds 200 bytes")
}
