package orbit

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// A TLE line is exactly 69 columns: 68 of data and a checksum digit.
const tleLineLen = 69

// sgp4XPEphemerisType marks element sets fitted for SGP4-XP, a different theory. Other values
// (0, blank, and the 1–3 of old sets) have always meant SGP4 in distributed data.
const sgp4XPEphemerisType = '4'

// Sentinel errors of the TLE parser; each is wrapped with the line and field it concerns.
var (
	// ErrTLELength: a line is not 69 columns long (after trailing spaces and CR are removed).
	ErrTLELength = errors.New("line must be 69 columns")
	// ErrTLEChecksum: the modulo-10 checksum in column 69 does not match.
	ErrTLEChecksum = errors.New("checksum mismatch")
	// ErrTLELineNumber: column 1 is not the expected line number.
	ErrTLELineNumber = errors.New("wrong line number")
	// ErrTLECatalogMismatch: lines 1 and 2 name different catalog numbers.
	ErrTLECatalogMismatch = errors.New("catalog numbers of lines 1 and 2 differ")
)

// tleField is one fixed-width field: columns are 1-based and inclusive, as in the format's
// documentation, so the table below can be checked against it by eye.
type tleField struct {
	name     string
	from, to int
}

func (f tleField) of(line string) string { return line[f.from-1 : f.to] }

// Line 1 fields.
var (
	fCatalog1       = tleField{"catalog number", 3, 7}
	fClass          = tleField{"classification", 8, 8}
	fIntlDesignator = tleField{"international designator", 10, 17}
	fEpochYear      = tleField{"epoch year", 19, 20}
	fEpochDay       = tleField{"epoch day", 21, 32}
	fNDot           = tleField{"mean motion dot", 34, 43}
	fNDDot          = tleField{"mean motion ddot", 45, 52}
	fBStar          = tleField{"bstar", 54, 61}
	fEphemerisType  = tleField{"ephemeris type", 63, 63}
	fElementSetNo   = tleField{"element set number", 65, 68}
)

// Line 2 fields.
var (
	fCatalog2    = tleField{"catalog number", 3, 7}
	fInclination = tleField{"inclination", 9, 16}
	fRAAN        = tleField{"raan", 18, 25}
	fEccentric   = tleField{"eccentricity", 27, 33}
	fArgPerigee  = tleField{"argument of perigee", 35, 42}
	fMeanAnomaly = tleField{"mean anomaly", 44, 51}
	fMeanMotion  = tleField{"mean motion", 53, 63}
	fRevNumber   = tleField{"revolution number", 64, 68}
)

// ParseTLE parses one element set in the two-line format; name is line 0 of the 3-line form
// (may be empty; a leading "0 " as in CelesTrak's 3LE files is removed). Trailing spaces and
// carriage returns are tolerated, checksums are checked, catalog numbers may be Alpha-5. Errors
// name the line and field, e.g. "tle line 2: eccentricity: ...".
func ParseTLE(name, line1, line2 string) (*ElementSet, error) {
	l1, err := cleanTLELine(line1, '1')
	if err != nil {
		return nil, fmt.Errorf("tle line 1: %w", err)
	}
	l2, err := cleanTLELine(line2, '2')
	if err != nil {
		return nil, fmt.Errorf("tle line 2: %w", err)
	}
	es := &ElementSet{Name: cleanName(name)}
	if err := parseLine1(l1, es); err != nil {
		return nil, fmt.Errorf("tle line 1: %w", err)
	}
	if err := parseLine2(l2, es); err != nil {
		return nil, fmt.Errorf("tle line 2: %w", err)
	}
	if err := es.Validate(); err != nil {
		return nil, fmt.Errorf("tle: %w", err)
	}
	return es, nil
}

func cleanName(name string) string {
	name = strings.TrimRight(name, " \t\r\n")
	return strings.TrimSpace(strings.TrimPrefix(name, "0 "))
}

// cleanTLELine removes trailing blanks and CR, then checks length, line number and checksum.
func cleanTLELine(line string, number byte) (string, error) {
	line = strings.TrimRight(line, " \t\r\n")
	if len(line) != tleLineLen {
		return "", fmt.Errorf("%w, got %d", ErrTLELength, len(line))
	}
	if line[0] != number || line[1] != ' ' {
		return "", fmt.Errorf("%w: %q", ErrTLELineNumber, line[:2])
	}
	want := line[68]
	if want < '0' || want > '9' {
		return "", fmt.Errorf("checksum: %w: %q", ErrFieldSyntax, want)
	}
	if got := TLEChecksum(line[:68]); got != int(want-'0') {
		return "", fmt.Errorf("checksum: %w: computed %d, line has %c", ErrTLEChecksum, got, want)
	}
	return line, nil
}

