package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/idsync/idsync/config"
	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/engine"
	"github.com/idsync/idsync/ha"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/provisioning"
	"github.com/idsync/idsync/rules"
	"github.com/idsync/idsync/scheduler"
	"github.com/idsync/idsync/snapshot"
	"github.com/idsync/idsync/store"
	"github.com/idsync/idsync/view"
)

func newRulesCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "rules", Short: "List, validate, clone, disable and enable sync rules"}
	var listOut *output
	list := &cobra.Command{
		Use:     "list",
		Short:   "List the sync rules by precedence",
		Example: "  idsync rules list\n  idsync rules list -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := listOut.resolve(cmd.OutOrStdout())
			if err != nil {
				return err
			}
			cfg, err := loadConfig(g)
			if err != nil {
				return err
			}
			rs, err := loadRules(g, cfg)
			if err != nil {
				return err
			}
			if f != "table" {
				out := []view.Rule{}
				for _, r := range rs.Rules {
					out = append(out, view.FromRule(r))
				}
				return write(cmd.OutOrStdout(), f, out, nil)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "PREC\tDIRECTION\tNAME\tCONNECTOR\tCS TYPE\tMV TYPE\tLINK\tSTATE")
			for _, r := range rs.Rules {
				state := "enabled"
				if r.Disabled {
					state = "disabled"
				}
				if r.Immutable {
					state += ", out-of-box"
				}
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Precedence, r.Direction, r.Name, r.Connector, r.CSObjectType, r.MVObjectType, r.LinkType, state)
			}
			if err := w.Flush(); err != nil {
				return err
			}
			return nil
		},
	}
	var noSchema bool
	validate := &cobra.Command{
		Use:   "validate",
		Short: "Check the sync rules against the configured connectors and their schemas",
		Long: `Check the sync rules: every field, operator and expression, that every
connector they name is configured, unique precedences, and every attribute
name against the schema each connector reports. Schemas inferred from data
(file connectors) check only what rules read from a connector. With
--no-schema the connectors are not contacted and attribute names are not checked.`,
		Example: "  idsync rules validate\n  idsync rules validate --no-schema",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(g)
			if err != nil {
				return err
			}
			rs, err := loadRules(g, cfg)
			if err != nil {
				return err
			}
			env := rules.ValidateEnv{Connectors: map[string]*model.Schema{}}
			for _, cc := range cfg.Connectors {
				env.Connectors[cc.Name] = nil
				if noSchema {
					continue
				}
				s, err := connectorSchema(cmd.Context(), cc)
				if err != nil {
					return err
				}
				env.Connectors[cc.Name] = s
			}
			problems := 0
			for _, e := range rs.Validate(env) {
				fmt.Fprintln(cmd.ErrOrStderr(), e)
				if !rules.IsWarning(e) {
					problems++
				}
			}
			if problems > 0 {
				return fmt.Errorf("%d problem(s) in the sync rules", problems)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d sync rules are valid\n", len(rs.Rules))
			return nil
		},
	}
	validate.Flags().BoolVar(&noSchema, "no-schema", false, "do not contact the connectors; skip attribute-name checks")
	listOut = addOutputFlag(list, []string{"table", "json", "yaml"}, "")
	var showOut *output
	show := &cobra.Command{
		Use:   "show NAME",
		Short: "Show one sync rule whole: its scope, joins, flows and where it is defined",
		Example: `  idsync rules show "In from AD - User Join"
  idsync rules show out-user -o json`,
		Args:              exactArgs(1, "NAME", "a sync rule's name (idsync rules list lists them)"),
		ValidArgsFunction: completeRules(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := showOut.resolve(cmd.OutOrStdout())
			if err != nil {
				return err
			}
			cfg, err := loadConfig(g)
			if err != nil {
				return err
			}
			rs, err := loadRules(g, cfg)
			if err != nil {
				return err
			}
			var names []string
			for _, r := range rs.Rules {
				if r.Name == args[0] {
					return write(cmd.OutOrStdout(), f, r, nil)
				}
				names = append(names, fmt.Sprintf("%q", r.Name))
			}
			return fmt.Errorf("no sync rule is named %q; the rules are: %s", args[0], strings.Join(names, ", "))
		},
	}
	showOut = addOutputFlag(show, []string{"yaml", "json"}, "")
	cmd.AddCommand(list, show, validate)
	addRuleEditCmds(g, cmd)
	return cmd
}

func openConnector(ctx context.Context, cc config.Connector) (connector.Connector, error) {
	f, err := connector.Lookup(cc.Type)
	if err != nil {
		return nil, fmt.Errorf("connector %q: %w", cc.Name, err)
	}
	c, err := f(ctx, cc.Name, cc.Config.Decode)
	if err != nil {
		return nil, fmt.Errorf("open connector %q: %w", cc.Name, err)
	}
	return c, nil
}

