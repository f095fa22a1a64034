package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/talos-gs/talos/backend/catalog"
	"github.com/talos-gs/talos/backend/config"
	"github.com/talos-gs/talos/backend/store"
)

func newCatalogCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "catalog", Short: "Manage the spacecraft catalog (see docs/catalog.md)"}
	cmd.AddCommand(newCatalogImportCmd(e), newCatalogSourceCmd(e))
	return cmd
}

// catalogOwner resolves --team: "" is the global catalog.
func catalogOwner(e *env, st *store.Store, slug string) (string, error) {
	if slug == "" {
		return "", nil
	}
	t, err := st.TeamBySlug(e.ctx, slug)
	if err != nil {
		return "", fmt.Errorf("team %q: %w", slug, err)
	}
	return t.ID, nil
}

func newCatalogImportCmd(e *env) *cobra.Command {
	var source, team, format string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "import FILE [--source NAME] [--team SLUG] [--format F] [--json]",
		Short: "Import TLE, OMM (JSON or KVN) or SatNOGS DB transmitters into the global catalog, or a team's with --team",
		Long: "Reads FILE (- for standard input). Bad records are reported one by one on standard error and never " +
			"stop the rest; the exit status is 0 when the file was read, whatever the number of rejected records.",
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			f, err := catalog.ParseFormat(format)
			if err != nil {
				return fmt.Errorf("%w: --format: %w", errUsage, err)
			}
			data, err := readImportFile(e, args[0])
			if err != nil {
				return err
			}
			if source == "" {
				source = importSourceName(args[0])
			}
			return withStore(e, func(cfg *config.Config, st *store.Store) error {
				owner, err := catalogOwner(e, st, team)
				if err != nil {
					return err
				}
				log, err := newLogger(cfg, e.err)
				if err != nil {
					return err
				}
				c := &catalog.Catalog{Store: st, Log: log.Named("catalog")}
				rep, err := c.Import(e.ctx, catalog.ImportRequest{TeamID: owner, Source: source, Format: f, Data: data})
				if err != nil {
					return err
				}
				return printReport(e, rep, asJSON)
			})
		},
	}
	cmd.Flags().StringVar(&source, "source", "", "source name kept with each element set (default: the file name)")
	cmd.Flags().StringVar(&team, "team", "", "slug of the team whose own catalog receives the file (default: the global catalog)")
	cmd.Flags().StringVar(&format, "format", "auto", "tle, omm-json, omm-kvn, satnogs-transmitters or auto")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the import report as JSON")
	return cmd
}

func readImportFile(e *env, name string) ([]byte, error) {
	r := e.in
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", name, err)
		}
		defer func() { _ = f.Close() }() // read-only
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, catalog.MaxImportBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return data, nil
}

func importSourceName(file string) string {
	if file == "-" {
		return "stdin"
	}
	base := file[strings.LastIndexAny(file, `/\`)+1:]
	if len(base) > 100 {
		base = base[:100]
	}
	return base
}

// printReport writes the summary to stdout and each rejected record to stderr.
func printReport(e *env, rep *catalog.Report, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(e.out)
		return enc.Encode(rep)
	}
	for _, re := range rep.Errors {
		if _, err := fmt.Fprintln(e.err, "rejected:", re.Error()); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(e.out, "%s: %d records, %d accepted, %d refused (not newer), %d rejected, %d new spacecraft\n",
		rep.Format, rep.Records, rep.Accepted, rep.Refused, rep.Rejected, rep.SpacecraftCreated)
	return err
}

func newCatalogSourceCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "source", Short: "Manage the sources fetched on a schedule"}
	cmd.AddCommand(newCatalogSourceAddCmd(e), newCatalogSourceListCmd(e))
	return cmd
}

func newCatalogSourceAddCmd(e *env) *cobra.Command {
	var name, url, format, team string
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "add --name N --url URL [--format F] [--interval 2h] [--team SLUG]",
		Short: "Add a source fetched every --interval into the global catalog, or a team's with --team",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			src, err := sourceFromFlags(name, url, format, interval)
			if err != nil {
				return err
			}
			return withStore(e, func(_ *config.Config, st *store.Store) error {
				owner, err := catalogOwner(e, st, team)
				if err != nil {
					return err
				}
				if owner != "" {
					src.TeamID = &owner
				}
				if err := st.CreateCatalogSource(e.ctx, src); err != nil {
					return err
				}
				_, err = fmt.Fprintln(e.out, src.ID)
				return err
			})
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "the source's name, unique in its catalog (required)")
	cmd.Flags().StringVar(&url, "url", "", "http or https URL (required)")
	cmd.Flags().StringVar(&format, "format", "auto", "tle, omm-json, omm-kvn, satnogs-transmitters or auto")
	cmd.Flags().DurationVar(&interval, "interval", catalog.DefaultInterval, "fetch interval (10m to 720h; CelesTrak asks for 2h or more)")
	cmd.Flags().StringVar(&team, "team", "", "slug of the team whose catalog the source feeds (default: global)")
	_ = cmd.MarkFlagRequired("name") // only fails for an unknown flag name
	_ = cmd.MarkFlagRequired("url")  // only fails for an unknown flag name
	return cmd
}

func sourceFromFlags(name, url, format string, interval time.Duration) (*store.CatalogSource, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return nil, fmt.Errorf("%w: --name must be 1 to 100 characters", errUsage)
	}
	if err := catalog.ValidateSourceURL(url); err != nil {
		return nil, fmt.Errorf("%w: --url: %w", errUsage, err)
	}
	f, err := catalog.ParseFormat(format)
	if err != nil {
		return nil, fmt.Errorf("%w: --format: %w", errUsage, err)
	}
	if interval < catalog.MinInterval || interval > catalog.MaxInterval {
		return nil, fmt.Errorf("%w: --interval must be %v to %v", errUsage, catalog.MinInterval, catalog.MaxInterval)
	}
	return &store.CatalogSource{Name: name, URL: url, Format: string(f), IntervalSeconds: int(interval / time.Second)}, nil
}

func newCatalogSourceListCmd(e *env) *cobra.Command {
	var team string
	cmd := &cobra.Command{
		Use:   "list [--team SLUG]",
		Short: "List the global sources, or a team's with --team, with their last fetch",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return withStore(e, func(_ *config.Config, st *store.Store) error {
				owner, err := catalogOwner(e, st, team)
				if err != nil {
					return err
				}
				srcs, err := st.CatalogSources(e.ctx, owner)
				if err != nil {
					return err
				}
				for _, s := range srcs {
					if _, err := fmt.Fprintf(e.out, "%s\t%s\t%s\t%s\tevery %v\tnext %s\tlast %s %s\n", s.ID, s.Name, s.Format, s.URL,
						s.Interval(), s.NextFetchAt.UTC().Format(time.RFC3339), s.LastStatus, s.LastError); err != nil {
						return err
					}
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&team, "team", "", "slug of the team (default: the global sources)")
	return cmd
}
