package server

import (
	"bytes"
	"errors"
	"net/http"
	"testing"
)

// fuzzBody decodes body into v and validates it: the answer is nil or an *Error with 400 or
// 413, never a panic.
func fuzzBody(t *testing.T, body []byte, v validator) bool {
	err := decodeJSON(bytes.NewReader(body), v)
	if err == nil {
		err = v.validate()
		if err == nil {
			return true
		}
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error is not an *Error: %v", err)
	}
	if e.Status != http.StatusBadRequest && e.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d for %q", e.Status, body)
	}
	return false
}

func FuzzRegisterBody(f *testing.F) {
	for _, s := range []string{`{"name":"roof","location":{"lat":48.1,"lon":11.6,"alt_m":520},"version":"0.1.0","capabilities":["rotator"]}`,
		`{"name":"x","satellite_id":"0190a8f6-3d5e-7c3b-9b1a-2f4e5d6c7b8a"}`, `{"name":""}`, `{"location":{"lat":1e999}}`,
		`{"name":"a","capabilities":["A"]}`, `[]`, `{"name":"\u0000"}`, `{"name":"x","location":null}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var r registerRequest
		if !fuzzBody(t, body, &r) {
			return
		}
		if r.Location.Lat < -90 || r.Location.Lat > 90 || r.Location.Lon < -180 || r.Location.Lon > 180 || r.Name == "" {
			t.Fatalf("accepted an out-of-range registration: %+v", r)
		}
	})
}

func FuzzHeartbeatBody(f *testing.F) {
	for _, s := range []string{`{"status":"online","version":"0.1.0","uptime_seconds":5,"system":{"cpu_percent":3,"memory":{"percent":20},"disk":{"percent":50},"load":{"load1":0.2}}}`,
		`{"status":"degraded","processes":[{"name":"d","state":"running"}],"tracking":{"state":"tracking","norad_id":25544}}`,
		`{"status":"online","system":{"temperature_c":1e308}}`, `{"status":"offline"}`, `{"status":"online","processes":[{}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var r heartbeatRequest
		if fuzzBody(t, body, &r) && (r.System.CPUPercent < 0 || r.System.CPUPercent > 100 || r.UptimeSeconds < 0) {
			t.Fatalf("accepted out-of-range metrics: %+v", r.System)
		}
	})
}

func FuzzEventBatchBody(f *testing.F) {
	for _, s := range []string{`{"events":[{"id":"0190a8f6-3d5e-7c3b-9b1a-2f4e5d6c7b8a","type":"observation.aos","severity":"info","time":"2026-06-26T12:00:00Z","data":{"a":1}}]}`,
		`{"events":[{"id":"x","type":"","severity":"loud","time":"0001-01-01T00:00:00Z"}]}`, `{"events":null}`,
		`{"events":[{"id":"0190a8f6-3d5e-7c3b-9b1a-2f4e5d6c7b8a","type":"log","severity":"debug","time":"2999-01-01T00:00:00Z","data":[1]}]}`,
		`{"events":[{"time":"yesterday"}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var r eventBatchRequest
		if !fuzzBody(t, body, &r) {
			return
		}
		for i := range r.Events {
			ev := &r.Events[i]
			code, _ := checkEvent(ev)
			if code == "" && (!validUUID(ev.ID) || ev.Type == "" || !knownSeverity(ev.Severity) || ev.Time.IsZero()) {
				t.Fatalf("accepted a bad event: %+v", ev)
			}
			_ = toEventRow(ev)
		}
	})
}