func connectorSchema(ctx context.Context, cc config.Connector) (*model.Schema, error) {
	c, err := openConnector(ctx, cc)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	sd, ok := c.(connector.SchemaDescriber)
	if !ok {
		return nil, nil
	}
	s, err := sd.Schema(ctx)
	if err != nil {
		return nil, fmt.Errorf("schema of connector %q: %w", cc.Name, err)
	}
	return s, nil
}

func newConnectorsCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "connector", Short: "Test connectors, show their schemas and OU trees"}
	test := &cobra.Command{
		Use:               "test CONNECTOR",
		Short:             "Check that a connector reaches its system with its credentials",
		Example:           "  idsync connector test contoso",
		Args:              connectorArgs(g, 1, "connector test", allConnectors),
		ValidArgsFunction: completeConnectors(g, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(g)
			if err != nil {
				return err
			}
			cc, err := cfg.Lookup(args[0])
			if err != nil {
				return err
			}
			c, err := openConnector(cmd.Context(), *cc)
			if err != nil {
				return err
			}
			defer c.Close()
			t, ok := c.(connector.Tester)
			if !ok {
				fmt.Fprintf(cmd.OutOrStdout(), "connector %s opened; its type (%s) has no further connection test\n", cc.Name, cc.Type)
				return nil
			}
			if err := t.TestConnection(cmd.Context()); err != nil {
				return fmt.Errorf("connection test of %s failed: %w", cc.Name, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "connector %s: connection OK\n", cc.Name)
			return nil
		},
	}
	schema := &cobra.Command{
		Use:               "schema CONNECTOR",
		Short:             "Show the object types and attributes a connector offers (JSON)",
		Example:           "  idsync connector schema hr",
		Args:              connectorArgs(g, 1, "connector schema", allConnectors),
		ValidArgsFunction: completeConnectors(g, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(g)
			if err != nil {
				return err
			}
			cc, err := cfg.Lookup(args[0])
			if err != nil {
				return err
			}
			s, err := connectorSchema(cmd.Context(), *cc)
			if err != nil {
				return err
			}
			if s == nil {
				return fmt.Errorf("connector %s (type %s) cannot describe its schema", cc.Name, cc.Type)
			}
			return printJSON(cmd.OutOrStdout(), s)
		},
	}
	cmd.AddCommand(test, schema, newContainersCmd(g))
	return cmd
}

func newSchedulerCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "scheduler",
		Short: "Show, enable or disable the scheduled sync cycle",
		Long: `The scheduler of "idsync serve" runs a sync cycle every 30 minutes by default.
Disable it before changing configuration so that no cycle exports a half-made
change; enable it again when done (the equivalent of Set-ADSyncScheduler
-SyncCycleEnabled $false / $true). The switch is stored and holds across restarts.`,
	}
	status := &cobra.Command{
		Use: "status", Short: "Show whether scheduled cycles run, the interval, the last and next cycle",
		Example: "  idsync scheduler status", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, st, err := openStore(cmd.Context(), g)
			if err != nil {
				return err
			}
			defer st.Close()
			on, err := scheduler.Enabled(cmd.Context(), st)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "SyncCycleEnabled: %v\nInterval:         %s\n", on, cfg.Scheduler.Interval)
			for _, k := range []struct{ label, key string }{
				{"LastCycleStart:  ", scheduler.KeyLastStart}, {"LastCycleEnd:    ", scheduler.KeyLastEnd},
				{"LastCycleResult: ", scheduler.KeyLastState}, {"NextCycle:       ", scheduler.KeyNext},
			} {
				v, err := st.Setting(cmd.Context(), k.key)
				if errors.Is(err, store.ErrNotFound) {
					v = "-"
				} else if err != nil {
					return err
				}
				fmt.Fprintf(w, "%s %s\n", k.label, v)
			}
			return nil
		},
	}
	set := func(on bool) *cobra.Command {
		name, verb := "enable", "Enable"
		if !on {
			name, verb = "disable", "Disable"
		}
		return &cobra.Command{
			Use: name, Short: verb + " scheduled sync cycles", Example: "  idsync scheduler " + name, Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				_, st, err := openStore(cmd.Context(), g)
				if err != nil {
					return err
				}
				defer st.Close()
				if err := scheduler.SetEnabled(cmd.Context(), st, on); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "scheduled sync cycles %sd\n", name)
				return nil
			},
		}
	}
	cmd.AddCommand(status, set(true), set(false))
	return cmd
}

