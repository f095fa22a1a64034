package store_test

import (
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

// TestHeartbeatBucket: buckets start on multiples of their width since the Unix epoch.
func TestHeartbeatBucket(t *testing.T) {
	t.Parallel()
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		require.NoError(t, err)
		return v
	}
	for _, tc := range []struct {
		name   string
		t      string
		bucket time.Duration
		want   string
	}{
		{"inside", "2026-06-26T12:07:41.5Z", 10 * time.Minute, "2026-06-26T12:00:00Z"},
		{"on a boundary", "2026-06-26T12:10:00Z", 10 * time.Minute, "2026-06-26T12:10:00Z"},
		{"just before a boundary", "2026-06-26T12:09:59.999999Z", 10 * time.Minute, "2026-06-26T12:00:00Z"},
		{"other zone", "2026-06-26T14:07:00+02:00", 10 * time.Minute, "2026-06-26T12:00:00Z"},
		// 7 min does not divide a day: epoch alignment differs from time.Truncate's (year 1).
		{"width not dividing a day", "2026-06-26T12:00:00Z", 7 * time.Minute, "2026-06-26T11:56:00Z"},
		{"before the epoch", "1969-12-31T23:59:30Z", time.Minute, "1969-12-31T23:59:00Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := store.HeartbeatBucket(at(tc.t), tc.bucket)
			assert.Equal(t, at(tc.want), got)
			assert.Zero(t, got.Unix()%int64(tc.bucket/time.Second))
		})
	}
}

// downsampleFixture is three days of heartbeats, every 30 s, of two satellites whose clocks are
// offset from each other (so their buckets hold different instants), plus two rows sharing one
// received_at (the tie is broken by id) and one a microsecond before a bucket's end.
type downsampleFixture struct {
	now      time.Time // not on a bucket boundary, so the cutoff splits a bucket
	rows     []store.Heartbeat
	a, b     string
	tieWinID string
}

const (
	testBucket = 10 * time.Minute
	testAfter  = 24 * time.Hour
)

func newDownsampleFixture(t *testing.T, st *store.Store) *downsampleFixture {
	t.Helper()
	f := &downsampleFixture{now: time.Date(2026, 6, 26, 12, 3, 0, 0, time.UTC)}
	f.a, f.b = newSatellite(t, st, nil).ID, newSatellite(t, st, nil).ID
	start := f.now.Add(-72 * time.Hour)
	for i := range 3 * 24 * 120 {
		at := start.Add(time.Duration(i) * 30 * time.Second)
		f.rows = append(f.rows,
			heartbeat(f.a, at.Add(7*time.Second)),
			heartbeat(f.b, at.Add(19*time.Second+250*time.Microsecond)))
	}
	// A tie on the last instant of one old bucket of A: the second row (larger UUIDv7) wins.
	tieAt := time.Date(2026, 6, 24, 6, 9, 37, 0, time.UTC)
	tie := heartbeat(f.a, tieAt)
	f.tieWinID = tie.ID
	f.rows = append(f.rows, tie)
	// A microsecond before a bucket ends still belongs to it (older SQLite rounds such a time up
	// to the next second when it reads it): the last of B's 08:00 bucket.
	f.rows = append(f.rows, heartbeat(f.b, time.Date(2026, 6, 24, 8, 9, 59, 999999000, time.UTC)))
	insertRows(t, st, f.rows)
	return f
}

// insertRows stores rows: in gorm's multi-row batches on PostgreSQL (one round trip each), and
// through one prepared statement in one transaction on SQLite, where the batches' reflection is
// what -race makes slow.
func insertRows(t testing.TB, st *store.Store, rows []store.Heartbeat) {
	t.Helper()
	if st.Dialect() == store.Postgres {
		require.NoError(t, st.DB().WithContext(t.Context()).CreateInBatches(rows, 1000).Error)
		return
	}
	tx, err := st.SQL().BeginTx(t.Context(), nil)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback() }() // after the commit, a no-op
	stmt, err := tx.PrepareContext(t.Context(),
		"INSERT INTO satellite_heartbeats (id, satellite_id, received_at, status, report) VALUES (?, ?, ?, ?, ?)")
	require.NoError(t, err)
	for _, hb := range rows {
		_, err := stmt.ExecContext(t.Context(), hb.ID, hb.SatelliteID, hb.ReceivedAt, hb.Status, hb.Report)
		require.NoError(t, err)
	}
	require.NoError(t, stmt.Close())
	require.NoError(t, tx.Commit())
}

