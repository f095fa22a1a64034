package server_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

// TestPostgresConnectionLoss terminates the backend's PostgreSQL connections five times while
// eight clients send idempotent requests (user reads, polls, event batches): none of them may
// get a 500. Only this test's own connections are terminated (its application_name), so
// others sharing the server are not disturbed.
func TestPostgresConnectionLoss(t *testing.T) {
	t.Parallel()
	u, appName := withApplicationName(t, storetest.NewURL(t, store.Postgres))
	st := openStore(t, u, nil)
	p := newProtocol(t, st)
	s := p.newStation(t, "reconnect")
	adminURL, _ := withApplicationName(t, u)
	admin := openAdmin(t, adminURL)

	requests := []struct {
		name string
		do   func(t *testing.T) int
	}{
		{"list satellites", func(t *testing.T) int {
			return p.owner.Do(t, http.MethodGet, "/api/teams/"+p.team.ID+"/satellites", nil).Status
		}},
		{"list events", func(t *testing.T) int {
			return p.owner.Do(t, http.MethodGet, p.teamPath(s.SatelliteID, "/events?limit=5"), nil).Status
		}},
		{"poll", func(t *testing.T) int { return s.c.Do(t, http.MethodGet, s.path("/commands"), nil).Status }},
		{"events", func(t *testing.T) int {
			ev := event("log")
			ev.ID = uuid.NewString()
			return s.c.Do(t, http.MethodPost, s.path("/events"), api.EventBatch{Events: []api.Event{ev}}).Status
		}},
	}

	const workers = 8
	var (
		done     [workers]atomic.Int64 // requests answered, per worker
		failures sync.Map              // request name → statuses ≥ 500
		stop     = make(chan struct{})
		start    = make(chan struct{})
		wg       sync.WaitGroup
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := w; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				r := requests[i%len(requests)]
				if status := r.do(t); status >= 500 {
					n, _ := failures.LoadOrStore(r.name, new(atomic.Int64))
					n.(*atomic.Int64).Add(1)
				}
				done[w].Add(1)
			}
		}()
	}
	close(start)

	terminated := 0
	for range 5 {
		waitForProgress(t, done[:], 10)
		terminated += terminate(t, admin, appName)
	}
	waitForProgress(t, done[:], 10)
	close(stop)
	wg.Wait()

	assert.Positive(t, terminated, "the test terminated connections")
	failures.Range(func(name, n any) bool {
		t.Errorf("%s: %d responses with status ≥ 500", name, n.(*atomic.Int64).Load())
		return true
	})
	var total int64
	for i := range done {
		total += done[i].Load()
	}
	t.Logf("%d requests, %d connections terminated, %d statements retried", total, terminated,
		st.ReconnectRetries())
}

// withApplicationName tags u's connections with a name unique to this test.
func withApplicationName(t *testing.T, u string) (string, string) {
	t.Helper()
	parsed, err := url.Parse(u)
	require.NoError(t, err)
	name := "talos_test_" + uuid.NewString()[:8]
	q := parsed.Query()
	q.Set("application_name", name)
	parsed.RawQuery = q.Encode()
	return parsed.String(), name
}

func openAdmin(t *testing.T, u string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", u)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// terminate ends every backend connection named appName (not the admin's own) and returns how many.
func terminate(t *testing.T, admin *sql.DB, appName string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var n int
	err := admin.QueryRowContext(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = $1 AND pid <> pg_backend_pid()`, appName).Scan(&n)
	require.NoError(t, err)
	return n
}

// waitForProgress waits until every worker has answered n more requests, so every request
// that met the last termination (and its retry) is over before the next one: each termination
// is one outage, as in production, not a retry killed by the next termination.
func waitForProgress(t *testing.T, done []atomic.Int64, n int64) {
	t.Helper()
	targets := make([]int64, len(done))
	for i := range done {
		targets[i] = done[i].Load() + n
	}
	require.Eventually(t, func() bool {
		for i := range done {
			if done[i].Load() < targets[i] {
				return false
			}
		}
		return true
	}, time.Minute, time.Millisecond, fmt.Sprintf("every worker answered %d requests", n))
}
