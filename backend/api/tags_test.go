package api

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidateTags(t *testing.T) {
	t.Parallel()
	require.NoError(t, ValidateTags(nil))
	require.NoError(t, ValidateTags(map[string]string{"band": "uhf", "rotator": "az-el", "site": "campus-a",
		"polarisation": "RHCP", "antenna.gain_db": "12.5", "feed": "lna/2+filter"}))
	many := map[string]string{}
	for i := range MaxTags + 1 {
		many[strings.Repeat("k", i+1)] = "v"
	}
	for name, tc := range map[string]struct {
		tags  map[string]string
		field string
	}{
		"too many":           {many, "tags"},
		"upper-case key":     {map[string]string{"Band": "uhf"}, "tags"},
		"key with digit":     {map[string]string{"1band": "uhf"}, "tags"},
		"empty key":          {map[string]string{"": "uhf"}, "tags"},
		"long key":           {map[string]string{strings.Repeat("k", MaxTagKeyLen+1): "v"}, "tags"},
		"empty value":        {map[string]string{"band": ""}, "tags.band"},
		"value with space":   {map[string]string{"band": "u hf"}, "tags.band"},
		"value with colon":   {map[string]string{"band": "a:b"}, "tags.band"},
		"value with equals":  {map[string]string{"band": "a=b"}, "tags.band"},
		"value leading dash": {map[string]string{"band": "-uhf"}, "tags.band"},
		"long value":         {map[string]string{"band": strings.Repeat("v", MaxTagValueLen+1)}, "tags.band"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var te *TagError
			require.True(t, errors.As(ValidateTags(tc.tags), &te), "accepted %v", tc.tags)
			assert.Equal(t, tc.field, te.Field)
		})
	}
	require.NoError(t, ValidateTags(map[string]string{strings.Repeat("k", MaxTagKeyLen): strings.Repeat("v", MaxTagValueLen)}))
}
