package planner

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"
)

// TestJSONLinesMatchesTheStandardLibrary: the hand-written encoder gives what encoding/json and
// time.Format would, for times on many days, around midnight, and for rounding edges.
func TestJSONLinesMatchesTheStandardLibrary(t *testing.T) {
	t.Parallel()
	req := Request{Stations: []Station{{ID: `a "quoted" \\ id`}, {ID: "ß-2"}}, Spacecraft: []Spacecraft{{NORAD: 25544}, {NORAD: 339999}}}
	base := time.Date(2026, 12, 31, 23, 59, 59, 999_600_000, time.UTC)
	var passes []Pass
	for i := range 200 {
		at := base.Add(time.Duration(i) * 37 * time.Minute).Add(time.Duration(i*i) * time.Microsecond)
		passes = append(passes, Pass{Station: i % 2, Spacecraft: (i / 2) % 2, AOS: at, TCA: at.Add(5 * time.Minute),
			LOS: at.Add(11*time.Minute + 499*time.Microsecond), MaxElevationDeg: float64(i)*0.4371 - 3,
			AOSAzimuthDeg: math.Mod(float64(i)*17.125, 360), LOSAzimuthDeg: 359.996,
			InProgressAtStart: i%7 == 0, InProgressAtEnd: i%5 == 0})
	}
	var buf bytes.Buffer
	w, err := NewJSONLines(&buf, req)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range passes {
		if err := w.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), []byte("\n"))
	if len(lines) != len(passes) {
		t.Fatalf("%d lines, want %d", len(lines), len(passes))
	}
	const layout = "2006-01-02T15:04:05.000Z07:00"
	for i, line := range lines {
		var got map[string]any
		if err := json.Unmarshal(line, &got); err != nil {
			t.Fatalf("line %d %q: %v", i, line, err)
		}
		p := passes[i]
		want := map[string]any{
			"station": req.Stations[p.Station].ID, "norad": float64(req.Spacecraft[p.Spacecraft].NORAD),
			"aos": p.AOS.Round(time.Millisecond).Format(layout), "tca": p.TCA.Round(time.Millisecond).Format(layout),
			"los": p.LOS.Round(time.Millisecond).Format(layout),
		}
		switch {
		case p.InProgressAtStart && p.InProgressAtEnd:
			want["in_progress"] = "both"
		case p.InProgressAtStart:
			want["in_progress"] = "start"
		case p.InProgressAtEnd:
			want["in_progress"] = "end"
		}
		for k, v := range map[string]float64{"max_el": p.MaxElevationDeg, "aos_az": p.AOSAzimuthDeg, "los_az": p.LOSAzimuthDeg} {
			if g, ok := got[k].(float64); !ok || math.Abs(g-v) > 0.005+1e-9 {
				t.Errorf("line %d %s = %v, want %.4f to 0.01 (%s)", i, k, got[k], v, line)
			}
			want[k] = got[k]
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("line %d %s = %v, want %v (%s)", i, k, got[k], v, line)
			}
		}
		if len(got) != len(want) {
			t.Errorf("line %d has keys %v, want %v", i, got, want)
		}
	}
}

// TestWriteJSONLinesMatchesTheStreamingWriter: the parallel writer writes exactly what the
// streaming one does, in the same order, across chunk boundaries and days.
func TestWriteJSONLinesMatchesTheStreamingWriter(t *testing.T) {
	t.Parallel()
	req := Request{Stations: []Station{{ID: "a"}, {ID: "b"}, {ID: "c"}}, Spacecraft: []Spacecraft{{NORAD: 1}, {NORAD: 2}}}
	base := time.Date(2026, 6, 26, 0, 0, 0, 0, time.UTC)
	passes := make([]Pass, 3*jsonChunk+17)
	for i := range passes {
		at := base.Add(time.Duration(i) * 97 * time.Second)
		passes[i] = Pass{Station: i % 3, Spacecraft: i % 2, AOS: at, TCA: at.Add(time.Minute), LOS: at.Add(9 * time.Minute),
			MaxElevationDeg: float64(i%900) / 10, AOSAzimuthDeg: float64(i % 360), InProgressAtEnd: i%11 == 0}
	}
	var want, got bytes.Buffer
	w, err := NewJSONLines(&want, req)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range passes {
		if err := w.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := WriteJSONLines(&got, req, passes); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatalf("parallel output differs: %d bytes, want %d", got.Len(), want.Len())
	}
}
