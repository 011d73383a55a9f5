package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/idsync/idsync/config"
	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/connector/ldap"
	"github.com/idsync/idsync/engine"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/provisioning"
	"github.com/idsync/idsync/rules"
	"github.com/idsync/idsync/scheduler"
	"github.com/idsync/idsync/snapshot"
	"github.com/idsync/idsync/web"
)

// The commands that change the console-managed configuration
// (config/console.go): the same edits the web console makes.

// ruleCheck returns the check of a whole rule set before a console-managed
// change is saved — the errors openApp refuses to start with (connectors
// configured, unique precedences, every field) — and the applications'
// generated rule file, which is part of the rule set.
func ruleCheck(g *globalFlags, cfg *config.Config) (config.RuleCheck, []*rules.File, error) {
	env := rules.ValidateEnv{Connectors: map[string]*model.Schema{}}
	for _, cc := range cfg.Connectors {
		env.Connectors[cc.Name] = nil
	}
	var extra []*rules.File
	apps, err := loadApps(g, cfg)
	if err != nil {
		return nil, nil, err
	}
	if apps != nil {
		rf, err := apps.RuleFile()
		if err != nil {
			return nil, nil, err
		}
		extra = append(extra, rf)
		for _, a := range apps.Applications {
			env.Connectors[a.Name] = nil
		}
	}
	return checkRuleSet(env), extra, nil
}

// checkRuleSet fails on the rule set's errors (warnings pass).
func checkRuleSet(env rules.ValidateEnv) config.RuleCheck {
	return func(rs *rules.RuleSet) error {
		var errs []error
		for _, e := range rs.Validate(env) {
			if !rules.IsWarning(e) {
				errs = append(errs, e)
			}
		}
		return errors.Join(errs...)
	}
}

// addRuleEditCmds adds clone, disable and enable to idsync rules.
func addRuleEditCmds(g *globalFlags, cmd *cobra.Command) {
	var newName string
	var precedence int
	var disableOriginal bool
	clone := &cobra.Command{
		Use:   "clone NAME --name NEW --precedence N",
		Short: "Copy a sync rule (an out-of-box one) under a new name and precedence, to change the copy",
		Long: `Copy a sync rule under a new name with a precedence below 100 into the
console-managed rule file next to the configuration (idsync.console-rules.yaml
for idsync.yaml), the way Azure AD Connect's out-of-box rules are changed:
clone, disable the original (--disable-original, or idsync rules disable),
change the clone (edit it in that file, or move it into your own rule file).
The whole rule set is checked first: a clone that would make it invalid
(a precedence another enabled rule has, say) is refused with the error, and
nothing is written. Run "idsync config diff" to see the full runs the next
cycle will do because of it.`,
		Example: `  idsync rules clone "In from AD - User Join (contoso)" --name "In from AD - User Join (contoso, custom)" --precedence 50 --disable-original
  idsync rules clone "Out to AAD - User Join" --name "Out to AAD - User Join (filtered)" --precedence 60`,
		Args:              exactArgs(1, "NAME", "the name of the rule to clone (idsync rules list lists them)"),
		ValidArgsFunction: completeRules(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("precedence") {
				return fmt.Errorf("give the clone a precedence below %d with --precedence N (out-of-box rules use %d and up)", config.MaxCustomPrecedence, config.MaxCustomPrecedence)
			}
			cfg, err := loadConfig(g)
			if err != nil {
				return err
			}
			check, extra, err := ruleCheck(g, cfg)
			if err != nil {
				return err
			}
			r, err := cfg.CloneRule(args[0], newName, precedence, disableOriginal, check, extra...)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "rule %q cloned as %q (precedence %d) in %s\n", args[0], r.Name, r.Precedence, cfg.ConsoleRulesPath())
			if disableOriginal {
				fmt.Fprintf(cmd.OutOrStdout(), "rule %q disabled\n", args[0])
			}
			fmt.Fprintln(cmd.OutOrStdout(), "Change the clone in that file, then check the effect with `idsync config diff` and `idsync preview CONNECTOR` before the next export.")
			return nil
		},
	}
	clone.Flags().StringVar(&newName, "name", "", "the clone's name (unique among all rules)")
	clone.Flags().IntVar(&precedence, "precedence", 0, fmt.Sprintf("the clone's precedence, 0 to %d", config.MaxCustomPrecedence-1))
	clone.Flags().BoolVar(&disableOriginal, "disable-original", false, "also disable the rule cloned")
	toggle := func(disable bool) *cobra.Command {
		verb, done := "enable", "enabled"
		short := "Enable a sync rule that idsync rules disable (or the console) disabled"
		if disable {
			verb, done = "disable", "disabled"
			short = "Disable a sync rule (an out-of-box one): it stays loaded and listed but is never applied"
		}
		return &cobra.Command{
			Use:   verb + " NAME",
			Short: short,
			Long: short + `.
The change is written to the console-managed rule file next to the
configuration (a disable: list), checked with the whole rule set first, so
it survives upgrades of the out-of-box rules. A rule disabled by your own
rule files is enabled there, not with this command.`,
			Example:           fmt.Sprintf("  idsync rules %s \"In from AD - User Join (contoso)\"", verb),
			Args:              exactArgs(1, "NAME", "a sync rule's name (idsync rules list lists them)"),
			ValidArgsFunction: completeRules(g),
			RunE: func(cmd *cobra.Command, args []string) error {
				cfg, err := loadConfig(g)
				if err != nil {
					return err
				}
				check, extra, err := ruleCheck(g, cfg)
				if err != nil {
					return err
				}
				if err := cfg.SetRuleDisabled(args[0], disable, check, extra...); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "rule %q %s (in %s)\n", args[0], done, cfg.ConsoleRulesPath())
				return nil
			},
		}
	}
	cmd.AddCommand(clone, toggle(true), toggle(false))
}

