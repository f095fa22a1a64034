package orbit

import "time"

// unixEpochJD is the Julian date of 1970-01-01T00:00:00 UTC.
const unixEpochJD = 2440587.5

// JulianDate is a Julian date in two parts, Day + Frac, so that an instant keeps sub-microsecond
// precision: a single float64 Julian date resolves only about 40 µs today. Day is a whole day
// number plus 0.5 (a Julian day starts at noon, so Day falls on midnight UTC); Frac is the
// fraction of the day since that midnight, 0 ≤ Frac < 1.
type JulianDate struct {
	Day  float64
	Frac float64
}

// JulianDateOf converts t (any location; the instant is what counts) to a two-part Julian date on
// the UTC time scale.
func JulianDateOf(t time.Time) JulianDate {
	sec := t.Unix()
	days := sec / 86400
	rem := sec % 86400
	if rem < 0 {
		days--
		rem += 86400
	}
	frac := (float64(rem) + float64(t.Nanosecond())/1e9) / 86400
	return JulianDate{Day: unixEpochJD + float64(days), Frac: frac}
}

// Time converts j back to a UTC time.Time, to the nanosecond as far as float64 allows.
func (j JulianDate) Time() time.Time {
	days := j.Day - unixEpochJD
	whole := int64(days)
	ns := (days - float64(whole) + j.Frac) * 86400e9
	return time.Unix(whole*86400, 0).Add(time.Duration(ns)).UTC()
}

// MinutesSince returns j − k in minutes, computed part by part to keep precision.
func (j JulianDate) MinutesSince(k JulianDate) float64 {
	return ((j.Day - k.Day) + (j.Frac - k.Frac)) * 1440
}
