package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/idsync/idsync/config"
	"github.com/idsync/idsync/store"
	"github.com/idsync/idsync/tenant"
)

// Tenant onboarding (R5): each step is runs of the engine on the tenant's
// configuration, made from the provider's template (tenants.template) and
// the tenant's settings into tenants.dir/ID.

// tenantConfigPath renders a tenant's configuration and returns its path,
// with the provider's store (the caller closes it) and the tenant.
func tenantConfigPath(ctx context.Context, g *globalFlags, id string) (*config.Config, store.Store, *store.Tenant, *tenant.Template, string, error) {
	cfg, pst, err := openStore(ctx, g)
	if err != nil {
		return nil, nil, nil, nil, "", err
	}
	fail := func(err error) (*config.Config, store.Store, *store.Tenant, *tenant.Template, string, error) {
		pst.Close()
		return nil, nil, nil, nil, "", err
	}
	tn, err := pst.GetTenant(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return fail(fmt.Errorf("no tenant %q: see idsync tenant list, or add it with idsync tenant add %s", id, id))
	} else if err != nil {
		return fail(err)
	}
	tmpl, err := tenant.LoadTemplate(cfg.Tenants.Template)
	if err != nil {
		return fail(err)
	}
	dir, err := tenant.ConfigDir(cfg.Tenants.Dir, id)
	if err != nil {
		return fail(err)
	}
	path, err := tmpl.Render(tn, dir)
	if err != nil {
		return fail(err)
	}
	return cfg, pst, tn, tmpl, path, nil
}

// onboardSession is one tenant's onboarding step: the provider's store (for
// the audit log), the tenant's engine under its run lock.
type onboardSession struct {
	provider store.Store
	tenant   *store.Tenant
	app      *app
	ob       *tenant.Onboarder
	unlock   func()
}

func (s *onboardSession) Close() {
	if s.unlock != nil {
		s.unlock()
	}
	s.app.Close()
	s.provider.Close()
}

// openOnboarding opens a tenant's onboarding — its configuration rendered
// from the template, its engine and store — under the tenant's run lock,
// waiting up to wait for it. idsync onboard (wait 0: a running step is an
// error) and the console's wizard (web.Options.OpenTenant) both open it
// here.
func openOnboarding(ctx context.Context, g *globalFlags, id string, wait time.Duration) (*onboardSession, error) {
	_, pst, tn, tmpl, path, err := tenantConfigPath(ctx, g, id)
	if err != nil {
		return nil, err
	}
	tg := *g
	tg.config, tg.apps = path, ""
	a, err := openApp(ctx, &tg)
	if err != nil {
		pst.Close()
		return nil, fmt.Errorf("tenant %s: %w", id, err)
	}
	s := &onboardSession{provider: pst, tenant: tn, app: a}
	ob := tmpl.Onboarding
	for _, c := range []string{ob.Source, ob.Target} {
		if a.engine.Connectors[c] == nil {
			s.Close()
			return nil, fmt.Errorf("tenant template: onboarding names connector %q, which the tenant's configuration (%s) does not have", c, path)
		}
	}
	sealer, err := sealing(a.cfg)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.ob = &tenant.Onboarder{OB: ob, Engine: a.engine, Store: a.store, Dir: filepath.Dir(path)}
	if sealer != nil {
		s.ob.Sealer = sealer
	}
	if s.unlock, err = a.lock(wait); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func printSummary(w io.Writer, id string, s *tenant.Summary) {
	fmt.Fprintf(w, "tenant %s: %d users in its directory; confirming would create %d subscribers, update %d, delete %d", id, s.Users, s.Adds, s.Updates, s.Deletes)
	if s.Errors > 0 {
		fmt.Fprintf(w, "; %d errors on objects (idsync --tenant %s runs --errors)", s.Errors, id)
	}
	fmt.Fprintln(w)
}

func newOnboardCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "onboard",
		Short: "Onboard a tenant's users as subscribers: discover, review, confirm, spreadsheet",
		Long: `Onboard a tenant's users (R5): each step runs the engine on the tenant's
configuration, made from the provider's template (tenants.template) and the
tenant's settings (idsync tenant settings) in tenants.dir/TENANT.

  discover     import the tenant's directory and synchronize, without exporting
  review       list what confirming would do (CSV); --apply an edited list
  confirm      export: create, update, disable subscribers; keep the new
               passwords sealed for delivery
  spreadsheet  write the passwords awaiting delivery (XLSX and/or CSV), once
  reset-password  generate new passwords for subscribers (then confirm,
               then a new spreadsheet): the only way to deliver one again

Every other command works on a tenant with --tenant (idsync --tenant contoso
runs, preview, mv search …). Every step goes to the audit log.`,
	}
	cmd.AddCommand(newOnboardDiscoverCmd(g), newOnboardReviewCmd(g), newOnboardConfirmCmd(g), newOnboardSpreadsheetCmd(g),
		newOnboardResetCmd(g))
	return cmd
}

func newOnboardDiscoverCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "discover TENANT",
		Short:   "Import the tenant's directory and synchronize it, without exporting",
		Example: "  idsync onboard discover contoso",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := openOnboarding(ctx, g, args[0], 0)
			if err != nil {
				return err
			}
			defer s.Close()
			sum, err := s.ob.Discover(ctx)
			if err != nil {
				return err
			}
			printSummary(cmd.OutOrStdout(), args[0], sum)
			return audit(ctx, s.provider, "onboard-discover", args[0], fmt.Sprintf("%d users, %d to create", sum.Users, sum.Adds))
		},
	}
}

func newOnboardReviewCmd(g *globalFlags) *cobra.Command {
	var out, apply string
	var o *output
	cmd := &cobra.Command{
		Use:   "review TENANT [--out FILE.csv | --apply FILE.csv]",
		Short: "List what confirming would do for each user; apply an edited list",
		Long: `Without --apply, list every user of the tenant's directory with what
confirming makes of it: include (yes/no), state (new, existing, excluded,
out of scope) and the subscriber's attributes (secrets never shown), as a
table, JSON, or with --out as a CSV to edit.

With --apply, read an edited CSV: change a value in an editable column, or
set include to no to remove a user from the import (yes brings one back).
The whole list is checked first (unknown users, duplicate numbers, values
that are not numbers); nothing changes unless it is all valid. The edits are
kept in the tenant's review file and synchronized: confirming then carries
them.`,
		Example: "  idsync onboard review contoso\n  idsync onboard review contoso --out review.csv\n  idsync onboard review contoso --apply review.csv",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			format, err := o.resolve(cmd.OutOrStdout())
			if err != nil {
				return err
			}
			s, err := openOnboarding(ctx, g, args[0], 0)
			if err != nil {
				return err
			}
			defer s.Close()
			w := cmd.OutOrStdout()
			if apply != "" {
				f, err := os.Open(apply)
				if err != nil {
					return err
				}
				defer f.Close()
				res, err := s.ob.ApplyReview(ctx, f)
				if err != nil {
					return err
				}
				fmt.Fprintf(w, "review applied: %d values edited, %d users removed from the import, %d brought back\n", res.Edited, res.Excluded, res.Included)
				printSummary(w, args[0], res.Summary)
				return audit(ctx, s.provider, "onboard-review", args[0],
					fmt.Sprintf("%d edited, %d excluded, %d included", res.Edited, res.Excluded, res.Included))
			}
			rows, err := s.ob.ReviewRows(ctx)
			if err != nil {
				return err
			}
			if out != "" {
				f, err := os.OpenFile(out, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
				if err != nil {
					return err
				}
				if err := s.ob.WriteReviewCSV(f, rows); err != nil {
					f.Close()
					return err
				}
				if err := f.Close(); err != nil {
					return err
				}
				fmt.Fprintf(w, "%d users written to %s: edit it, then idsync onboard review %s --apply %s\n", len(rows), out, args[0], out)
				return nil
			}
			cols := s.ob.Columns()
			return write(w, format, rows, func(w io.Writer) error {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintf(tw, "ID\tINCLUDE\tSTATE\t%s\n", strings.ToUpper(strings.Join(cols, "\t")))
				for _, r := range rows {
					inc := "no"
					if r.Include {
						inc = "yes"
					}
					vals := make([]string, len(cols))
					for i, c := range cols {
						vals[i] = dash(cell(r.Values[c]))
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", cell(r.ID), inc, r.State, strings.Join(vals, "\t"))
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "write the list as CSV to this file (mode 0600)")
	cmd.Flags().StringVar(&apply, "apply", "", "apply an edited CSV list")
	cmd.MarkFlagsMutuallyExclusive("out", "apply")
	o = addOutputFlag(cmd, []string{"table", "json"}, "")
	return cmd
}

func newOnboardConfirmCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "confirm TENANT",
		Short: "Create, update and disable the tenant's subscribers (an export), keeping new passwords for delivery",
		Long: `Export the tenant's pending subscriber changes (see idsync onboard review),
then confirm them with an import. The new subscribers' passwords are kept
sealed until idsync onboard spreadsheet delivers them. The accidental-delete
guard applies as to every export.`,
		Example: "  idsync onboard confirm contoso",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := openOnboarding(ctx, g, args[0], 0)
			if err != nil {
				return err
			}
			defer s.Close()
			res, err := s.ob.Confirm(ctx)
			if res != nil || err == nil {
				fmt.Fprintf(cmd.OutOrStdout(), "tenant %s: %d subscribers created, %d updated, %d deleted, %d errors; %d passwords await delivery (idsync onboard spreadsheet %s --xlsx FILE)\n",
					args[0], res.Adds, res.Updates, res.Deletes, res.Errors, res.Passwords, args[0])
			}
			if aerr := audit(ctx, s.provider, "onboard-confirm", args[0], errString(err)); aerr != nil && err == nil {
				return aerr
			}
			return err
		},
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return "failed: " + err.Error()
}

func newOnboardSpreadsheetCmd(g *globalFlags) *cobra.Command {
	var xlsx, csvPath string
	cmd := &cobra.Command{
		Use:   "spreadsheet TENANT --xlsx FILE [--csv FILE]",
		Short: "Write the passwords awaiting delivery to a spreadsheet, once",
		Long: `Write the new subscribers' passwords — with the other columns the template
names (name, e-mail, extension, SIP user, SIP domain …) — to an XLSX and/or a
CSV file (created mode 0600, never overwritten). Once written, idsync forgets
them: a spreadsheet is delivered once; a new one holds only the subscribers
created since. Reading the sealed passwords needs the secret key
(security.secretKey); every delivery goes to the audit log.`,
		Example: "  idsync onboard spreadsheet contoso --xlsx contoso-passwords.xlsx\n  idsync onboard spreadsheet contoso --xlsx p.xlsx --csv p.csv",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if xlsx == "" && csvPath == "" {
				return usageError{errors.New("give --xlsx FILE, --csv FILE or both")}
			}
			ctx := cmd.Context()
			s, err := openOnboarding(ctx, g, args[0], 0)
			if err != nil {
				return err
			}
			defer s.Close()
			rows, err := s.ob.Delivery(ctx)
			if err != nil {
				return err
			}
			if len(rows) == 0 {
				return fmt.Errorf("tenant %s: no passwords await delivery: a spreadsheet is delivered once; new subscribers' passwords come with the next idsync onboard confirm", args[0])
			}
			sort.SliceStable(rows, func(i, j int) bool { return strings.Join(rows[i], "\x00") < strings.Join(rows[j], "\x00") })
			cols := s.ob.OB.Spreadsheet
			var written []string
			writeOne := func(p string, fn func(io.Writer) error) error {
				f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
				if err != nil {
					return fmt.Errorf("spreadsheet: %w (it is never overwritten: choose another name)", err)
				}
				if err := fn(f); err != nil {
					f.Close()
					os.Remove(p)
					return err
				}
				if err := f.Close(); err != nil {
					os.Remove(p)
					return err
				}
				written = append(written, p)
				return nil
			}
			if xlsx != "" {
				if err := writeOne(xlsx, func(w io.Writer) error { return tenant.WriteXLSX(w, "Subscribers", cols, rows) }); err != nil {
					return err
				}
			}
			if csvPath != "" {
				if err := writeOne(csvPath, func(w io.Writer) error { return tenant.WriteSpreadsheetCSV(w, cols, rows) }); err != nil {
					for _, p := range written {
						os.Remove(p)
					}
					return err
				}
			}
			if err := s.ob.Delivered(ctx); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d subscribers' passwords written to %s; idsync no longer keeps them for delivery\n", len(rows), strings.Join(written, " and "))
			return audit(ctx, s.provider, "onboard-spreadsheet", args[0],
				fmt.Sprintf("%d passwords to %s at %s", len(rows), strings.Join(written, ", "), time.Now().UTC().Format(time.RFC3339)))
		},
	}
	cmd.Flags().StringVar(&xlsx, "xlsx", "", "write an XLSX spreadsheet (mode 0600)")
	cmd.Flags().StringVar(&csvPath, "csv", "", "write a CSV file (mode 0600)")
	return cmd
}

func newTenantSettingsCmd(g *globalFlags) *cobra.Command {
	var set []string
	var o *output
	cmd := &cobra.Command{
		Use:   "settings TENANT [--set NAME=VALUE …]",
		Short: "Show or set a tenant's onboarding settings (those the tenant template declares)",
		Example: "  idsync tenant settings contoso\n" +
			"  idsync tenant settings contoso --set extensionStart=2001 --set sipDomain=sip.contoso.com",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			format, err := o.resolve(cmd.OutOrStdout())
			if err != nil {
				return err
			}
			cfg, st, err := openStore(ctx, g)
			if err != nil {
				return err
			}
			defer st.Close()
			tmpl, err := tenant.LoadTemplate(cfg.Tenants.Template)
			if err != nil {
				return err
			}
			tn, err := st.GetTenant(ctx, args[0])
			if err != nil {
				return err
			}
			if len(set) > 0 {
				kv := map[string]string{}
				for _, s := range set {
					k, v, ok := strings.Cut(s, "=")
					if !ok {
						return usageError{fmt.Errorf("--set %q: give NAME=VALUE", s)}
					}
					kv[k] = v
				}
				if err := tmpl.Set(tn, kv); err != nil {
					return err
				}
				tn.Modified = time.Now()
				if err := st.PutTenant(ctx, tn); err != nil {
					return err
				}
				keys := make([]string, 0, len(kv))
				for k := range kv {
					keys = append(keys, k+"="+kv[k])
				}
				sort.Strings(keys)
				if err := audit(ctx, st, "tenant-settings", tn.ID, strings.Join(keys, ", ")); err != nil {
					return err
				}
			}
			vals, err := tmpl.Values(tn)
			if err != nil {
				return err
			}
			type row struct {
				Name        string `json:"name"`
				Value       string `json:"value"`
				Default     string `json:"default"`
				Description string `json:"description,omitempty"`
			}
			var rows []row
			for _, s := range tmpl.Settings {
				rows = append(rows, row{s.Name, vals[s.Name], s.Default, s.Description})
			}
			return write(cmd.OutOrStdout(), format, rows, func(w io.Writer) error {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "SETTING\tVALUE\tDEFAULT\tDESCRIPTION")
				for _, r := range rows {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Name, dash(cell(r.Value)), dash(cell(r.Default)), cell(r.Description))
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().StringArrayVar(&set, "set", nil, "set a setting (NAME=VALUE; repeatable)")
	o = addOutputFlag(cmd, []string{"table", "json"}, "")
	return cmd
}

// useTenant points the global flags at a tenant's configuration (--tenant):
// every command then works on the tenant's connectors, rules and store.
// The provider-level commands refuse it.
func useTenant(cmd *cobra.Command, g *globalFlags) error {
	top := cmd
	for top.Parent() != nil && top.Parent().Parent() != nil {
		top = top.Parent()
	}
	switch top.Name() {
	case "tenant", "onboard", "user", "serve", "demo", "gen", "bench", "completion", "help", "expr":
		return usageError{fmt.Errorf("--tenant does not apply to idsync %s (the tenant commands take the tenant as an argument)", top.Name())}
	}
	_, pst, _, _, path, err := tenantConfigPath(cmd.Context(), g, g.tenant)
	if err != nil {
		return err
	}
	pst.Close()
	g.config, g.apps = path, ""
	return nil
}

func newOnboardResetCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "reset-password TENANT USER-ID…",
		Short: "Generate new passwords for existing subscribers; confirm sends them, the next spreadsheet delivers them",
		Long: `Generate new passwords for subscribers, named by their directory IDs (the
id column of idsync onboard review): a synchronization applies the
template's password flow again for them alone. idsync onboard confirm then
writes them to the subscriber table and keeps them, sealed, for the next
spreadsheet. A delivered password is never shown again: resetting is how a
lost one is replaced.`,
		Example: "  idsync onboard reset-password contoso 7c1e2f4a-0002\n  idsync onboard confirm contoso\n  idsync onboard spreadsheet contoso --xlsx contoso-reset.xlsx",
		Args:    cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := openOnboarding(ctx, g, args[0], 0)
			if err != nil {
				return err
			}
			defer s.Close()
			n, err := s.ob.ResetPasswords(ctx, args[1:])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "tenant %s: %d new passwords generated; idsync onboard confirm %s sends them\n", args[0], n, args[0])
			return audit(ctx, s.provider, "onboard-reset-password", args[0], strings.Join(args[1:], ", "))
		},
	}
}
