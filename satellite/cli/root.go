// Package cli holds the talos-satellite command line: one file per subcommand.
package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/talos-gs/talos/backend/api"
)

// subcommands lists the constructors of every subcommand; each lives in its own file.
var subcommands = []func(stdio) *cobra.Command{
	newVersionCmd,
	newPredictCmd, newLookCmd,
	newRegisterCmd, newRunCmd, newStatusCmd, newTrackCmd, newRotatorCmd, newWaterfallCmd,
}

// stdio carries the process's standard streams, so commands can be tested in-process.
type stdio struct {
	in       io.Reader
	out, err io.Writer
}

// exitError lets a subcommand choose the process exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// Main runs the command line and returns the process exit code.
func Main(args []string, in io.Reader, out, errOut io.Writer) int {
	root := newRootCmd(stdio{in: in, out: out, err: errOut})
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		_, _ = fmt.Fprintln(errOut, "talos-satellite:", err) // nowhere left to report a failed write to stderr
		var ee *exitError
		if errors.As(err, &ee) {
			return ee.code
		}
		return 1
	}
	return 0
}

func newRootCmd(s stdio) *cobra.Command {
	root := &cobra.Command{
		Use:           "talos-satellite",
		Short:         "The Talos runner at a ground station",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(s.in)
	root.SetOut(s.out)
	root.SetErr(s.err)
	for _, newCmd := range subcommands {
		root.AddCommand(newCmd(s))
	}
	return root
}

func newVersionCmd(s stdio) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintln(s.out, api.Version)
			return err
		},
	}
}