// TLEChecksum is the checksum of a TLE line's first 68 characters (give it s = line[:68]): the
// sum of the digits, with '-' counting one, modulo 10. The line's 69th character must equal it.
func TLEChecksum(s string) int {
	sum := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			sum += int(c - '0')
		case c == '-':
			sum++
		}
	}
	return sum % 10
}

func parseLine1(l string, es *ElementSet) error {
	var err error
	if es.NORADID, err = parseCatalog(fCatalog1.of(l)); err != nil {
		return fieldErr(fCatalog1, err)
	}
	switch c := l[fClass.from-1]; c {
	case 'U', 'C', 'S', ' ':
		es.Classification = c
		if c == ' ' {
			es.Classification = 'U'
		}
	default:
		return fieldErr(fClass, fmt.Errorf("%w: %q", ErrFieldSyntax, c))
	}
	if es.IntlDesignator, err = parseDesignator(fIntlDesignator.of(l)); err != nil {
		return fieldErr(fIntlDesignator, err)
	}
	epoch, jd, err := parseTLEEpoch(fEpochYear.of(l), fEpochDay.of(l))
	if err != nil {
		return fieldErr(fEpochDay, err)
	}
	es.Epoch, es.EpochJD = epoch, jd
	if es.MeanMotionDot, err = parseDecimal(fNDot.of(l)); err != nil {
		return fieldErr(fNDot, err)
	}
	if es.MeanMotionDDot, err = parseExponent(fNDDot.of(l)); err != nil {
		return fieldErr(fNDDot, err)
	}
	if es.BStar, err = parseExponent(fBStar.of(l)); err != nil {
		return fieldErr(fBStar, err)
	}
	switch c := l[fEphemerisType.from-1]; {
	case c == sgp4XPEphemerisType:
		return fieldErr(fEphemerisType, fmt.Errorf("%w: 4 (SGP4-XP)", ErrUnsupported))
	case c != ' ' && (c < '0' || c > '9'):
		return fieldErr(fEphemerisType, fmt.Errorf("%w: %q", ErrFieldSyntax, c))
	}
	if es.ElementSetNo, err = parseUint(fElementSetNo.of(l), true); err != nil {
		return fieldErr(fElementSetNo, err)
	}
	return nil
}

func parseLine2(l string, es *ElementSet) error {
	id, err := parseCatalog(fCatalog2.of(l))
	if err != nil {
		return fieldErr(fCatalog2, err)
	}
	if id != es.NORADID {
		return fieldErr(fCatalog2, fmt.Errorf("%w: %d and %d", ErrTLECatalogMismatch, es.NORADID, id))
	}
	angles := []struct {
		f   tleField
		dst *float64
	}{
		{fInclination, &es.Inclination},
		{fRAAN, &es.RAAN},
		{fArgPerigee, &es.ArgPerigee},
		{fMeanAnomaly, &es.MeanAnomaly},
		{fMeanMotion, &es.MeanMotion},
	}
	for _, a := range angles {
		if *a.dst, err = parseDecimal(a.f.of(l)); err != nil {
			return fieldErr(a.f, err)
		}
	}
	if es.Eccentricity, err = parseImpliedDecimal(fEccentric.of(l)); err != nil {
		return fieldErr(fEccentric, err)
	}
	if es.RevAtEpoch, err = parseUint(fRevNumber.of(l), true); err != nil {
		return fieldErr(fRevNumber, err)
	}
	return nil
}

func fieldErr(f tleField, err error) error {
	return fmt.Errorf("%s (columns %d-%d): %w", f.name, f.from, f.to, err)
}

// parseCatalog reads a 5-column catalog number: five digits, or Alpha-5 (a letter other than
// I and O standing for 10–33, then four digits) for numbers 100000–339999.
func parseCatalog(s string) (int, error) {
	s5 := strings.TrimLeft(s, " ")
	if s5 == "" {
		return 0, fmt.Errorf("%w: empty", ErrFieldSyntax)
	}
	lead := s5[0]
	if lead >= 'A' && lead <= 'Z' {
		if len(s5) != 5 {
			return 0, fmt.Errorf("%w: %q", ErrFieldSyntax, s)
		}
		v := alpha5Value(lead)
		if v < 0 {
			return 0, fmt.Errorf("%w: letter %q not used by Alpha-5", ErrFieldSyntax, lead)
		}
		rest, err := parseUint(s5[1:], false)
		if err != nil || strings.Contains(s5, " ") {
			return 0, fmt.Errorf("%w: %q", ErrFieldSyntax, s)
		}
		return v*10000 + rest, nil
	}
	return parseUint(s, false)
}

