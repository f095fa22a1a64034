package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"
)

// Transmitter is one radio of a spacecraft, with SatNOGS DB's fields: its identity in SatNOGS DB
// and the radio itself.
type Transmitter struct {
	// UUID is SatNOGS DB's id of the transmitter; a repeated import updates it in place.
	UUID    string `json:"uuid"`
	NORADID int    `json:"norad_cat_id"`
	Radio
}

// Radio is what a transmitter is, as SatNOGS DB describes it and as a team adds its own through
// the API. Frequencies are in Hz and nil when unknown (an uplink of nil: none); Baud is in
// symbols per second.
type Radio struct {
	Description  string   `json:"description"`
	Type         string   `json:"type"`
	Alive        *bool    `json:"alive"`
	Status       string   `json:"status"`
	UplinkLow    *int64   `json:"uplink_low"`
	UplinkHigh   *int64   `json:"uplink_high"`
	DownlinkLow  *int64   `json:"downlink_low"`
	DownlinkHigh *int64   `json:"downlink_high"`
	Mode         string   `json:"mode"`
	Baud         *float64 `json:"baud"`
	Invert       bool     `json:"invert"`
}

// Limits of transmitter fields.
const (
	// maxFrequencyHz is far above any spacecraft radio (300 GHz); it rejects garbage.
	maxFrequencyHz = 300_000_000_000
	maxBaud        = 1e9
	maxNORADID     = 999_999_999
	maxUUIDLen     = 64
	maxShortText   = 100
	maxDescription = 500
)

// TransmitterStatuses are the statuses SatNOGS DB uses.
var TransmitterStatuses = []string{"active", "inactive", "invalid"}

// ParsedTransmitter is a valid transmitter with its record number.
type ParsedTransmitter struct {
	Transmitter Transmitter
	Record      int
	Line        int
}

// ParseTransmitters reads SatNOGS DB's transmitters JSON (an array of objects, or one object).
// Unknown fields are ignored (SatNOGS DB adds fields over time); each bad object is reported with
// its field and the rest are still read.
func ParseTransmitters(data []byte) ([]ParsedTransmitter, []RecordError) {
	var (
		out  []ParsedTransmitter
		errs []RecordError
	)
	err := eachJSONObject(data, func(n, line int, raw json.RawMessage) {
		var t Transmitter
		if err := json.Unmarshal(raw, &t); err != nil {
			errs = append(errs, jsonRecordError(n, line, err))
			return
		}
		if field, err := t.Validate(); err != nil {
			errs = append(errs, RecordError{Record: n, Line: line, Field: field, Message: field + ": " + err.Error()})
			return
		}
		out = append(out, ParsedTransmitter{Transmitter: t, Record: n, Line: line})
	})
	if err != nil {
		errs = append(errs, *err)
	}
	return out, errs
}

func jsonRecordError(n, line int, err error) RecordError {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" {
		// encoding/json names a field of the embedded Radio "Radio.x"; the record has only "x".
		field := strings.TrimPrefix(typeErr.Field, "Radio.")
		return RecordError{Record: n, Line: line, Field: field,
			Message: fmt.Sprintf("%s: must not be a JSON %s", field, typeErr.Value)}
	}
	return RecordError{Record: n, Line: line, Message: "malformed transmitter: " + err.Error()}
}

// Validate checks every field and names the first bad one.
func (t *Transmitter) Validate() (field string, err error) {
	if t.UUID == "" {
		return "uuid", errors.New("is required")
	}
	if len(t.UUID) > maxUUIDLen {
		return "uuid", fmt.Errorf("longer than %d bytes", maxUUIDLen)
	}
	if t.NORADID < 1 || t.NORADID > maxNORADID {
		return "norad_cat_id", fmt.Errorf("must be 1 to %d, not %d", maxNORADID, t.NORADID)
	}
	texts := []struct {
		name, v string
		max     int
	}{{"uuid", t.UUID, maxUUIDLen}, {"description", t.Description, maxDescription},
		{"type", t.Type, maxShortText}, {"mode", t.Mode, maxShortText}, {"status", t.Status, maxShortText}}
	for _, x := range texts {
		if err := cleanText(x.v, x.max); err != nil {
			return x.name, err
		}
	}
	if t.Status != "" && !validStatus(t.Status) {
		return "status", fmt.Errorf("must be active, inactive or invalid, not %q", t.Status)
	}
	return t.validateRadio()
}

func (t *Transmitter) validateRadio() (string, error) {
	freqs := []struct {
		name string
		v    *int64
	}{{"uplink_low", t.UplinkLow}, {"uplink_high", t.UplinkHigh},
		{"downlink_low", t.DownlinkLow}, {"downlink_high", t.DownlinkHigh}}
	for _, f := range freqs {
		if f.v != nil && (*f.v < 0 || *f.v > maxFrequencyHz) {
			return f.name, fmt.Errorf("must be 0 to %d Hz, not %d", int64(maxFrequencyHz), *f.v)
		}
	}
	if below(t.UplinkHigh, t.UplinkLow) {
		return "uplink_high", errors.New("is below uplink_low")
	}
	if below(t.DownlinkHigh, t.DownlinkLow) {
		return "downlink_high", errors.New("is below downlink_low")
	}
	if t.Baud != nil && (math.IsNaN(*t.Baud) || *t.Baud < 0 || *t.Baud > maxBaud) {
		return "baud", fmt.Errorf("must be 0 to %g, not %v", maxBaud, *t.Baud)
	}
	return "", nil
}

func below(high, low *int64) bool { return high != nil && low != nil && *high < *low }

func validStatus(s string) bool {
	for _, v := range TransmitterStatuses {
		if s == v {
			return true
		}
	}
	return false
}

// looksLikeText is true for data that is valid UTF-8 without NUL bytes.
func looksLikeText(data []byte) bool { return utf8.Valid(data) && !bytes.ContainsRune(data, 0) }
