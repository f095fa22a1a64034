package orbit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// OMM keywords (CCSDS 502.0-B-3) carried by CelesTrak's GP JSON and by KVN messages.
const (
	kwObjectName     = "OBJECT_NAME"
	kwObjectID       = "OBJECT_ID"
	kwEpoch          = "EPOCH"
	kwMeanMotion     = "MEAN_MOTION"
	kwEccentricity   = "ECCENTRICITY"
	kwInclination    = "INCLINATION"
	kwRAAN           = "RA_OF_ASC_NODE"
	kwArgPericenter  = "ARG_OF_PERICENTER"
	kwMeanAnomaly    = "MEAN_ANOMALY"
	kwEphemerisType  = "EPHEMERIS_TYPE"
	kwClassification = "CLASSIFICATION_TYPE"
	kwNoradCatID     = "NORAD_CAT_ID"
	kwElementSetNo   = "ELEMENT_SET_NO"
	kwRevAtEpoch     = "REV_AT_EPOCH"
	kwBStar          = "BSTAR"
	kwMeanMotionDot  = "MEAN_MOTION_DOT"
	kwMeanMotionDDot = "MEAN_MOTION_DDOT"
	kwRefFrame       = "REF_FRAME"
	kwTimeSystem     = "TIME_SYSTEM"
	kwCenterName     = "CENTER_NAME"
	kwTheory         = "MEAN_ELEMENT_THEORY"
	kwVersion        = "CCSDS_OMM_VERS"
)

// ErrOMMMissing is wrapped by OMM parse errors for a required keyword that is absent.
var ErrOMMMissing = errors.New("required keyword missing")

// ErrUnsupported is wrapped when an element set declares a frame, time system, centre or theory
// other than the TEME / UTC / EARTH / SGP4 that the propagator implements (for example an
// SGP4-XP set, ephemeris type 4, which SGP4 would propagate wrongly).
var ErrUnsupported = errors.New("unsupported value")

// maxOMMInput bounds the size of one OMM document read by the parsers: a full CelesTrak catalog
// in JSON is about 10 MB.
const maxOMMInput = 64 << 20

// ommFields is one OMM message as keyword → value text, whatever the encoding.
type ommFields map[string]string

// ParseOMMJSON reads CelesTrak GP JSON: an array of OMM objects, or a single object. Values may
// be JSON numbers or strings (Space-Track writes strings). Unknown keywords are ignored. Errors
// name the element and keyword, e.g. "omm json: element 3: ECCENTRICITY: ...".
func ParseOMMJSON(r io.Reader) ([]*ElementSet, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxOMMInput+1))
	if err != nil {
		return nil, fmt.Errorf("omm json: %w", err)
	}
	if len(data) > maxOMMInput {
		return nil, fmt.Errorf("omm json: input larger than %d bytes", maxOMMInput)
	}
	objects, err := splitJSONObjects(data)
	if err != nil {
		return nil, fmt.Errorf("omm json: %w", err)
	}
	sets := make([]*ElementSet, 0, len(objects))
	for i, raw := range objects {
		fields, err := jsonFields(raw)
		if err == nil {
			var es *ElementSet
			if es, err = fields.elementSet(); err == nil {
				sets = append(sets, es)
				continue
			}
		}
		return nil, fmt.Errorf("omm json: element %d: %w", i, err)
	}
	return sets, nil
}

// splitJSONObjects accepts an array of objects or one object.
func splitJSONObjects(data []byte) ([]json.RawMessage, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, errors.New("empty input")
	}
	if trimmed[0] == '{' {
		return []json.RawMessage{trimmed}, nil
	}
	var arr []json.RawMessage
	if err := json.Unmarshal(trimmed, &arr); err != nil {
		return nil, fmt.Errorf("not an array or object of OMMs: %w", err)
	}
	return arr, nil
}

// jsonFields turns one JSON object into keyword texts; numbers keep their literal text so no
// precision is lost before our own parsing.
func jsonFields(raw json.RawMessage) (ommFields, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, fmt.Errorf("not an object: %w", err)
	}
	f := make(ommFields, len(obj))
	for k, v := range obj {
		v = bytes.TrimSpace(v)
		switch {
		case len(v) == 0 || string(v) == "null":
			continue
		case v[0] == '"':
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			f[k] = s
		case v[0] == '{' || v[0] == '[':
			continue // nested values are not OMM keywords
		default:
			f[k] = string(v)
		}
	}
	return f, nil
}

