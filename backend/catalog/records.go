package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/talos-gs/talos/orbit"
)

// Format names an input format of an import or a source.
type Format string

// Formats an import or a source may carry. FormatAuto lets DetectFormat decide.
const (
	FormatAuto         Format = ""
	FormatTLE          Format = "tle"
	FormatOMMJSON      Format = "omm-json"
	FormatOMMKVN       Format = "omm-kvn"
	FormatTransmitters Format = "satnogs-transmitters"
)

// ParseFormat checks a format name given by a user; "" and "auto" mean FormatAuto.
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case FormatAuto, "auto":
		return FormatAuto, nil
	case FormatTLE, FormatOMMJSON, FormatOMMKVN, FormatTransmitters:
		return f, nil
	}
	return "", fmt.Errorf("unknown format %q: want tle, omm-json, omm-kvn, satnogs-transmitters or auto", s)
}

// DetectFormat guesses the format of data: JSON is OMM unless its first object looks like a
// SatNOGS DB transmitter (uuid and norad_cat_id, no MEAN_MOTION); text holding CCSDS_OMM_VERS
// is OMM KVN; anything else is read as TLE.
func DetectFormat(data []byte) Format {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && (trimmed[0] == '[' || trimmed[0] == '{') {
		if looksLikeTransmitters(trimmed) {
			return FormatTransmitters
		}
		return FormatOMMJSON
	}
	if bytes.Contains(data, []byte("CCSDS_OMM_VERS")) {
		return FormatOMMKVN
	}
	return FormatTLE
}

func looksLikeTransmitters(data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	if data[0] == '[' {
		if _, err := dec.Token(); err != nil {
			return false
		}
	}
	var first map[string]json.RawMessage
	if err := dec.Decode(&first); err != nil {
		return false
	}
	_, uuid := first["uuid"]
	_, norad := first["norad_cat_id"]
	_, mm := first["MEAN_MOTION"]
	return uuid && norad && !mm
}

