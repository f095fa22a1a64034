package waterfall

import (
	"testing"
)

// FuzzParseSigMF: no sidecar makes the parser panic, and what it accepts is usable.
func FuzzParseSigMF(f *testing.F) {
	f.Add([]byte(`{"global":{"core:datatype":"cf32_le","core:sample_rate":48000},` +
		`"captures":[{"core:frequency":437e6,"core:datetime":"2026-06-27T10:00:00Z","core:header_bytes":16}]}`))
	f.Add([]byte(`{"global":{"core:datatype":"ci16_le"}}`))
	f.Add([]byte(`{"captures":[{"core:datetime":"x"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseSigMF(data)
		if err != nil {
			return
		}
		if !finite(m.sampleRate) || m.sampleRate < 0 || !finite(m.centreHz) || m.offset < 0 {
			t.Fatalf("accepted unusable metadata %+v", m)
		}
	})
}