// alpha5Value maps the Alpha-5 letter to its value; I and O are skipped to avoid confusion with
// 1 and 0.
func alpha5Value(c byte) int {
	switch {
	case c == 'I' || c == 'O':
		return -1
	case c < 'I':
		return int(c-'A') + 10
	case c < 'O':
		return int(c-'A') + 9
	default:
		return int(c-'A') + 8
	}
}

// parseDesignator checks the international designator: blank, or a 2-digit year, a 3-digit
// launch number and a piece of 1–3 letters.
func parseDesignator(s string) (string, error) {
	d := strings.TrimRight(s, " ")
	if d == "" {
		return "", nil
	}
	if len(d) < 6 {
		return "", fmt.Errorf("%w: %q", ErrFieldSyntax, s)
	}
	for i := 0; i < len(d); i++ {
		c := d[i]
		digit := c >= '0' && c <= '9'
		letter := c >= 'A' && c <= 'Z'
		if (i < 5 && !digit) || (i >= 5 && !letter) {
			return "", fmt.Errorf("%w: %q", ErrFieldSyntax, s)
		}
	}
	return d, nil
}

// parseTLEEpoch reads the 2-digit year (57–99 → 19xx, 00–56 → 20xx) and the day of the year with
// its fraction. The fraction is converted exactly: 10⁻⁸ day is 864 µs, a whole number of
// nanoseconds, so the time.Time is exact.
func parseTLEEpoch(yy, day string) (time.Time, JulianDate, error) {
	y, err := parseUint(yy, false)
	if err != nil {
		return time.Time{}, JulianDate{}, fmt.Errorf("year: %w", err)
	}
	year := 2000 + y
	if y >= 57 {
		year = 1900 + y
	}
	whole, frac, ok := strings.Cut(strings.TrimLeft(day, " "), ".")
	if !ok || len(frac) == 0 || len(frac) > 11 {
		return time.Time{}, JulianDate{}, fmt.Errorf("%w: %q", ErrFieldSyntax, day)
	}
	doy, err := parseUint(whole, false)
	if err != nil {
		return time.Time{}, JulianDate{}, err
	}
	fracDigits, err := parseUint(frac, false)
	if err != nil {
		return time.Time{}, JulianDate{}, err
	}
	start := time.Date(year, time.January, 1, 0, 0, 0, 0, time.UTC)
	daysInYear := int(start.AddDate(1, 0, 0).Sub(start).Hours() / 24)
	if doy < 1 || doy > daysInYear {
		return time.Time{}, JulianDate{}, fmt.Errorf("%w: day of year %d", ErrFieldRange, doy)
	}
	scale := pow10(len(frac))
	ns := int64(fracDigits) * (86400e9 / scale)
	t := start.AddDate(0, 0, doy-1).Add(time.Duration(ns))
	jd := JulianDateOf(start.AddDate(0, 0, doy-1))
	jd.Frac = float64(fracDigits) / float64(scale)
	return t, jd, nil
}

func pow10(n int) int64 {
	p := int64(1)
	for range n {
		p *= 10
	}
	return p
}

// parseUint reads an unsigned decimal integer; leading blanks are allowed, and an all-blank
// field reads as zero when blankOK.
func parseUint(s string, blankOK bool) (int, error) {
	t := strings.TrimLeft(s, " ")
	if t == "" {
		if blankOK {
			return 0, nil
		}
		return 0, fmt.Errorf("%w: empty", ErrFieldSyntax)
	}
	n := 0
	for i := 0; i < len(t); i++ {
		if t[i] < '0' || t[i] > '9' {
			return 0, fmt.Errorf("%w: %q", ErrFieldSyntax, s)
		}
		n = n*10 + int(t[i]-'0')
	}
	return n, nil
}

// parseDecimal reads a fixed-point decimal such as " 34.2682", "-.00000084" or "+.1". Only
// digits, one point and a leading sign are accepted, so strconv's "NaN", "Inf", hex and
// exponents are refused.
func parseDecimal(s string) (float64, error) {
	t := strings.TrimSpace(s)
	if !isPlainDecimal(t) {
		return 0, fmt.Errorf("%w: %q", ErrFieldSyntax, s)
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q", ErrFieldSyntax, s)
	}
	return v, nil
}

