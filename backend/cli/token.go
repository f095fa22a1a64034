package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/talos-gs/talos/backend/config"
	"github.com/talos-gs/talos/backend/regtoken"
	"github.com/talos-gs/talos/backend/store"
)

func newTokenCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Manage satellite registration tokens"}
	cmd.AddCommand(newTokenCreateCmd(e))
	return cmd
}

func newTokenCreateCmd(e *env) *cobra.Command {
	var (
		team, name string
		ttl        time.Duration
		uses       int
	)
	cmd := &cobra.Command{
		Use:   "create [--team SLUG] [--ttl 24h] [--uses N] [--name N]",
		Short: "Create a satellite registration token and print it (alone) on standard output",
		Long: "Create a registration token for `talos-satellite register`. Without --team the token is " +
			"global (default lifetime 1h); with --team it registers satellites into that team (default 24h).",
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if ttl < 0 || ttl > regtoken.MaxTTL {
				return fmt.Errorf("%w: --ttl must be a positive duration up to %s", errUsage, regtoken.MaxTTL)
			}
			if uses < 1 || uses > regtoken.MaxUses {
				return fmt.Errorf("%w: --uses must be 1 to %d", errUsage, regtoken.MaxUses)
			}
			return withStore(e, func(cfg *config.Config, st *store.Store) error {
				return createToken(e, cfg, st, regtoken.Request{TTL: ttl, Uses: uses, Name: name, CreatedBy: "cli"}, team)
			})
		},
	}
	cmd.Flags().StringVar(&team, "team", "", "slug (or id) of the team the token registers into (default: global)")
	cmd.Flags().DurationVar(&ttl, "ttl", 0, "lifetime, e.g. 24h (default 1h global, 24h team)")
	cmd.Flags().IntVar(&uses, "uses", 1, "how many registrations the token allows")
	cmd.Flags().StringVar(&name, "name", "", "a name to recognise the token by in listings")
	return cmd
}

func createToken(e *env, cfg *config.Config, st *store.Store, req regtoken.Request, team string) error {
	if team != "" {
		t, err := st.TeamBySlug(e.ctx, team)
		if err != nil && store.ValidID(team) {
			t, err = st.TeamByID(e.ctx, team)
		}
		if err != nil {
			return fmt.Errorf("team %s: %w", team, err)
		}
		req.TeamID = &t.ID
	}
	key, err := cfg.SecretKey()
	if err != nil {
		return err
	}
	signed, _, err := regtoken.New(key, nil).Issue(e.ctx, st, req)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(e.out, signed)
	return err
}
