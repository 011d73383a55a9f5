package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/idsync/idsync/config"
	"github.com/idsync/idsync/provisioning"
	"github.com/idsync/idsync/store"
)

// provFlags are the flags of every provisioning command (--apps is kept
// in the global flags: every command that opens the engine loads the
// applications).
type provFlags struct {
	g *globalFlags
}

// newProvisioningCmd is `idsync provisioning`: application provisioning
// over SCIM (R3). Applications are defined in provisioning.yaml next to the
// configuration file (or --apps FILE); see docs/provisioning.md.
func newProvisioningCmd(g *globalFlags) *cobra.Command {
	f := &provFlags{g: g}
	cmd := &cobra.Command{
		Use:   "provisioning",
		Short: "Provision users to applications over SCIM (assignments, mappings, activity report)",
		Long: `Application provisioning: idsync creates, updates and disables accounts in
SCIM 2.0 applications for the metaverse users assigned to them, directly or
through groups. Applications are defined in provisioning.yaml next to the
configuration file (or --apps FILE, env IDSYNC_PROVISIONING); see
docs/provisioning.md.`,
	}
	cmd.PersistentFlags().StringVar(&g.apps, "apps", os.Getenv("IDSYNC_PROVISIONING"), "provisioning file (default: provisioning.yaml next to the configuration file; env IDSYNC_PROVISIONING)")
	cmd.AddCommand(newProvListCmd(f), newProvTestCmd(f), newProvRunCmd(f), newProvLogCmd(f), newProvStatusCmd(f),
		newProvToggleCmd(f, true), newProvToggleCmd(f, false), newProvAssignCmd(f, false), newProvAssignCmd(f, true))
	return cmd
}

func (f *provFlags) appsPath() string {
	if f.g.apps != "" {
		return f.g.apps
	}
	return filepath.Join(filepath.Dir(f.g.config), "provisioning.yaml")
}

func (f *provFlags) load() (*provisioning.File, error) {
	pf, err := provisioning.Load(f.appsPath())
	if err != nil && errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w\n(define applications in %s, or give the file with --apps; see docs/provisioning.md)", err, f.appsPath())
	}
	return pf, err
}

func (f *provFlags) app(name string) (*provisioning.App, error) {
	pf, err := f.load()
	if err != nil {
		return nil, err
	}
	return pf.App(name)
}

func newProvListCmd(f *provFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the applications",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pf, err := f.load()
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			for _, a := range pf.Applications {
				fmt.Fprintf(w, "%s\tprovisioning %s\tdeprovision %s\t%d group and %d user assignments\t%d mappings\tevery %s\n",
					a.Name, a.Provisioning, a.Deprovision, len(a.Assignments.Groups), len(a.Assignments.Users), len(a.Mappings), a.Interval.Duration)
			}
			return nil
		},
	}
}

func newProvTestCmd(f *provFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "test APP",
		Short: "Test the connection to an application: reachability, credentials and schema (R3.2)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := f.app(args[0])
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Minute)
			defer cancel()
			if err := provisioning.TestConnection(ctx, a); err != nil {
				return fmt.Errorf("%s: test connection failed: %s: %w", a.Name, provisioning.Problem(err), err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: connection OK (reachable, credentials accepted, schema offers the object type %s)\n", a.Name, or2(a.ObjectType, "user"))
			return nil
		},
	}
}

// openProvStore opens the configuration and its store.
func (f *provFlags) openStore(ctx context.Context) (*config.Config, store.Store, error) {
	return openStore(ctx, f.g)
}