func heartbeat(satID string, at time.Time) store.Heartbeat {
	return store.Heartbeat{ID: store.NewID(), SatelliteID: satID, ReceivedAt: at.UTC(),
		Status: "online", Report: `{"status":"online"}`}
}

// want returns the ids that must remain after thinning every whole bucket older than cutoff:
// the last (latest, then largest id) of each satellite's old bucket, and every newer row.
func (f *downsampleFixture) want(cutoff time.Time) []string {
	type key struct {
		sat    string
		bucket int64
	}
	last := map[key]store.Heartbeat{}
	var out []string
	for _, hb := range f.rows {
		b := store.HeartbeatBucket(hb.ReceivedAt, testBucket)
		if b.Add(testBucket).After(cutoff) {
			out = append(out, hb.ID)
			continue
		}
		k := key{hb.SatelliteID, b.Unix()}
		cur, ok := last[k]
		if !ok || hb.ReceivedAt.After(cur.ReceivedAt) || (hb.ReceivedAt.Equal(cur.ReceivedAt) && hb.ID > cur.ID) {
			last[k] = hb
		}
	}
	for _, hb := range last {
		out = append(out, hb.ID)
	}
	sort.Strings(out)
	return out
}

func remainingIDs(t *testing.T, st *store.Store) []string {
	t.Helper()
	var ids []string
	require.NoError(t, st.DB().WithContext(t.Context()).Model(&store.Heartbeat{}).Order("id").Pluck("id", &ids).Error)
	return ids
}

// TestDownsampleHeartbeats thins three days of two satellites' heartbeats older than 24 h to the
// last of each 10-minute bucket, in one statement and in hourly slices (as the sweeper walks a
// backlog), and checks the exact survivors: one per old bucket per satellite, the latest;
// nothing newer than the cutoff's bucket touched; and a second run changes nothing.
func TestDownsampleHeartbeats(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		for _, tc := range []struct {
			name  string
			slice time.Duration // 0: one statement over everything
		}{
			{"one statement", 0},
			{"hourly slices", time.Hour},
			{"slices not a multiple of the bucket", 25 * time.Minute},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				st := storetest.Open(t, st.Dialect()) // a fresh database per case
				f := newDownsampleFixture(t, st)
				cutoff := f.now.Add(-testAfter)
				from := f.now.Add(-73 * time.Hour)
				run := func() int64 {
					if tc.slice == 0 {
						n, err := st.DownsampleHeartbeats(t.Context(), from, cutoff, testBucket)
						require.NoError(t, err)
						return n
					}
					var total int64
					for lo := from; lo.Before(cutoff); lo = lo.Add(tc.slice) {
						hi := lo.Add(tc.slice)
						if hi.After(cutoff) {
							hi = cutoff
						}
						n, err := st.DownsampleHeartbeats(t.Context(), lo, hi, testBucket)
						require.NoError(t, err)
						total += n
					}
					return total
				}

				want := f.want(cutoff)
				deleted := run()
				got := remainingIDs(t, st)
				require.Equal(t, want, got)
				assert.Equal(t, int64(len(f.rows)-len(want)), deleted)
				assert.Contains(t, got, f.tieWinID, "a tie is won by the larger id")

				// The data starts 72 h 3 min before now (12:03), the cutoff's bucket at 12:00 a day
				// before now: 48 h of old 10-minute buckets, then 24 h 2.5 min of untouched rows.
				for _, sat := range []string{f.a, f.b} {
					old, err := st.Heartbeats(t.Context(), store.HeartbeatQuery{SatelliteID: sat,
						To: store.HeartbeatBucket(cutoff, testBucket), Limit: 100000})
					require.NoError(t, err)
					assert.Len(t, old, 48*6, "one per old bucket")
					recent, err := st.Heartbeats(t.Context(), store.HeartbeatQuery{SatelliteID: sat,
						From: store.HeartbeatBucket(cutoff, testBucket), Limit: 100000})
					require.NoError(t, err)
					assert.Len(t, recent, 24*120+6, "everything from the cutoff's bucket on is kept")
				}

				assert.Zero(t, run(), "a second run deletes nothing")
				assert.Equal(t, want, remainingIDs(t, st))
			})
		}
	})
}

