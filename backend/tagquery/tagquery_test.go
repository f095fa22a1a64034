package tagquery_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/tagquery"
)

var (
	uhfAzEl = tagquery.Labels{Tags: map[string]string{"band": "uhf", "rotator": "az-el", "site": "campus-a"},
		Capabilities: []string{"rotator", "radio"}}
	vhfFixed = tagquery.Labels{Tags: map[string]string{"band": "vhf", "site": "campus-b"}, Capabilities: []string{"radio"}}
	bare     = tagquery.Labels{}
)

func TestMatch(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		query  string
		normal string
		want   [3]bool // uhfAzEl, vhfFixed, bare
	}{
		{"band=uhf", "band=uhf", [3]bool{true, false, false}},
		{"band=uhf AND rotator=az-el", "(band=uhf AND rotator=az-el)", [3]bool{true, false, false}},
		{"band=uhf OR band=vhf", "(band=uhf OR band=vhf)", [3]bool{true, true, false}},
		{"band!=uhf", "band!=uhf", [3]bool{false, true, true}},
		{"has(rotator)", "has(rotator)", [3]bool{true, false, false}},
		{"NOT has(band)", "NOT has(band)", [3]bool{false, false, true}},
		{"capability:rotator", "capability:rotator", [3]bool{true, false, false}},
		{"capability:radio AND site=campus-b", "(capability:radio AND site=campus-b)", [3]bool{false, true, false}},
		// AND binds tighter than OR; parentheses override.
		{"band=vhf OR band=uhf AND has(nothing)", "(band=vhf OR (band=uhf AND has(nothing)))", [3]bool{false, true, false}},
		{"(band=vhf OR band=uhf) AND has(rotator)", "((band=vhf OR band=uhf) AND has(rotator))", [3]bool{true, false, false}},
		{"  NOT (band=uhf OR band=vhf)\t", "NOT (band=uhf OR band=vhf)", [3]bool{false, false, true}},
		{"site=campus-a AND NOT NOT capability:rotator", "(site=campus-a AND NOT NOT capability:rotator)", [3]bool{true, false, false}},
		{"has=yes", "has=yes", [3]bool{false, false, false}},
		{"capability=x", "capability=x", [3]bool{false, false, false}},
		{"and=or OR not!=x", "(and=or OR not!=x)", [3]bool{true, true, true}},
	} {
		t.Run(tc.query, func(t *testing.T) {
			t.Parallel()
			q, err := tagquery.Parse(tc.query)
			require.NoError(t, err)
			assert.Equal(t, tc.normal, q.Normal())
			assert.Equal(t, strings.TrimSpace(tc.query), q.String())
			for i, s := range []tagquery.Labels{uhfAzEl, vhfFixed, bare} {
				assert.Equal(t, tc.want[i], q.Match(s), "station %d", i)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		query string
		pos   int
		says  string
	}{
		{"", 0, "empty"},
		{"band", 4, `expected "=" or "!="`},
		{"band=", 5, "expected a value"},
		{"band=uhf and rotator=az-el", 9, "keywords AND, OR and NOT are upper-case"},
		{"band=uhf AND", 12, "found the end of the query"},
		{"band = uhf OR OR x=y", 14, `found "OR"`},
		{"(band=uhf", 9, `expected ")"`},
		{"band=uhf)", 8, "expected AND, OR or the end"},
		{"Band=uhf", 0, "not a tag key"},
		{"band=u hf", 7, "expected AND, OR"},
		{"band=-uhf", 5, "not a tag value"},
		{"band='uhf'", 5, "unexpected character"},
		{"band==uhf", 5, "expected a value"},
		{"band!uhf", 4, "unexpected character"},
		{"has(Band)", 4, "not a tag key"},
		{"has(band", 8, `expected ")"`},
		{"capability:", 11, "a capability name"},
		{"capability:Rotator", 11, "not a capability name"},
		{"x=y AND (and)", 12, `expected "=" or "!=" after the key "and"`},
		{"NOT", 3, "found the end"},
		{"()", 1, `found ")"`},
		{"band=uhf\x00", 8, "unexpected character"},
		{"band=ü", 5, "unexpected character"},
		{strings.Repeat("(", 40) + "a=b" + strings.Repeat(")", 40), tagquery.MaxDepth, "nests deeper"},
		{strings.Repeat("a=b OR ", 64) + "a=b", 64 * 7, "more than 64 terms"},
		{strings.Repeat("a", tagquery.MaxLen+1), tagquery.MaxLen, "longer than"},
	} {
		t.Run(tc.query, func(t *testing.T) {
			t.Parallel()
			_, err := tagquery.Parse(tc.query)
			var pe *tagquery.Error
			require.True(t, errors.As(err, &pe), "parsed: %v", err)
			assert.Equal(t, tc.pos, pe.Pos, pe.Message)
			assert.Contains(t, pe.Message, tc.says)
			assert.Contains(t, err.Error(), "at position")
		})
	}
}

// FuzzParse: no input panics; an accepted query's normal form parses to itself and selects the
// same stations; an error's position lies within the query.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"band=uhf AND rotator=az-el", "(a=b OR c!=d) AND NOT has(e)", "capability:rotator",
		"x=y and z", "((((a=b", "has(", "a=b)", "NOT NOT NOT x=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := tagquery.Parse(s)
		if err != nil {
			var pe *tagquery.Error
			require.True(t, errors.As(err, &pe))
			require.True(t, pe.Pos >= 0 && pe.Pos <= max(len(strings.TrimSpace(s)), tagquery.MaxLen), "position %d of %q", pe.Pos, s)
			return
		}
		n := q.Normal()
		q2, err := tagquery.Parse(n)
		if len(n) > tagquery.MaxLen || strings.Count(n, "(") >= tagquery.MaxDepth {
			return // the parenthesised form may pass a limit the original did not
		}
		require.NoError(t, err, "normal form %q of %q", n, s)
		require.Equal(t, n, q2.Normal())
		for _, st := range []tagquery.Labels{uhfAzEl, vhfFixed, bare} {
			require.Equal(t, q.Match(st), q2.Match(st))
		}
	})
}
