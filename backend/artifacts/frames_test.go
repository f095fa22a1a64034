package artifacts_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/artifacts"
)

func TestParseFramesSkipsBadLinesAndNamesTheFirst(t *testing.T) {
	t.Parallel()
	long := `{"time":"2026-06-27T00:00:00Z","hex":"` + strings.Repeat("ab", 200_000) + `"}`
	in := strings.Join([]string{
		`{"time":"2026-06-27T00:00:01Z","hex":"01"}`,
		long,
		`{"time":"2026-06-27T00:00:02Z","hex":"01","base64":"AQ=="}`,
		`{"hex":"01"}`,
		`{"time":"2026-06-27T00:00:03Z","base64":"AQID","fields":[1]}`,
		`{"time":"2026-06-27T00:00:04Z","base64":"AQID","fields":{"a":1}}`,
	}, "\n")
	res, err := artifacts.ParseFrames(strings.NewReader(in))
	require.NoError(t, err)
	require.Len(t, res.Frames, 2)
	assert.Equal(t, 0, res.Frames[0].Seq)
	assert.Equal(t, 5, res.Frames[1].Seq, "seq is the line's place in the file")
	assert.Equal(t, "010203", res.Frames[1].Data)
	assert.Equal(t, 4, res.Skipped)
	assert.Contains(t, res.FirstError, "line 2: longer than")
}

func FuzzParseFrames(f *testing.F) {
	f.Add([]byte(`{"time":"2026-06-27T00:00:01Z","hex":"01","fields":{"x":"y"}}` + "\n" + `{"time":"x"}`))
	f.Add([]byte("\n\n{}\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		res, err := artifacts.ParseFrames(bytes.NewReader(in))
		require.NoError(t, err)
		for _, fr := range res.Frames {
			assert.NotEmpty(t, fr.Data)
			assert.LessOrEqual(t, len(fr.Data), 2*api.MaxFrameBytes)
			assert.LessOrEqual(t, len(fr.Fields), artifacts.MaxFrameFieldsBytes)
		}
	})
}
