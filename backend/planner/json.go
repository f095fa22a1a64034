package planner

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"runtime"
	"strconv"
	"sync"
	"time"
)

// JSONLines writes passes as JSON lines, one object per pass:
//
//	{"station":"ID","norad":25544,"aos":"2026-06-26T00:01:02.345Z","tca":"…","los":"…","max_el":41.27,"aos_az":312.4,"los_az":118.9}
//
// with RFC 3339 UTC times to the millisecond and angles in degrees to 0.01°; "in_progress":
// "start", "end" or "both" is added to a pass cut by the window. It writes by hand, without
// reflection: a plan of a thousand stations has over a million lines.
type JSONLines struct {
	w   *bufio.Writer
	enc *lineEncoder
	buf []byte
}

// lineEncoder appends passes as JSON lines; each goroutine needs its own (it caches a date).
type lineEncoder struct {
	ids    [][]byte // each station's id as a JSON string
	norads [][]byte
	day    dayCache
}

// dayCache keeps the date part of the last day written: a plan's times fall on a few days, and
// working out a calendar date is the slow part of formatting a time.
type dayCache struct {
	start  int64  // Unix seconds of 00:00 UTC of the day
	prefix []byte // "2026-06-26T"
}

func newLineEncoder(req Request) (*lineEncoder, error) {
	e := &lineEncoder{ids: make([][]byte, len(req.Stations)), norads: make([][]byte, len(req.Spacecraft))}
	for i, s := range req.Stations {
		id, err := json.Marshal(s.ID)
		if err != nil {
			return nil, fmt.Errorf("station %d id: %w", i, err)
		}
		e.ids[i] = id
	}
	for i, s := range req.Spacecraft {
		e.norads[i] = strconv.AppendInt(nil, int64(s.NORAD), 10)
	}
	return e, nil
}

// clone is an encoder sharing e's read-only tables, with a cache of its own.
func (e *lineEncoder) clone() *lineEncoder { return &lineEncoder{ids: e.ids, norads: e.norads} }

// NewJSONLines returns a writer of passes planned for req to w.
func NewJSONLines(w io.Writer, req Request) (*JSONLines, error) {
	enc, err := newLineEncoder(req)
	if err != nil {
		return nil, err
	}
	return &JSONLines{w: bufio.NewWriterSize(w, 1<<16), enc: enc}, nil
}

// Write writes one pass.
func (j *JSONLines) Write(p Pass) error {
	j.buf = j.enc.append(j.buf[:0], p)
	_, err := j.w.Write(j.buf)
	return err
}

// Flush writes what is buffered.
func (j *JSONLines) Flush() error { return j.w.Flush() }

// jsonChunk is how many passes one goroutine of WriteJSONLines encodes at a time.
const jsonChunk = 8192

// WriteJSONLines writes passes as JSON lines (see JSONLines) to w in their order, encoding
// chunks of them on every core: for a network plan, encoding is a good part of the work.
func WriteJSONLines(w io.Writer, req Request, passes []Pass) error {
	first, err := newLineEncoder(req)
	if err != nil {
		return err
	}
	workers := runtime.GOMAXPROCS(0)
	encs, bufs := make([]*lineEncoder, workers), make([][]byte, workers)
	for i := range encs {
		encs[i] = first.clone()
	}
	for start := 0; start < len(passes); start += workers * jsonChunk {
		var wg sync.WaitGroup
		for i := range workers {
			lo := min(len(passes), start+i*jsonChunk)
			hi := min(len(passes), lo+jsonChunk)
			wg.Add(1)
			go func() {
				defer wg.Done()
				b := bufs[i][:0]
				for _, p := range passes[lo:hi] {
					b = encs[i].append(b, p)
				}
				bufs[i] = b
			}()
		}
		wg.Wait()
		for i := range workers {
			if _, err := w.Write(bufs[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

func (e *lineEncoder) append(b []byte, p Pass) []byte {
	b = append(b, `{"station":`...)
	b = append(b, e.ids[p.Station]...)
	b = append(b, `,"norad":`...)
	b = append(b, e.norads[p.Spacecraft]...)
	b = e.appendTimeField(b, `,"aos":"`, p.AOS)
	b = e.appendTimeField(b, `,"tca":"`, p.TCA)
	b = e.appendTimeField(b, `,"los":"`, p.LOS)
	b = appendAngleField(b, `,"max_el":`, p.MaxElevationDeg)
	b = appendAngleField(b, `,"aos_az":`, p.AOSAzimuthDeg)
	b = appendAngleField(b, `,"los_az":`, p.LOSAzimuthDeg)
	switch {
	case p.InProgressAtStart && p.InProgressAtEnd:
		b = append(b, `,"in_progress":"both"`...)
	case p.InProgressAtStart:
		b = append(b, `,"in_progress":"start"`...)
	case p.InProgressAtEnd:
		b = append(b, `,"in_progress":"end"`...)
	}
	return append(b, "}\n"...)
}

// appendAngleField appends deg rounded to 0.01° (halves away from zero), in integer arithmetic
// for the angles a pass has (|deg| < 1e6).
func appendAngleField(b []byte, name string, deg float64) []byte {
	b = append(b, name...)
	c := int64(math.Round(math.Abs(deg) * 100))
	if math.IsNaN(deg) || c >= 1e8 {
		return strconv.AppendFloat(b, deg, 'f', 2, 64)
	}
	if deg < 0 && c != 0 {
		b = append(b, '-')
	}
	b = strconv.AppendInt(b, c/100, 10)
	return appendDigits(append(b, '.'), int(c%100), 2)
}

func (e *lineEncoder) appendTimeField(b []byte, name string, t time.Time) []byte {
	b = append(b, name...)
	ms := t.Round(time.Millisecond).UnixMilli()
	sec := ms / 1000
	if sec < e.day.start || sec >= e.day.start+86400 || e.day.prefix == nil {
		day := time.Unix(sec, 0).UTC().Truncate(24 * time.Hour)
		e.day = dayCache{start: day.Unix(), prefix: AppendTimeMillis(nil, day)[:11]}
	}
	b = append(b, e.day.prefix...)
	sod := int(sec - e.day.start)
	b = appendDigits(b, sod/3600, 2)
	b = appendDigits(append(b, ':'), sod/60%60, 2)
	b = appendDigits(append(b, ':'), sod%60, 2)
	b = appendDigits(append(b, '.'), int(ms-sec*1000), 3)
	return append(b, `Z"`...)
}

// AppendTimeMillis appends t in UTC as RFC 3339 with exactly three fractional digits
// ("2026-06-26T00:01:02.345Z"), rounded to the millisecond. It is time.AppendFormat's result
// for that layout, several times faster.
func AppendTimeMillis(b []byte, t time.Time) []byte {
	t = t.UTC().Round(time.Millisecond)
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	}
	b = appendDigits(b, year, 4)
	b = appendDigits(append(b, '-'), int(month), 2)
	b = appendDigits(append(b, '-'), day, 2)
	b = appendDigits(append(b, 'T'), hour, 2)
	b = appendDigits(append(b, ':'), minute, 2)
	b = appendDigits(append(b, ':'), sec, 2)
	b = appendDigits(append(b, '.'), t.Nanosecond()/int(time.Millisecond), 3)
	return append(b, 'Z')
}

func appendDigits(b []byte, v, width int) []byte {
	var d [4]byte
	for i := width - 1; i >= 0; i-- {
		d[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, d[:width]...)
}
