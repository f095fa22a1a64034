package catalog

import (
	"strings"

	"github.com/talos-gs/talos/orbit"
)

// tleLine is one line of a TLE file with its 1-based number.
type tleLine struct {
	no   int
	text string
}

// tleEntry is [name] line1 line2 as found in a file.
type tleEntry struct {
	name, l1, l2 *tleLine
}

func (e tleEntry) first() int {
	if e.name != nil {
		return e.name.no
	}
	return e.l1.no
}

// parseTLEFile reads a file of 2- and 3-line element sets. Unlike orbit.ParseTLEs, which stops
// at the first bad entry, it reports each bad entry (and each stray line) and goes on: a line
// starting "1 " always opens a new entry, so one damaged set never hides the next.
func parseTLEFile(data []byte) ([]ParsedSet, []RecordError) {
	entries, errs := splitTLE(string(data))
	var sets []ParsedSet
	for n, e := range entries {
		rec := n + 1
		name := ""
		if e.name != nil {
			name = e.name.text
		}
		es, err := orbit.ParseTLE(name, e.l1.text, e.l2.text)
		if err != nil {
			errs = append(errs, RecordError{Record: rec, Line: e.first(), Field: tleField(err.Error()), Message: err.Error()})
			continue
		}
		raw := e.l1.text + "\n" + e.l2.text + "\n"
		if name != "" {
			raw = name + "\n" + raw
		}
		sets, errs = accept(sets, errs, ParsedSet{Elements: es, Format: FormatTLE, Raw: raw, Record: rec, Line: e.first()})
	}
	return sets, errs
}

// tleField picks the field name out of orbit's "tle line 2: eccentricity: ..." messages.
func tleField(msg string) string {
	parts := strings.SplitN(msg, ": ", 3)
	if len(parts) == 3 && strings.HasPrefix(parts[0], "tle") {
		field, _, _ := strings.Cut(parts[1], " (columns")
		return field
	}
	return ""
}

// maxTLENameLine bounds a name line; longer lines are not names but garbage.
const maxTLENameLine = 200

func splitTLE(text string) ([]tleEntry, []RecordError) {
	var (
		entries []tleEntry
		errs    []RecordError
		cur     tleEntry
	)
	stray := func(l *tleLine, msg string) {
		errs = append(errs, RecordError{Line: l.no, Message: msg})
	}
	for i, raw := range strings.Split(text, "\n") {
		l := &tleLine{no: i + 1, text: strings.TrimRight(raw, " \t\r")}
		switch {
		case l.text == "" || l.text[0] == '#':
			continue
		case strings.HasPrefix(l.text, "1 "):
			if cur.l1 != nil {
				stray(cur.l1, "line 1 without a line 2")
				cur.name = nil
			}
			cur.l1 = l
		case strings.HasPrefix(l.text, "2 "):
			if cur.l1 == nil {
				stray(l, "line 2 without a line 1")
				cur = tleEntry{}
				continue
			}
			cur.l2 = l
			entries = append(entries, cur)
			cur = tleEntry{}
		default:
			if cur.l1 != nil {
				stray(cur.l1, "line 1 without a line 2")
				cur.l1 = nil
			}
			if cur.name != nil {
				stray(cur.name, "name line without element lines")
			}
			if len(l.text) > maxTLENameLine {
				stray(l, "neither a name (too long) nor a line 1 or 2")
				cur.name = nil
				continue
			}
			cur.name = l
		}
	}
	if cur.l1 != nil {
		stray(cur.l1, "line 1 without a line 2 at the end of the input")
	} else if cur.name != nil {
		stray(cur.name, "name line without element lines at the end of the input")
	}
	return entries, errs
}