func newProvRunCmd(f *provFlags) *cobra.Command {
	var force, allow, asJSON, full bool
	var users []string
	cmd := &cobra.Command{
		Use:   "run APP",
		Short: "Run one provisioning cycle of an application (or provision some users now with --user)",
		Long: `Runs one provisioning cycle of an application on the sync engine: a full
import of the application (what exists there), a synchronization of it
(full on the first cycle, after a change of its configuration, or with
--full; else delta: the directory synchronizations stage its changes), and
the export of its pending exports, journaled and guarded like every export. The runs appear in
` + "`idsync runs`" + `; ` + "`idsync preview APP`" + ` shows what the next export sends.

With --user, the export sends only those users' accounts and their
memberships in the application's groups (on-demand provisioning); the rest
stays pending for the next cycle.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			a, err := openApp(ctx, f.g)
			if err != nil {
				return err
			}
			defer a.Close()
			if a.apps == nil {
				return fmt.Errorf("no provisioning file at %s (define applications there, or give the file with --apps; see docs/provisioning.md)", appsPath(f.g, a.cfg))
			}
			ap, err := a.apps.App(args[0])
			if err != nil {
				return err
			}
			unlock, err := a.lock(time.Minute)
			if err != nil {
				return err
			}
			defer unlock()
			only, err := resolveUsers(ctx, a.store, users)
			if err != nil {
				return err
			}
			stderr := cmd.ErrOrStderr()
			var last time.Time
			opts := provisioning.Options{DataDir: a.cfg.DataDir, Force: force, AllowDeprovision: allow, Only: only, Full: full,
				Progress: func(done, total int) {
					if now := time.Now(); now.Sub(last) >= time.Second && total > 0 {
						last = now
						fmt.Fprintf(stderr, "progress: %d/%d\n", done, total)
					}
				}}
			res, runErr := provisioning.Run(ctx, a.engine, ap, opts)
			if res != nil {
				if asJSON {
					enc := json.NewEncoder(cmd.OutOrStdout())
					enc.SetIndent("", "  ")
					_ = enc.Encode(res)
				} else {
					printProvResult(cmd.OutOrStdout(), res)
				}
			}
			return runErr
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "run even when the application is quarantined and its retry time has not come")
	cmd.Flags().BoolVar(&allow, "allow-deprovision", false, "disable or delete more accounts than deleteThreshold in this cycle")
	cmd.Flags().BoolVar(&full, "full", false, "synchronize the application fully (every metaverse object), even when its configuration did not change")
	cmd.Flags().StringArrayVar(&users, "user", nil, "provision only this user now, with its group memberships (MV id or accountName; repeatable)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

// resolveUsers maps --user values (MV IDs or accountNames) to MV IDs.
func resolveUsers(ctx context.Context, st store.Store, users []string) ([]string, error) {
	if len(users) == 0 {
		return nil, nil
	}
	var ids, names []string
	for _, u := range users {
		if _, err := st.GetMV(ctx, u); err == nil {
			ids = append(ids, u)
		} else {
			names = append(names, u)
		}
	}
	if len(names) == 0 {
		return ids, nil
	}
	found := map[string]bool{}
	err := st.ScanMV(ctx, func(o *store.MVObject) error {
		for _, n := range names {
			if strings.EqualFold(o.Attrs.First("accountName"), n) {
				ids = append(ids, o.ID)
				found[strings.ToLower(n)] = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		if !found[strings.ToLower(n)] {
			return nil, usageError{fmt.Errorf("--user %s: no metaverse object has this id or accountName", n)}
		}
	}
	return ids, nil
}

func printProvResult(w io.Writer, r *provisioning.Result) {
	fmt.Fprintf(w, "%s: cycle %d %s", r.App, r.Cycle, r.Status)
	if r.Status != provisioning.StatusOff && r.Status != provisioning.StatusQuarantined {
		fmt.Fprintf(w, ": %d/%d done; created %d, updated %d, disabled %d, deleted %d, skipped %d, errors %d",
			r.Done, r.InScope, r.Created, r.Updated, r.Disabled, r.Deleted, r.Skipped, r.Errors)
	}
	fmt.Fprintln(w)
	if r.Message != "" {
		fmt.Fprintf(w, "  %s\n", masker.Mask(r.Message))
	}
	for i, e := range r.ErrorList {
		if i == 10 {
			fmt.Fprintf(w, "  … %d more errors: idsync provisioning log %s\n", len(r.ErrorList)-i, r.App)
			break
		}
		fmt.Fprintf(w, "  error: %s: %s\n", e.Object, masker.Mask(e.Message))
	}
	if len(r.Runs) > 0 {
		fmt.Fprintf(w, "  runs: %s (idsync runs --connector %s)\n", joinIDs(r.Runs), r.App)
	}
	if r.MailError != "" {
		fmt.Fprintf(w, "  notification not sent: %s\n", r.MailError)
	}
}

func newProvLogCmd(f *provFlags) *cobra.Command {
	var since, format string
	cmd := &cobra.Command{
		Use:   "log APP",
		Short: "Show the activity report of an application (R3.6)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "csv" && format != "json" {
				return usageError{fmt.Errorf("--format %q: want csv or json", format)}
			}
			t, err := provisioning.ParseSince(since, time.Now())
			if err != nil {
				return usageError{err}
			}
			a, err := f.app(args[0])
			if err != nil {
				return err
			}
			cfg, err := loadConfig(f.g)
			if err != nil {
				return err
			}
			acts, err := provisioning.ReadLog(provisioning.LogPath(cfg.DataDir, a.Name), t)
			if err != nil {
				return err
			}
			if format == "json" {
				return provisioning.WriteJSON(cmd.OutOrStdout(), acts)
			}
			return provisioning.WriteCSV(cmd.OutOrStdout(), acts)
		},
	}
	cmd.Flags().StringVar(&since, "since", "", "only activities since a duration ago (24h) or an RFC 3339 time")
	cmd.Flags().StringVar(&format, "format", "csv", "csv or json (JSON lines)")
	return cmd
}

func newProvStatusCmd(f *provFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "status APP",
		Short: "Show an application's provisioning state: accounts, groups, pending exports, last cycle, quarantine",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := f.app(args[0])
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			_, st, err := f.openStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			s, err := provisioning.LoadState(ctx, st, a.Name)
			if err != nil {
				return err
			}
			counts := map[string]int{}
			err = st.ScanCS(ctx, a.Name, func(c *store.CSObject) error {
				kind := "accounts"
				if c.Object.Type == a.GroupObjectType && a.GroupObjectType != a.ObjectType {
					kind = "groups"
				}
				switch {
				case c.MVID == "":
					counts[kind+" not from idsync"]++
				case kind == "accounts" && strings.EqualFold(c.Object.Attrs.First("active"), "false"):
					counts["accounts disabled"]++
				default:
					counts[kind+" from idsync"]++
				}
				if c.Pending != nil {
					counts["pending exports"]++
				}
				return nil
			})
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%s: provisioning %s; %d accounts active, %d disabled, %d groups; %d accounts and %d groups not from idsync; %d pending exports; %d cycles",
				a.Name, a.Provisioning, counts["accounts from idsync"], counts["accounts disabled"], counts["groups from idsync"],
				counts["accounts not from idsync"], counts["groups not from idsync"], counts["pending exports"], s.Cycles)
			if !s.LastCycle.IsZero() {
				fmt.Fprintf(w, ", last %s (%s)", s.LastCycle.UTC().Format(time.RFC3339), s.LastStatus)
			}
			fmt.Fprintln(w)
			if q := s.Quarantine; q != nil {
				fmt.Fprintf(w, "quarantined since %s (retry %d at %s): %s\n", q.Since.UTC().Format(time.RFC3339), q.Level, q.Until.UTC().Format(time.RFC3339), q.Reason)
			}
			return nil
		},
	}
}

func joinIDs(ids []int64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(s, ", ")
}

func or2(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
