package cli

import (
	"bufio"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/talos-gs/talos/backend/accounts"
	"github.com/talos-gs/talos/backend/auth"
	"github.com/talos-gs/talos/backend/config"
	"github.com/talos-gs/talos/backend/store"
)

func newUserCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Manage users"}
	cmd.AddCommand(newUserCreateCmd(e), newUserTokenCmd(e), newUserPasswordCmd(e))
	return cmd
}

func newUserCreateCmd(e *env) *cobra.Command {
	var (
		email, name  string
		stdin, admin bool
	)
	cmd := &cobra.Command{
		Use:   "create --email E --password-stdin [--admin]",
		Short: "Create a user, reading the password from the first line of standard input",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			password, err := readPassword(e, stdin)
			if err != nil {
				return err
			}
			return withStore(e, func(_ *config.Config, st *store.Store) error {
				u, err := accounts.CreateUser(e.ctx, st, auth.Hasher{Params: auth.DefaultParams},
					accounts.NewUser{Email: email, DisplayName: name, Password: password, Admin: admin})
				if err != nil {
					return err
				}
				_, err = fmt.Fprintln(e.out, u.ID)
				return err
			})
		},
	}
	cmd.Flags().StringVar(&email, "email", "", "the user's email (required)")
	cmd.Flags().StringVar(&name, "name", "", "display name")
	cmd.Flags().BoolVar(&stdin, "password-stdin", false, "read the password from standard input (required)")
	cmd.Flags().BoolVar(&admin, "admin", false, "make the user a global administrator")
	_ = cmd.MarkFlagRequired("email") // only fails for an unknown flag name
	return cmd
}

func newUserPasswordCmd(e *env) *cobra.Command {
	var (
		email string
		stdin bool
	)
	cmd := &cobra.Command{
		Use:   "password --email E --password-stdin",
		Short: "Set a user's password (e.g. a lost admin password), from standard input",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			password, err := readPassword(e, stdin)
			if err != nil {
				return err
			}
			if err := accounts.ValidatePassword("password", password); err != nil {
				return err
			}
			return withStore(e, func(_ *config.Config, st *store.Store) error {
				u, err := st.UserByEmail(e.ctx, email)
				if err != nil {
					return err
				}
				hash, err := auth.Hasher{Params: auth.DefaultParams}.Hash(password)
				if err != nil {
					return err
				}
				// The reset ends every session and revokes every token of the user: whoever
				// knew the old password must not keep access through them.
				_, err = st.SetPassword(e.ctx, u.ID, hash, "")
				return err
			})
		},
	}
	cmd.Flags().StringVar(&email, "email", "", "the user's email (required)")
	cmd.Flags().BoolVar(&stdin, "password-stdin", false, "read the password from standard input (required)")
	_ = cmd.MarkFlagRequired("email") // only fails for an unknown flag name
	return cmd
}

func newUserTokenCmd(e *env) *cobra.Command {
	var (
		email, name string
		ttl         time.Duration
		scopes      []string
	)
	cmd := &cobra.Command{
		Use:   "token --email E [--ttl D] [--scopes read,operate,admin] [--name N]",
		Short: "Mint a personal API token for a user and print it (alone) on standard output",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			sc, err := accounts.ParseScopes("--scopes", scopes)
			if err != nil {
				return err
			}
			return withStore(e, func(cfg *config.Config, st *store.Store) error {
				u, err := st.UserByEmail(e.ctx, email)
				if err != nil {
					return err
				}
				keys, err := keyHasher(cfg)
				if err != nil {
					return err
				}
				key, _, err := accounts.IssueToken(e.ctx, st, keys, accounts.NewToken{
					UserID: u.ID, Name: name, Scopes: sc, TTL: ttl, MaxTTL: cfg.TokenMaxTTL,
				})
				if err != nil {
					return err
				}
				_, err = fmt.Fprintln(e.out, key.String())
				return err
			})
		},
	}
	cmd.Flags().StringVar(&email, "email", "", "the user's email (required)")
	cmd.Flags().StringVar(&name, "name", "cli", "a name to recognise the token by")
	cmd.Flags().DurationVar(&ttl, "ttl", 0, "lifetime, e.g. 720h (default and longest: TALOS_TOKEN_MAX_TTL, a year unless set)")
	cmd.Flags().StringSliceVar(&scopes, "scopes", []string{string(accounts.ScopeRead)}, "what the token may do: read, operate (also station commands), admin (everything the user may)")
	_ = cmd.MarkFlagRequired("email") // only fails for an unknown flag name
	return cmd
}

// readPassword reads the first line of standard input; --password-stdin is required so a
// password never lands in a shell history or a process listing.
func readPassword(e *env, stdin bool) (string, error) {
	if !stdin {
		return "", fmt.Errorf("%w: --password-stdin is required (pipe the password in)", errUsage)
	}
	line, err := bufio.NewReader(e.in).ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("read password from standard input: %w", err)
	}
	password := strings.TrimRight(line, "\r\n")
	if password == "" {
		return "", fmt.Errorf("%w: the password on standard input is empty", errUsage)
	}
	return password, nil
}
