package server

import (
	"bytes"
	"errors"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/talos-gs/talos/frontend"
)

// The web UI (docs/ui.md, decision 0098): the Vite bundle embedded by package frontend, served
// at / by the same engine as the API. Every path that is neither /api/... nor /metrics nor a file
// of the bundle is a client route of the single-page app and gets index.html.

// contentSecurityPolicy allows scripts, styles, images and connections from Talos itself only:
// no inline scripts or styles (the bundle has none; uPlot's CSS is a file), no eval, no frames.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; " +
	"frame-ancestors 'none'"

// securityHeaders go on every answer, API and UI alike.
func (s *Server) securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
	if s.overHTTPS(c) {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	c.Next()
}

// uiHandler answers the requests no route took: the UI for browsers' GETs outside /api, /metrics
// and /debug (the profiles, when they are switched off), the JSON 404 otherwise.
func (s *Server) uiHandler() gin.HandlerFunc {
	bundle := s.opts.UI
	if bundle == nil {
		bundle, _ = frontend.Bundle()
	} else if _, err := fs.Stat(bundle, "index.html"); err != nil {
		bundle = nil
	}
	return func(c *gin.Context) {
		p := c.Request.URL.Path
		if (c.Request.Method != http.MethodGet && c.Request.Method != http.MethodHead) ||
			strings.HasPrefix(p, "/api/") || p == "/api" || p == "/metrics" ||
			strings.HasPrefix(p, "/debug/") || p == "/debug" {
			s.fail(c, errNotFound)
			return
		}
		if bundle == nil {
			c.Header("Cache-Control", "no-cache")
			c.Data(http.StatusOK, "text/html; charset=utf-8", []byte(notBuiltPage))
			return
		}
		s.serveUI(c, bundle, p)
	}
}

// serveUI serves a file of the bundle, or index.html for a client route. Hashed assets
// (assets/name-hash.ext) never change under their name and are cached for a year; index.html and
// the other files are revalidated on each use, so a new release is picked up at once.
func (s *Server) serveUI(c *gin.Context, bundle fs.FS, urlPath string) {
	name := strings.TrimPrefix(path.Clean(urlPath), "/")
	if name != "" && name != "index.html" {
		if b, err := fs.ReadFile(bundle, name); err == nil {
			cache := "no-cache"
			if strings.HasPrefix(name, "assets/") {
				cache = "public, max-age=31536000, immutable"
			}
			c.Header("Cache-Control", cache)
			http.ServeContent(c.Writer, c.Request, name, time.Time{}, bytes.NewReader(b))
			return
		} else if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, fs.ErrInvalid) {
			s.fail(c, err)
			return
		}
		// A missing asset is a 404: index.html in its place would only confuse the browser.
		if strings.HasPrefix(name, "assets/") || path.Ext(name) != "" {
			s.fail(c, errNotFound)
			return
		}
	}
	index, err := fs.ReadFile(bundle, "index.html")
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-cache")
	c.Data(http.StatusOK, "text/html; charset=utf-8", index)
}

// notBuiltPage answers / in a binary built without the UI bundle (go build before make build).
const notBuiltPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Talos: the UI is not built</title></head>
<body><h1>Talos</h1>
<p>The API is running, but this talos-backend was built without the web UI.
Run <code>make build</code> (it builds the UI in frontend/ with npm, then the Go binaries) and start
the new <code>bin/talos-backend</code>.</p>
<p>The API is under <a href="/api/health">/api</a>; see docs/api-users.md.</p>
</body></html>
`