func newServeCmd(g *globalFlags) *cobra.Command {
	var w webFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run as a daemon: a sync cycle every scheduler.interval (30 minutes by default), the web console and API",
		Long: `Run as a daemon. The scheduler runs a sync cycle (delta import, delta sync and
export of every connector; a full cycle the first time) every scheduler.interval,
unless disabled with "idsync scheduler disable". Stop with SIGINT or SIGTERM;
a running step finishes its current batch first.

The web console, the REST API (/api/v1), /metrics and /healthz are served on
--listen (127.0.0.1:8080 by default; "" turns them off). Plain HTTP is only
served on a loopback address: to listen on another, give --tls-cert and
--tls-key. Sign in with an account made by "idsync user add".

Tenant domains pending verification are looked up when due (see idsync
tenant), and tenants whose onboarding was confirmed are re-synchronized
every tenants.interval (see idsync onboard).

With ha.enabled (a PostgreSQL store), several servers share one store: the
one holding the active lease runs cycles and exports; the others stand by,
importing and synchronizing without exporting, and one of them takes over
within ha.takeoverAfter when the active one stops or loses the database.
/healthz and idsync_ha_active say which role a server has.`,
		Example: "  idsync serve --config /etc/idsync/idsync.yaml --log-level info\n" +
			"  idsync serve --listen :8443 --tls-cert /etc/idsync/tls.crt --tls-key /etc/idsync/tls.key",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := openApp(cmd.Context(), g)
			if err != nil {
				return err
			}
			defer a.Close()
			snap, err := snapshot.Take(a.cfg, a.rules)
			if err != nil {
				return err
			}
			s := &scheduler.Scheduler{Engine: a.engine, Store: a.store, Interval: a.cfg.Scheduler.Interval.Duration,
				Order: a.cfg.CycleOrder(), Lock: func() (func(), error) { return a.lock(time.Hour) }, Config: snap,
				TryLock: func() (func(), error) { return a.lock(0) }, RunRetention: a.cfg.RunRetention()}
			slog.Info("idsync serving", "config", a.cfg.Path, "store", a.cfg.Store.String(), "interval", a.cfg.Scheduler.Interval.String(),
				"liveInterval", a.cfg.Scheduler.LiveInterval.String(), "pid", os.Getpid())
			// High availability: this process exports only while it holds
			// the active lease; a standby imports and synchronizes.
			if a.cfg.HA.Enabled {
				role, err := ha.New(a.cfg.Store.DSN, a.cfg.HA.TakeoverAfter.Duration, slog.Default())
				if err != nil {
					return err
				}
				a.role = role
				a.engine.Passive = func() bool { return !role.Active() }
				role.OnChange = func(active bool) {
					if active {
						s.Wake() // export what is pending (the journal's unfinished batches first) now
					}
				}
				ctx, stop := context.WithCancel(cmd.Context())
				done := make(chan struct{})
				go func() { role.Run(ctx); close(done) }()
				defer func() { stop(); <-done }() // give the lease back before the store closes
			}
			if live := a.cfg.Scheduler.LiveInterval.Duration; live > 0 {
				go func() { _ = s.Live(cmd.Context(), live) }()
			}
			// Application provisioning (the applications are connectors
			// of the engine): each application on its own interval.
			if a.apps != nil {
				// On a standby an application's cycle is skipped (its
				// import, synchronization and export are one unit, and its
				// state is shared through the store): the active one runs it.
				lock := func() (func(), error) {
					if a.role != nil && !a.role.Active() {
						return nil, engine.ErrStandby
					}
					return a.lock(time.Hour)
				}
				go provisioning.Serve(cmd.Context(), a.currentApps, a.engine, a.cfg.DataDir, lock, func(r *provisioning.Result, err error) {
					if errors.Is(err, engine.ErrStandby) {
						slog.Debug("provisioning cycle skipped: this server is a standby")
						return
					}
					if err != nil {
						slog.Error("provisioning cycle", "err", err)
						return
					}
					slog.Info("provisioning cycle", "app", r.App, "status", r.Status, "created", r.Created, "updated", r.Updated,
						"disabled", r.Disabled, "deleted", r.Deleted, "errors", r.Errors)
				})
			}
			// Tenant domains pending verification are looked up when due
			// (package tenant: 30 s backing off to 5 min, for an hour).
			go tenantService(a.cfg, a.store).Run(cmd.Context(), 15*time.Second, func(err error) {
				slog.Error("tenant domain verification", "err", err)
			})
			// Tenants whose onboarding was confirmed are re-synchronized
			// every tenants.interval (tenant_serve.go).
			var standby func() bool
			if a.role != nil {
				standby = func() bool { return !a.role.Active() }
			}
			go serveTenants(cmd.Context(), g, a.cfg.TenantInterval(), standby)
			if err := w.start(cmd.Context(), g, a, s); err != nil {
				return err
			}
			return s.Start(cmd.Context())
		},
	}
	w.flags(cmd)
	return cmd
}