// TestDownsampleLaterCutoffKeepsSurvivors: thinning up to one cutoff and later up to a later one
// keeps the first pass's survivors, so a bucket is never thinned twice differently.
func TestDownsampleLaterCutoffKeepsSurvivors(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		f := newDownsampleFixture(t, st)
		from := f.now.Add(-73 * time.Hour)
		first := f.now.Add(-48*time.Hour + 4*time.Minute) // mid-bucket
		_, err := st.DownsampleHeartbeats(t.Context(), from, first, testBucket)
		require.NoError(t, err)
		require.Equal(t, f.want(first), remainingIDs(t, st))

		second := f.now.Add(-testAfter)
		_, err = st.DownsampleHeartbeats(t.Context(), from, second, testBucket)
		require.NoError(t, err)
		assert.Equal(t, f.want(second), remainingIDs(t, st))
	})
}

// TestDownsampleRejectsBadBuckets: a bucket that is not a whole number of seconds is an error,
// not a statement over an undefined partition.
func TestDownsampleRejectsBadBuckets(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t, store.SQLite)
	now := time.Now()
	for _, b := range []time.Duration{0, -time.Minute, 500 * time.Millisecond, 90*time.Second + time.Millisecond} {
		_, err := st.DownsampleHeartbeats(t.Context(), now.Add(-time.Hour), now, b)
		assert.ErrorContains(t, err, "bucket", "bucket %s", b)
	}
}

// BenchmarkDownsampleHeartbeats times one pass over 100,800 heartbeats (35 satellites, one day
// at 30 s) into 10-minute buckets on each dialect; the rows are inserted again, untimed, before
// every pass.
func BenchmarkDownsampleHeartbeats(b *testing.B) {
	for _, d := range storetest.Dialects(b) {
		b.Run(string(d), func(b *testing.B) {
			st := storetest.Open(b, d)
			const satellites, perSatellite = 35, 24 * 120
			ids := make([]string, satellites)
			for i := range ids {
				ids[i] = benchSatellite(b, st)
			}
			end := time.Date(2026, 6, 26, 0, 0, 0, 0, time.UTC)
			start := end.Add(-24 * time.Hour)
			var deleted int64
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				rows := make([]store.Heartbeat, 0, satellites*perSatellite)
				for _, id := range ids {
					for i := range perSatellite {
						rows = append(rows, heartbeat(id, start.Add(time.Duration(i)*30*time.Second+3*time.Second)))
					}
				}
				require.NoError(b, st.DB().Exec("DELETE FROM satellite_heartbeats").Error)
				insertRows(b, st, rows)
				b.StartTimer()
				n, err := st.DownsampleHeartbeats(b.Context(), start, end, testBucket)
				require.NoError(b, err)
				deleted = n
			}
			require.Equal(b, int64(satellites*perSatellite-satellites*24*6), deleted)
			b.ReportMetric(float64(satellites*perSatellite), "rows/pass")
		})
	}
}

func benchSatellite(b *testing.B, st *store.Store) string {
	b.Helper()
	tok := &store.RegistrationToken{ID: store.NewID(), ExpiresAt: st.Now().Add(time.Hour), UsesAllowed: 1}
	require.NoError(b, st.CreateRegistrationToken(b.Context(), tok))
	sat, err := st.RegisterSatellite(b.Context(), store.Registration{TokenID: tok.ID, Name: "bench",
		APIKeyID: uuid.NewString()[:16], APIKeyHash: "hash", HeartbeatSeconds: 30})
	require.NoError(b, err)
	return sat.ID
}

// TestDownsampleConcurrentReplicas: four replicas walking the same range in hourly slices at once
// (as their sweepers do) delete each row once between them and leave exactly the survivors one
// would. PostgreSQL only: replicas share a PostgreSQL database, while a SQLite file has one
// backend whose sweeper runs one statement at a time.
func TestDownsampleConcurrentReplicas(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t, store.Postgres)
	f := newDownsampleFixture(t, st)
	cutoff := f.now.Add(-testAfter)
	const replicas = 4
	deleted := make([]int64, replicas)
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Go(func() {
			for lo := f.now.Add(-73 * time.Hour); lo.Before(cutoff) && errs[i] == nil; lo = lo.Add(time.Hour) {
				var n int64
				n, errs[i] = st.DownsampleHeartbeats(t.Context(), lo, lo.Add(time.Hour), testBucket)
				deleted[i] += n
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	want := f.want(cutoff)
	var total int64
	for _, n := range deleted {
		total += n
	}
	assert.Equal(t, int64(len(f.rows)-len(want)), total, "each row deleted once: %v", deleted)
	assert.Equal(t, want, remainingIDs(t, st))
}
