// Package migrations embeds the SQL schema migrations of talos-backend, one directory per
// dialect (sqlite/, postgres/). Files are numbered goose migrations; both directories carry the
// same numbers so a feature lands in both dialects at once.
package migrations

import "embed"

// FS holds sqlite/*.sql and postgres/*.sql.
//
//go:embed sqlite/*.sql postgres/*.sql
var FS embed.FS
