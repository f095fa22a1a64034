// Package cli is the talos-backend command line: one file per subcommand. Every command reads
// the same configuration (flags and TALOS_* variables, see backend/config), so the admin
// commands work on the database `serve` uses.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/config"
)

// env carries the process's standard streams, environment and context, so commands run
// in-process in tests.
type env struct {
	ctx      context.Context
	in       io.Reader
	out, err io.Writer
	getenv   func(string) string
	root     *cobra.Command
}

// config loads the configuration from the root's flags and the environment.
func (e *env) config() (*config.Config, error) {
	return config.Load(e.root.PersistentFlags(), e.getenv)
}

// Main runs the command line and returns the process exit code. ctx ends on the first
// interrupt signal.
func Main(ctx context.Context, args []string, in io.Reader, out, errOut io.Writer, getenv func(string) string) int {
	e := &env{ctx: ctx, in: in, out: out, err: errOut, getenv: getenv}
	root := newRoot(e)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		_, _ = fmt.Fprintln(errOut, "talos-backend:", err) // nowhere left to report a failed write to stderr
		return 1
	}
	return 0
}

func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:           "talos-backend",
		Short:         "The Talos ground-station network controller (serves by default)",
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE:          func(*cobra.Command, []string) error { return serve(e) },
	}
	e.root = root
	root.SetIn(e.in)
	root.SetOut(e.out)
	root.SetErr(e.err)
	config.RegisterFlags(root.PersistentFlags())
	root.AddCommand(newServeCmd(e), newMigrateCmd(e), newUserCmd(e), newTeamCmd(e), newTokenCmd(e), newPlanCmd(e),
		newCatalogCmd(e), newVersionCmd(e))
	return root
}

func newVersionCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintln(e.out, api.Version)
			return err
		},
	}
}

// errUsage marks a mistake in the command line itself.
var errUsage = errors.New("usage")
