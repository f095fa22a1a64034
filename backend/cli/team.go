package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/talos-gs/talos/backend/config"
	"github.com/talos-gs/talos/backend/store"
)

func newTeamCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "team", Short: "Manage teams"}
	cmd.AddCommand(newTeamCreateCmd(e))
	return cmd
}

func newTeamCreateCmd(e *env) *cobra.Command {
	var name, owner string
	cmd := &cobra.Command{
		Use:   "create --name N [--owner EMAIL]",
		Short: "Create a team and print its id and slug",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			name = strings.TrimSpace(name)
			if name == "" || len(name) > 100 {
				return fmt.Errorf("%w: --name must be 1 to 100 characters", errUsage)
			}
			return withStore(e, func(_ *config.Config, st *store.Store) error {
				ownerID := ""
				if owner != "" {
					u, err := st.UserByEmail(e.ctx, owner)
					if err != nil {
						return fmt.Errorf("owner %s: %w", owner, err)
					}
					ownerID = u.ID
				}
				t, err := st.CreateTeam(e.ctx, name, ownerID)
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(e.out, "%s %s\n", t.ID, t.Slug)
				return err
			})
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "the team's name (required)")
	cmd.Flags().StringVar(&owner, "owner", "", "email of the team's first owner")
	_ = cmd.MarkFlagRequired("name") // only fails for an unknown flag name
	return cmd
}