// ParseOMMKVN reads CCSDS OMM messages in keyword = value notation. Several messages may follow
// each other; each starts with CCSDS_OMM_VERS. Units in brackets after a value are ignored,
// COMMENT lines skipped. Errors name the line and keyword.
func ParseOMMKVN(r io.Reader) ([]*ElementSet, error) {
	sc := bufio.NewScanner(io.LimitReader(r, maxOMMInput))
	sc.Buffer(make([]byte, 0, 256), maxTLEFileLine)
	var (
		sets   []*ElementSet
		cur    ommFields
		start  int
		lineNo int
		flush  = func() error {
			if cur == nil {
				return nil
			}
			es, err := cur.elementSet()
			if err != nil {
				return fmt.Errorf("omm kvn: message at line %d: %w", start, err)
			}
			sets = append(sets, es)
			return nil
		}
	)
	for sc.Scan() {
		lineNo++
		key, val, skip, err := kvnLine(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("omm kvn: line %d: %w", lineNo, err)
		}
		if skip {
			continue
		}
		if key == kwVersion || cur == nil {
			if err := flush(); err != nil {
				return nil, err
			}
			cur, start = ommFields{}, lineNo
		}
		if _, dup := cur[key]; dup {
			return nil, fmt.Errorf("omm kvn: line %d: %s: keyword repeated", lineNo, key)
		}
		cur[key] = val
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("omm kvn: line %d: %w", lineNo+1, err)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	if len(sets) == 0 {
		return nil, errors.New("omm kvn: no message in input")
	}
	return sets, nil
}

// kvnLine splits "KEY = value [unit]"; blank and COMMENT lines are skipped.
func kvnLine(line string) (key, val string, skip bool, err error) {
	line = strings.TrimSpace(line)
	if line == "" || line == "COMMENT" || strings.HasPrefix(line, "COMMENT ") {
		return "", "", true, nil
	}
	key, val, ok := strings.Cut(line, "=")
	if !ok {
		return "", "", false, fmt.Errorf("%w: no '=' in %q", ErrFieldSyntax, truncate(line, 40))
	}
	key = strings.TrimSpace(key)
	val = strings.TrimSpace(val)
	if i := strings.IndexByte(val, '['); i >= 0 && strings.HasSuffix(val, "]") {
		val = strings.TrimSpace(val[:i])
	}
	if key == "" || strings.ContainsAny(key, " \t") {
		return "", "", false, fmt.Errorf("%w: keyword %q", ErrFieldSyntax, truncate(key, 40))
	}
	return key, val, false, nil
}

// elementSet converts and validates one message.
func (f ommFields) elementSet() (*ElementSet, error) {
	if err := f.checkConventions(); err != nil {
		return nil, err
	}
	es := &ElementSet{Name: strings.TrimSpace(f[kwObjectName]), Classification: 'U'}
	var err error
	if es.NORADID, err = f.int(kwNoradCatID, true); err != nil {
		return nil, err
	}
	if es.IntlDesignator, err = tleDesignator(f[kwObjectID]); err != nil {
		return nil, fmt.Errorf("%s: %w", kwObjectID, err)
	}
	if err := f.epoch(es); err != nil {
		return nil, err
	}
	if err := f.classification(es); err != nil {
		return nil, err
	}
	if err := f.floats(es); err != nil {
		return nil, err
	}
	if es.ElementSetNo, err = f.int(kwElementSetNo, false); err != nil {
		return nil, err
	}
	if es.RevAtEpoch, err = f.int(kwRevAtEpoch, false); err != nil {
		return nil, err
	}
	if err := es.Validate(); err != nil {
		return nil, err
	}
	return es, nil
}

// checkConventions refuses messages for another frame, time scale, centre or theory: SGP4 mean
// elements only make sense in TEME, UTC, Earth-centred, with the SGP4 theory (SGP4-XP differs).
func (f ommFields) checkConventions() error {
	want := []struct{ key, value string }{
		{kwRefFrame, "TEME"}, {kwTimeSystem, "UTC"}, {kwCenterName, "EARTH"}, {kwTheory, "SGP4"},
	}
	for _, w := range want {
		if v, ok := f[w.key]; ok && !strings.EqualFold(strings.TrimSpace(v), w.value) {
			return fmt.Errorf("%s: %w: %q (want %s)", w.key, ErrUnsupported, v, w.value)
		}
	}
	if v, ok := f[kwEphemerisType]; ok && strings.TrimSpace(v) != "0" {
		return fmt.Errorf("%s: %w: %q (want 0, SGP4)", kwEphemerisType, ErrUnsupported, v)
	}
	return nil
}

func (f ommFields) floats(es *ElementSet) error {
	fields := []struct {
		key      string
		required bool
		dst      *float64
	}{
		{kwMeanMotion, true, &es.MeanMotion},
		{kwEccentricity, true, &es.Eccentricity},
		{kwInclination, true, &es.Inclination},
		{kwRAAN, true, &es.RAAN},
		{kwArgPericenter, true, &es.ArgPerigee},
		{kwMeanAnomaly, true, &es.MeanAnomaly},
		{kwBStar, true, &es.BStar},
		{kwMeanMotionDot, false, &es.MeanMotionDot},
		{kwMeanMotionDDot, false, &es.MeanMotionDDot},
	}
	for _, fl := range fields {
		v, ok := f[fl.key]
		if !ok {
			if fl.required {
				return fmt.Errorf("%s: %w", fl.key, ErrOMMMissing)
			}
			continue
		}
		x, err := parseOMMFloat(v)
		if err != nil {
			return fmt.Errorf("%s: %w", fl.key, err)
		}
		*fl.dst = x
	}
	return nil
}

// parseOMMFloat accepts decimal and exponent notation only: no NaN, Inf, hex or underscores.
func parseOMMFloat(s string) (float64, error) {
	t := strings.TrimSpace(s)
	if t == "" || strings.Trim(t, "0123456789.+-eE") != "" {
		return 0, fmt.Errorf("%w: %q", ErrFieldSyntax, truncate(s, 40))
	}
	x, err := strconv.ParseFloat(t, 64)
	if err != nil || !isFinite(x) {
		return 0, fmt.Errorf("%w: %q", ErrFieldSyntax, truncate(s, 40))
	}
	return x, nil
}

func (f ommFields) int(key string, required bool) (int, error) {
	v, ok := f[key]
	if !ok {
		if required {
			return 0, fmt.Errorf("%s: %w", key, ErrOMMMissing)
		}
		return 0, nil
	}
	t := strings.TrimSpace(v)
	if len(t) > 9 {
		return 0, fmt.Errorf("%s: %w: %q", key, ErrFieldRange, truncate(v, 40))
	}
	n, err := parseUint(t, false)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", key, err)
	}
	return n, nil
}

