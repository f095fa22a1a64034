// Package command defines how talos-satellite runs a command: a handler per command type.
package command

import (
	"context"
	"encoding/json"

	"github.com/talos-gs/talos/backend/api"
)

// Handler runs one command and returns its result (any JSON value, or nil) or an error. It must
// honour ctx: the runner cancels it when the command is cancelled or the runner stops. A handler
// that panics fails its command, not the runner.
type Handler func(ctx context.Context, cmd api.Command) (json.RawMessage, error)

// Handlers maps command types (api.Command* constants) to their handlers. A part of the runner
// that serves commands (proc, tracker, ...) exposes a Handlers value that the runner merges into
// its registry.
type Handlers map[string]Handler