func isPlainDecimal(t string) bool {
	if t != "" && (t[0] == '-' || t[0] == '+') {
		t = t[1:]
	}
	digits, points := 0, 0
	for i := 0; i < len(t); i++ {
		switch c := t[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.':
			points++
		default:
			return false
		}
	}
	return digits > 0 && points <= 1
}

// parseImpliedDecimal reads digits with an implied leading decimal point ("1859667" → 0.1859667),
// the form of the eccentricity.
func parseImpliedDecimal(s string) (float64, error) {
	t := strings.TrimSpace(s)
	if t == "" || !isPlainDecimal(t) || strings.ContainsAny(t, ".+-") {
		return 0, fmt.Errorf("%w: %q", ErrFieldSyntax, s)
	}
	return strconv.ParseFloat("0."+t, 64)
}

// parseExponent reads the TLE's compact exponential form: an optional sign, a mantissa with an
// implied leading decimal point, and a signed one-digit power of ten (" 28098-4" → 0.28098e-4).
func parseExponent(s string) (float64, error) {
	t := strings.TrimSpace(s)
	if len(t) < 3 {
		return 0, fmt.Errorf("%w: %q", ErrFieldSyntax, s)
	}
	expSign, expDigit := t[len(t)-2], t[len(t)-1]
	if (expSign != '-' && expSign != '+' && expSign != ' ') || expDigit < '0' || expDigit > '9' {
		return 0, fmt.Errorf("%w: %q", ErrFieldSyntax, s)
	}
	mant := strings.TrimRight(t[:len(t)-2], " ")
	sign := ""
	if mant != "" && (mant[0] == '-' || mant[0] == '+') {
		sign, mant = mant[:1], mant[1:]
	}
	if mant == "" || strings.ContainsAny(mant, ".+- ") || !isPlainDecimal(mant) {
		return 0, fmt.Errorf("%w: %q", ErrFieldSyntax, s)
	}
	if expSign == ' ' {
		expSign = '+'
	}
	v, err := strconv.ParseFloat(sign+"0."+mant+"e"+string(expSign)+string(expDigit), 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q", ErrFieldSyntax, s)
	}
	return v, nil
}

// maxTLEFileLine bounds a line of a catalog file, so a file without newlines cannot make the
// reader buffer it whole.
const maxTLEFileLine = 4096

// ParseTLEs reads a catalog file of element sets in 2- or 3-line form (forms may be mixed).
// Blank lines and lines starting with '#' are skipped. The first bad entry stops the read with
// an error carrying its line number ("line 17: tle line 2: eccentricity: ...").
func ParseTLEs(r io.Reader) ([]*ElementSet, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 256), maxTLEFileLine)
	var (
		sets    []*ElementSet
		pending []numberedLine // name and/or line 1 waiting for the rest of the entry
		lineNo  int
	)
	for sc.Scan() {
		lineNo++
		text := strings.TrimRight(sc.Text(), " \t\r")
		if text == "" || text[0] == '#' {
			continue
		}
		pending = append(pending, numberedLine{lineNo, text})
		es, done, err := takeEntry(pending)
		if err != nil {
			return nil, err
		}
		if done {
			sets = append(sets, es)
			pending = pending[:0]
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", lineNo+1, err)
	}
	if len(pending) > 0 {
		return nil, fmt.Errorf("line %d: incomplete element set at end of input", pending[0].no)
	}
	return sets, nil
}

type numberedLine struct {
	no   int
	text string
}

// takeEntry decides whether the pending lines form a complete entry: [name] line1 line2.
func takeEntry(p []numberedLine) (*ElementSet, bool, error) {
	isLine := func(l numberedLine, n byte) bool {
		return len(l.text) >= 2 && l.text[0] == n && l.text[1] == ' '
	}
	last := p[len(p)-1]
	switch {
	case len(p) == 1:
		return nil, false, nil
	case len(p) == 2 && isLine(p[0], '1') && isLine(last, '2'):
		es, err := ParseTLE("", p[0].text, last.text)
		if err != nil {
			return nil, false, fmt.Errorf("entry at line %d: %w", p[0].no, err)
		}
		return es, true, nil
	case len(p) == 2 && isLine(last, '1'):
		return nil, false, nil
	case len(p) == 3 && isLine(p[1], '1'):
		es, err := ParseTLE(p[0].text, p[1].text, last.text)
		if err != nil {
			return nil, false, fmt.Errorf("entry at line %d: %w", p[0].no, err)
		}
		return es, true, nil
	default:
		return nil, false, fmt.Errorf("line %d: %q is neither a name, a line 1 nor a line 2 in sequence",
			last.no, truncate(last.text, 40))
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
