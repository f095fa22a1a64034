package server_test

import (
	"net/http"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"

	"github.com/talos-gs/talos/backend/server"
	"github.com/talos-gs/talos/backend/server/servertest"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

// TestUIServing: the bundle's files with their caching, index.html for client routes, 404s
// for missing assets and for the API, the security headers on both, and the "not built" page
// for a binary without the bundle.
func TestUIServing(t *testing.T) {
	t.Parallel()
	bundle := fstest.MapFS{
		"index.html":            {Data: []byte(`<!doctype html><script type="module" src="/assets/app-1a2b.js"></script>`)},
		"assets/app-1a2b.js":    {Data: []byte("console.log(1)")},
		"assets/style-3c4d.css": {Data: []byte("body{}")},
		"favicon.svg":           {Data: []byte("<svg/>")},
	}
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		h := servertest.New(t, st, func(o *server.Options) { o.UI = bundle })
		c := h.Anonymous(t)
		for _, tc := range []struct {
			path, body, cache, ctype string
			status                   int
		}{
			{"/", "<!doctype html>", "no-cache", "text/html", http.StatusOK},
			{"/stations/0192a0b0-0000-7000-8000-000000000000", "<!doctype html>", "no-cache", "text/html", http.StatusOK},
			{"/login?next=%2Fstations", "<!doctype html>", "no-cache", "text/html", http.StatusOK},
			{"/assets/app-1a2b.js", "console.log(1)", "public, max-age=31536000, immutable", "text/javascript", http.StatusOK},
			{"/assets/style-3c4d.css", "body{}", "public, max-age=31536000, immutable", "text/css", http.StatusOK},
			{"/favicon.svg", "<svg/>", "no-cache", "image/svg+xml", http.StatusOK},
			{"/assets/gone-9999.js", `"not_found"`, "", "application/json", http.StatusNotFound},
			{"/api/nothing-here", `"not_found"`, "", "application/json", http.StatusNotFound},
		} {
			r := c.Do(t, http.MethodGet, tc.path, nil)
			assert.Equal(t, tc.status, r.Status, tc.path)
			assert.Contains(t, string(r.Body), tc.body, tc.path)
			assert.Equal(t, tc.cache, r.Header.Get("Cache-Control"), tc.path)
			assert.True(t, strings.HasPrefix(r.Header.Get("Content-Type"), tc.ctype), "%s: %s", tc.path, r.Header.Get("Content-Type"))
			csp := r.Header.Get("Content-Security-Policy")
			assert.Contains(t, csp, "script-src 'self';", tc.path)
			assert.Contains(t, csp, "style-src 'self';", tc.path)
			assert.NotContains(t, csp, "unsafe-inline", tc.path)
			assert.Equal(t, "nosniff", r.Header.Get("X-Content-Type-Options"), tc.path)
			assert.Equal(t, "DENY", r.Header.Get("X-Frame-Options"), tc.path)
		}
		r := c.Do(t, http.MethodPost, "/stations", "{}")
		assert.Equal(t, http.StatusNotFound, r.Status, "only GET and HEAD reach the UI")

		bare := servertest.New(t, st, func(o *server.Options) { o.UI = fstest.MapFS{} }).Anonymous(t)
		r = bare.Do(t, http.MethodGet, "/stations", nil)
		assert.Equal(t, http.StatusOK, r.Status)
		assert.Contains(t, string(r.Body), "make build")
	})
}