func (f ommFields) classification(es *ElementSet) error {
	v, ok := f[kwClassification]
	if !ok {
		return nil
	}
	switch c := strings.TrimSpace(v); c {
	case "U", "C", "S":
		es.Classification = c[0]
		return nil
	default:
		return fmt.Errorf("%s: %w: %q", kwClassification, ErrFieldSyntax, truncate(v, 40))
	}
}

// epochLayouts are the CCSDS time forms: calendar date or day of year, optional trailing Z;
// fractional seconds of any length are accepted by time.Parse after the seconds field.
var epochLayouts = []string{"2006-01-02T15:04:05", "2006-002T15:04:05"}

func (f ommFields) epoch(es *ElementSet) error {
	v, ok := f[kwEpoch]
	if !ok {
		return fmt.Errorf("%s: %w", kwEpoch, ErrOMMMissing)
	}
	t, err := parseOMMEpoch(v)
	if err != nil {
		return fmt.Errorf("%s: %w", kwEpoch, err)
	}
	es.setEpoch(t)
	return nil
}

func parseOMMEpoch(v string) (time.Time, error) {
	s := strings.TrimSuffix(strings.TrimSpace(v), "Z")
	for _, layout := range epochLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: %q (want YYYY-MM-DDThh:mm:ss[.f] UTC)", ErrFieldSyntax, truncate(v, 40))
}

// tleDesignator converts a COSPAR id "1998-067A" to the TLE form "98067A"; the TLE form itself
// and an empty value are accepted too.
func tleDesignator(id string) (string, error) {
	id = strings.TrimSpace(id)
	if id == "" {
		return "", nil
	}
	if len(id) >= 9 && id[4] == '-' {
		if _, err := parseUint(id[:4], false); err != nil {
			return "", err
		}
		id = id[2:4] + id[5:]
	}
	if len(id) > 8 {
		return "", fmt.Errorf("%w: %q", ErrFieldSyntax, truncate(id, 40))
	}
	return parseDesignator(id)
}
