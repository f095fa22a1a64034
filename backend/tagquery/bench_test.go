package tagquery_test

import (
	"fmt"
	"testing"

	"github.com/talos-gs/talos/backend/tagquery"
)

// BenchmarkMatch500 evaluates a typical query over a team of 500 stations, the work
// store.SatellitesMatching adds to reading them (docs/decisions/0101-tag-query-language.md).
func BenchmarkMatch500(b *testing.B) {
	q, err := tagquery.Parse("(band=uhf OR band=vhf) AND rotator=az-el AND NOT has(broken) AND capability:radio")
	if err != nil {
		b.Fatal(err)
	}
	stations := make([]tagquery.Labels, 500)
	for i := range stations {
		stations[i] = tagquery.Labels{Tags: map[string]string{"band": []string{"uhf", "vhf", "s"}[i%3],
			"rotator": []string{"az-el", "az"}[i%2], "site": fmt.Sprintf("site-%d", i%40)},
			Capabilities: []string{"rotator", "radio", "proc"}}
	}
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		for i := range stations {
			if q.Match(&stations[i]) {
				n++
			}
		}
		if n == 0 {
			b.Fatal("nothing matched")
		}
	}
}

// BenchmarkParse parses a query of a dozen terms.
func BenchmarkParse(b *testing.B) {
	const text = "(site=campus-a OR site=campus-b OR site=roof) AND band=uhf AND rotator=az-el AND " +
		"NOT has(broken) AND capability:radio AND polarisation!=lhcp AND (feed=lna/2+filter OR has(preamp))"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tagquery.Parse(text); err != nil {
			b.Fatal(err)
		}
	}
}
