package client

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestUploadLocationStaysOnTheBackend: the API key goes wherever Location points, so only a
// path below this satellite's uploads, on the same backend, is taken.
func TestUploadLocationStaysOnTheBackend(t *testing.T) {
	t.Parallel()
	c, err := New(Options{BaseURL: "https://talos.example.org/base", APIKey: "k"})
	require.NoError(t, err)
	s := Satellite{Client: c, ID: "sat-1"}
	for loc, want := range map[string]string{
		"/base/api/satellites/sat-1/uploads/abc":                          "/api/satellites/sat-1/uploads/abc",
		"https://talos.example.org/base/api/satellites/sat-1/uploads/abc": "/api/satellites/sat-1/uploads/abc",
	} {
		got, err := s.uploadPath(loc)
		require.NoError(t, err, loc)
		assert.Equal(t, want, got)
	}
	for _, loc := range []string{
		"https://evil.example.org/base/api/satellites/sat-1/uploads/abc",
		"http://talos.example.org/base/api/satellites/sat-1/uploads/abc",
		"/base/api/satellites/sat-2/uploads/abc",
		"/base/api/satellites/sat-1/uploads/",
		"/base/api/satellites/sat-1/uploads/abc/def",
		"/base/api/satellites/sat-1/commands",
	} {
		_, err := s.uploadPath(loc)
		assert.Error(t, err, loc)
	}
	assert.Equal(t, "filename YS5pcQ==,kind aXE=", encodeMetadata(map[string]string{"kind": "iq", "filename": "a.iq"}))
}
