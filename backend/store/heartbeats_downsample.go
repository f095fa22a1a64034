package store

import (
	"context"
	"fmt"
	"time"
)

// Heartbeat downsampling (docs/decisions/0056-heartbeat-downsampling.md): old heartbeats are
// thinned to the last one of each satellite in each bucket. Buckets are aligned to the Unix
// epoch, never to the moment of a sweep, so a bucket thinned once keeps the same survivor when a
// later sweep, or another replica, looks at it again.

// downsampleSQL deletes every heartbeat received in [from, to) that is not the last of its
// satellite in its bucket. "Last" is the latest received_at, ties broken by the larger id (ids are
// UUIDv7, so that is the later insert); the order is total, so every run and every replica picks
// the same survivor. Arguments: bucket seconds, from, to.
var downsampleSQL = map[Dialect]string{
	// extract(epoch ...) is numeric (PostgreSQL 14+), so the division by a bigint is exact.
	Postgres: `DELETE FROM satellite_heartbeats WHERE id IN (
	SELECT id FROM (
		SELECT id, row_number() OVER (
			PARTITION BY satellite_id, floor(extract(epoch FROM received_at) / CAST(? AS bigint))
			ORDER BY received_at DESC, id DESC) AS rn
		FROM satellite_heartbeats
		WHERE received_at >= ? AND received_at < ?) AS ranked
	WHERE rn > 1)`,
	// received_at is stored as text, "2006-01-02 15:04:05.999999999-07:00". Older SQLite (3.40
	// was checked) rounds fractional seconds to milliseconds, so 12:09:59.9999 would read as
	// 12:10:00 and land in the next bucket (the bundled 3.53 truncates); the fraction is cut off
	// first (the first 19 characters, then the zone, the last 6), so the result does not depend on
	// the version. Integer division floors: the epoch seconds are positive.
	SQLite: `DELETE FROM satellite_heartbeats WHERE id IN (
	SELECT id FROM (
		SELECT id, row_number() OVER (
			PARTITION BY satellite_id,
				CAST(strftime('%s', substr(received_at, 1, 19) || substr(received_at, -6)) AS INTEGER) / ?
			ORDER BY received_at DESC, id DESC) AS rn
		FROM satellite_heartbeats
		WHERE received_at >= ? AND received_at < ?) AS ranked
	WHERE rn > 1)`,
}

// HeartbeatBucket returns the start of the downsampling bucket of width bucket that holds t.
// Buckets are aligned to the Unix epoch (time.Time.Truncate aligns to year 1, which differs for
// widths that do not divide a day). bucket must be a positive whole number of seconds.
func HeartbeatBucket(t time.Time, bucket time.Duration) time.Time {
	b := int64(bucket / time.Second)
	if b <= 0 {
		return t.UTC()
	}
	sec := t.Unix()
	start := sec - sec%b
	if sec%b < 0 { // before 1970: % keeps the dividend's sign
		start -= b
	}
	return time.Unix(start, 0).UTC()
}

// DownsampleHeartbeats thins the heartbeats received in [from, to) to one per satellite per
// bucket, keeping the last of each, and returns how many it deleted. from and to are moved down
// to bucket boundaries first, so only whole buckets are ever thinned: a bucket cut in two by the
// range would lose its first part's survivor when the second part is thinned later.
//
// It is one DELETE, so several replicas may run it over the same range at once: they choose the
// same survivors, and a row deleted by one is simply not deleted again by the other. The range
// bounds the statement's work (and SQLite's write lock); callers walk a large backlog in slices.
func (s *Store) DownsampleHeartbeats(ctx context.Context, from, to time.Time, bucket time.Duration) (int64, error) {
	if bucket < time.Second || bucket%time.Second != 0 {
		return 0, fmt.Errorf("downsample heartbeats: bucket %s is not a positive whole number of seconds", bucket)
	}
	from, to = HeartbeatBucket(from, bucket), HeartbeatBucket(to, bucket)
	if !from.Before(to) {
		return 0, nil
	}
	q, ok := downsampleSQL[s.dialect]
	if !ok {
		return 0, fmt.Errorf("downsample heartbeats: unsupported dialect %q", s.dialect)
	}
	res := s.db.WithContext(ctx).Exec(q, int64(bucket/time.Second), from, to)
	if res.Error != nil {
		return 0, fmt.Errorf("downsample heartbeats in [%s, %s): %w", from.Format(time.RFC3339), to.Format(time.RFC3339), res.Error)
	}
	return res.RowsAffected, nil
}