// reload makes a running idsync serve use the configuration as now written
// (after the console changed its console-managed part): under the run
// lock, the rules are loaded and checked again, the connectors whose
// settings changed are reopened, and the engine, the scheduler and the app
// take the new configuration. Connectors added or removed, and the other
// settings of the configuration, take a restart.
func (a *app) reload(ctx context.Context, g *globalFlags, sch *scheduler.Scheduler) (*config.Config, *rules.RuleSet, error) {
	unlock, err := a.lock(time.Hour)
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	cfg, err := loadConfig(g)
	if err != nil {
		return nil, nil, err
	}
	apps, err := loadApps(g, cfg)
	if err != nil {
		return nil, nil, err
	}
	if !slices.Equal(appNames(apps), appNames(a.apps)) {
		return nil, nil, fmt.Errorf("applications were added to or removed from %s: restart idsync serve to use them", appsPath(g, cfg))
	}
	rs, err := loadRules(g, cfg)
	if err != nil {
		return nil, nil, err
	}
	check, _, err := ruleCheck(g, cfg)
	if err != nil {
		return nil, nil, err
	}
	if err := check(rs); err != nil {
		return nil, nil, fmt.Errorf("the sync rules have errors (run `idsync rules validate` for the full list):\n  %w", err)
	}
	if !slices.Equal(cfg.Names(), a.cfg.Names()) {
		return nil, nil, fmt.Errorf("connectors were added to or removed from %s: restart idsync serve to use them", cfg.Path)
	}
	type swap struct {
		ec *engine.Connector
		c  connector.Connector
		cc config.Connector
	}
	var swaps []swap
	closeAll := func() {
		for _, s := range swaps {
			_ = s.c.Close()
		}
	}
	for _, cc := range cfg.Connectors {
		prev, ec := a.cfg.Connector(cc.Name), a.engine.Connectors[cc.Name]
		if ec == nil || prev == nil {
			closeAll()
			return nil, nil, fmt.Errorf("connector %q is not running: restart idsync serve", cc.Name)
		}
		if prev.Type == cc.Type && prev.Config.Text() == cc.Config.Text() && slices.Equal(prev.Partitions, cc.Partitions) {
			continue
		}
		c, err := openConnector(ctx, cc)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		swaps = append(swaps, swap{ec, c, cc})
	}
	snap, err := snapshot.Take(cfg, rs)
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	a.engineMu.Lock()
	var olds []connector.Connector
	for _, s := range swaps {
		olds = append(olds, s.ec.Conn)
		s.ec.Conn, s.ec.Partitions = s.c, s.cc.Partitions
	}
	a.engine.Rules, a.rules, a.cfg, a.apps = rs, rs, cfg, apps
	a.engineMu.Unlock()
	for i, s := range swaps {
		_ = olds[i].Close()
		slog.Info("connector reopened with its new settings", "connector", s.cc.Name)
	}
	if sch != nil {
		sch.Config = snap
	}
	slog.Info("configuration reloaded", "config", cfg.Path, "rules", len(rs.Rules), "reopened", len(swaps))
	return cfg, rs, nil
}

// appNames are the names of the applications (none without a
// provisioning file).
func appNames(f *provisioning.File) []string {
	var out []string
	if f != nil {
		for _, a := range f.Applications {
			out = append(out, a.Name)
		}
	}
	return out
}

// configWebOptions gives the console what it needs to change the
// configuration: the rule check, the applications' rule files, the reload
// of idsync serve, and the OU trees of the LDAP connectors (read and
// written as idsync connector containers does, from the configuration as
// now written).
func configWebOptions(g *globalFlags, a *app, s *scheduler.Scheduler, o *web.Options) error {
	check, extra, err := ruleCheck(g, a.cfg)
	if err != nil {
		return err
	}
	o.CheckRules, o.ExtraRules = check, extra
	o.EngineMu, o.Applications = &a.engineMu, a.currentApps
	o.Reload = func(ctx context.Context) (*config.Config, *rules.RuleSet, error) { return a.reload(ctx, g, s) }
	o.ContainerTrees = func(ctx context.Context, name string) ([]*ldap.Tree, error) {
		cfg, err := loadConfig(g)
		if err != nil {
			return nil, err
		}
		trees, _, _, err := containerTrees(ctx, cfg, name)
		return trees, err
	}
	o.SaveContainers = func(ctx context.Context, name string, choices map[string]ldap.Choice) (ldap.Containers, error) {
		cfg, err := loadConfig(g)
		if err != nil {
			return ldap.Containers{}, err
		}
		return saveContainers(ctx, cfg, name, choices)
	}
	return nil
}
