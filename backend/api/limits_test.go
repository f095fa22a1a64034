package api

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFitLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
		limit          int
	}{
		{"short", "v2", "v2", MaxCgroupLimitsLen},
		{"joined error", "off: a\nb\r\n\n c ", "off: a; b; c", MaxCgroupLimitsLen},
		{"control characters", "off:\tx\x00\x1by  z", "off: x y z", MaxCgroupLimitsLen},
		{"invalid utf-8", "off: \xff", "off: \uFFFD", MaxCgroupLimitsLen},
		{"cut", "abcdef", "abc…", 4},
		{"cut at a space", "ab cdef", "ab…", 4},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, FitLine(tc.in, tc.limit), tc.name)
	}
}

func FuzzFitLine(f *testing.F) {
	for _, s := range []string{"", "v1", "off: a\nb", strings.Repeat("ä\t", 300), "\xff\x00\u2028"} {
		f.Add(s, MaxCgroupLimitsLen)
	}
	f.Fuzz(func(t *testing.T, s string, limit int) {
		if limit < 1 || limit > 1000 {
			return
		}
		got := FitLine(s, limit)
		require.True(t, utf8.ValidString(got))
		require.LessOrEqual(t, utf8.RuneCountInString(got), limit)
		require.False(t, strings.ContainsFunc(got, unicode.IsControl), "%q", got)
		require.Equal(t, got, strings.TrimSpace(got))
	})
}
