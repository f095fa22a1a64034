package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/talos-gs/talos/backend/config"
	"github.com/talos-gs/talos/backend/store"
)

func newMigrateCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply pending database migrations and print the schema version",
		Args:  cobra.NoArgs,
		RunE:  func(*cobra.Command, []string) error { return migrate(e) },
	}
}

func migrate(e *env) error {
	return withStore(e, func(_ *config.Config, st *store.Store) error {
		applied, _, err := st.SchemaVersion(e.ctx)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(e.out, "schema version %d (%s)\n", applied, st.Dialect())
		return err
	})
}