// RecordError reports one rejected record of an import: its number (1-based, in input order),
// the line it starts on (0 when the format has no lines to speak of), the field when known, and
// why.
type RecordError struct {
	Record  int    `json:"record"`
	Line    int    `json:"line,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

func (e RecordError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("record %d (line %d): %s", e.Record, e.Line, e.Message)
	}
	return fmt.Sprintf("record %d: %s", e.Record, e.Message)
}

// ParsedSet is one element set read from an input: the parsed elements, and the record's text
// as it will be stored (Raw, in Format).
type ParsedSet struct {
	Elements *orbit.ElementSet
	Format   Format
	Raw      string
	Record   int
	Line     int
}

// ParseElementSets reads every element set of data in format (TLE, OMM JSON or OMM KVN). A bad
// record is reported in the returned errors and the rest are still read; only an input that
// cannot be split into records at all (broken JSON) ends the read early, with the error as its
// last entry.
func ParseElementSets(data []byte, format Format) ([]ParsedSet, []RecordError) {
	switch format {
	case FormatTLE:
		return parseTLEFile(data)
	case FormatOMMJSON:
		return parseOMMJSON(data)
	case FormatOMMKVN:
		return parseOMMKVN(data)
	}
	return nil, []RecordError{{Record: 1, Message: fmt.Sprintf("format %q holds no element sets", format)}}
}

// ParseStored parses an element set as the catalog stores it.
func ParseStored(format, raw string) (*orbit.ElementSet, error) {
	var (
		sets []*orbit.ElementSet
		err  error
	)
	switch Format(format) {
	case FormatTLE:
		sets, err = orbit.ParseTLEs(strings.NewReader(raw))
	case FormatOMMJSON:
		sets, err = orbit.ParseOMMJSON(strings.NewReader(raw))
	case FormatOMMKVN:
		sets, err = orbit.ParseOMMKVN(strings.NewReader(raw))
	default:
		return nil, fmt.Errorf("stored element set: unknown format %q", format)
	}
	if err != nil {
		return nil, fmt.Errorf("stored element set: %w", err)
	}
	if len(sets) != 1 {
		return nil, fmt.Errorf("stored element set: %d sets in one record", len(sets))
	}
	return sets[0], nil
}

// maxNameLen bounds names and designators taken from an input, in characters.
const maxNameLen = 100

// checkSet validates what the catalog stores beyond orbit's own checks: text fit for both
// databases (valid UTF-8, no control characters such as NUL, which PostgreSQL refuses).
func checkSet(es *orbit.ElementSet, raw string) (field string, err error) {
	if err := cleanText(es.Name, maxNameLen); err != nil {
		return "name", err
	}
	if err := cleanText(es.IntlDesignator, maxNameLen); err != nil {
		return "international designator", err
	}
	if !utf8.ValidString(raw) || strings.ContainsRune(raw, 0) {
		return "", errors.New("record is not UTF-8 text")
	}
	return "", nil
}

func cleanText(s string, maxLen int) error {
	switch {
	case !utf8.ValidString(s):
		return errors.New("not UTF-8 text")
	case utf8.RuneCountInString(s) > maxLen:
		return fmt.Errorf("longer than %d characters", maxLen)
	case strings.ContainsFunc(s, unicode.IsControl):
		return errors.New("contains control characters")
	}
	return nil
}

// accept validates a parsed set and adds it to sets, or adds the error to errs.
func accept(sets []ParsedSet, errs []RecordError, ps ParsedSet) ([]ParsedSet, []RecordError) {
	if field, err := checkSet(ps.Elements, ps.Raw); err != nil {
		msg := err.Error()
		if field != "" {
			msg = field + ": " + msg
		}
		return sets, append(errs, RecordError{Record: ps.Record, Line: ps.Line, Field: field, Message: msg})
	}
	return append(sets, ps), errs
}

// lineOf returns the 1-based line of byte offset off in data.
func lineOf(data []byte, off int64) int {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	return bytes.Count(data[:off], []byte{'\n'}) + 1
}

func parseOMMJSON(data []byte) ([]ParsedSet, []RecordError) {
	var (
		sets []ParsedSet
		errs []RecordError
	)
	err := eachJSONObject(data, func(n, line int, raw json.RawMessage) {
		parsed, err := orbit.ParseOMMJSON(bytes.NewReader(raw))
		if err == nil && len(parsed) != 1 {
			err = errors.New("not one OMM object")
		}
		if err != nil {
			msg := strings.TrimPrefix(err.Error(), "omm json: element 0: ")
			errs = append(errs, RecordError{Record: n, Line: line, Field: leadingField(msg), Message: msg})
			return
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, raw); err != nil {
			errs = append(errs, RecordError{Record: n, Line: line, Message: err.Error()})
			return
		}
		sets, errs = accept(sets, errs, ParsedSet{Elements: parsed[0], Format: FormatOMMJSON,
			Raw: compact.String(), Record: n, Line: line})
	})
	if err != nil {
		errs = append(errs, *err)
	}
	return sets, errs
}

// eachJSONObject calls fn with every element of a JSON array (or a single object), numbered
// from 1 with the line it starts on. Broken JSON stops the walk: no later element can be found.
func eachJSONObject(data []byte, fn func(n, line int, raw json.RawMessage)) *RecordError {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 {
		return &RecordError{Record: 1, Message: "empty input"}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if trimmed[0] == '{' {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return &RecordError{Record: 1, Line: 1, Message: "malformed JSON: " + err.Error()}
		}
		fn(1, lineOf(data, int64(len(data)-len(trimmed))), raw)
		return nil
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return &RecordError{Record: 1, Line: 1, Message: "input is neither a JSON array nor an object"}
	}
	for n := 1; dec.More(); n++ {
		start := dec.InputOffset()
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return &RecordError{Record: n, Line: lineOf(data, start), Message: "malformed JSON, the rest of the input is not read: " + err.Error()}
		}
		fn(n, lineOf(data, skipSeparators(data, start)), raw)
	}
	if _, err := dec.Token(); err != nil && !errors.Is(err, io.EOF) {
		return &RecordError{Record: 0, Message: "malformed JSON at the end: " + err.Error()}
	}
	return nil
}

// leadingField picks the field out of an orbit message "FIELD: why" (a keyword such as
// ECCENTRICITY, or a field name such as "mean motion"); "" when the message starts otherwise.
func leadingField(msg string) string {
	field, _, ok := strings.Cut(msg, ": ")
	if !ok || len(field) > 40 || strings.Trim(field, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_ ") != "" {
		return ""
	}
	return field
}

// afterLinePrefix drops orbit's "line 3: " or "message at line 1: " before the field.
func afterLinePrefix(msg string) string {
	for _, p := range []string{"message at line ", "line "} {
		if rest, ok := strings.CutPrefix(msg, p); ok {
			if _, after, ok := strings.Cut(rest, ": "); ok {
				return after
			}
		}
	}
	return msg
}

// skipSeparators returns the offset of the first byte at or after off that is neither white
// space nor the comma between array elements: where the next element starts.
func skipSeparators(data []byte, off int64) int64 {
	for off < int64(len(data)) && strings.IndexByte(" \t\r\n,", data[off]) >= 0 {
		off++
	}
	return off
}

func parseOMMKVN(data []byte) ([]ParsedSet, []RecordError) {
	var (
		sets []ParsedSet
		errs []RecordError
	)
	for n, msg := range splitKVN(data) {
		rec := n + 1
		parsed, err := orbit.ParseOMMKVN(strings.NewReader(msg.text))
		if err == nil && len(parsed) != 1 {
			err = errors.New("not one OMM message")
		}
		if err != nil {
			text := strings.TrimPrefix(err.Error(), "omm kvn: ")
			errs = append(errs, RecordError{Record: rec, Line: msg.line, Field: leadingField(afterLinePrefix(text)), Message: text})
			continue
		}
		sets, errs = accept(sets, errs, ParsedSet{Elements: parsed[0], Format: FormatOMMKVN,
			Raw: msg.text, Record: rec, Line: msg.line})
	}
	return sets, errs
}

type kvnMessage struct {
	line int
	text string
}

// splitKVN cuts a KVN document into messages, each starting at a CCSDS_OMM_VERS line (text
// before the first one belongs to the first message).
func splitKVN(data []byte) []kvnMessage {
	var (
		out []kvnMessage
		cur strings.Builder
		at  = 1
	)
	for i, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "CCSDS_OMM_VERS") && strings.TrimSpace(cur.String()) != "" {
			out = append(out, kvnMessage{at, cur.String()})
			cur.Reset()
			at = i + 1
		}
		if cur.Len() == 0 && strings.TrimSpace(line) == "" {
			at = i + 2
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
	}
	if strings.TrimSpace(cur.String()) != "" {
		out = append(out, kvnMessage{at, cur.String()})
	}
	return out
}
