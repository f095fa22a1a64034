// Package frontend holds the web UI (Vite + TypeScript + Vue 3, docs/ui.md) and embeds its
// built bundle into talos-backend. The Go side is only this file: the bundle is dist/app, written
// by `make build`; dist/README.md is committed so the embed pattern always matches something
// and `go build ./...` works before any npm step.
package frontend

import (
	"embed"
	"io/fs"
)

//go:embed all:dist
var dist embed.FS

// Bundle returns the built UI (index.html at its root), or false when this binary was built
// without it.
func Bundle() (fs.FS, bool) {
	app, err := fs.Sub(dist, "dist/app")
	if err != nil {
		return nil, false
	}
	if _, err := fs.Stat(app, "index.html"); err != nil {
		return nil, false
	}
	return app, true
}
