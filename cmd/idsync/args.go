package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/idsync/idsync/config"
	"github.com/idsync/idsync/engine"
	"github.com/idsync/idsync/rules"
)

// loadConfig loads the configuration the global flags name. A missing
// file says how to name one.
func loadConfig(g *globalFlags) (*config.Config, error) {
	cfg, err := config.Load(g.config)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w\n(no configuration at %s: give one with --config FILE or the environment variable IDSYNC_CONFIG, or run `idsync demo` to make one)", err, g.config)
	}
	return cfg, err
}

// connectorFilter picks the connectors an argument may name.
type connectorFilter func(cfg *config.Config, rs *rules.RuleSet, name string) bool

func allConnectors(*config.Config, *rules.RuleSet, string) bool { return true }

// exportingConnectors: the connectors outbound rules write to.
func exportingConnectors(_ *config.Config, rs *rules.RuleSet, name string) bool {
	return rs == nil || len(rs.For(name, rules.Outbound)) > 0
}

// connectorNames lists the configured connectors that filter keeps, from
// the configuration the global flags name; nil when it cannot be read.
func connectorNames(g *globalFlags, filter connectorFilter) []string {
	cfg, err := config.Load(g.config)
	if err != nil {
		return nil
	}
	var extra []*rules.File
	names := cfg.Names()
	if apps, err := loadApps(g, cfg); err == nil && apps != nil {
		if rf, err := apps.RuleFile(); err == nil {
			extra = append(extra, rf)
		}
		for _, a := range apps.Applications {
			names = append(names, a.Name)
		}
	}
	rs, _ := cfg.LoadRules(extra...)
	var out []string
	for _, n := range names {
		if filter(cfg, rs, n) {
			out = append(out, n)
		}
	}
	return out
}

// lookupTarget checks that name is a connector of the configuration or an
// application of the provisioning file (a connector of the engine too).
func lookupTarget(g *globalFlags, cfg *config.Config, name string) error {
	_, err := cfg.Lookup(name)
	if err == nil {
		return nil
	}
	apps, aerr := loadApps(g, cfg)
	if aerr != nil {
		return aerr
	}
	if apps != nil {
		for _, a := range apps.Applications {
			if a.Name == name {
				return nil
			}
		}
	}
	return err
}

// connectorArgs checks that a command got n arguments, the first naming a
// connector; when it did not, the error lists the connectors that can be
// named.
func connectorArgs(g *globalFlags, n int, what string, filter connectorFilter) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == n {
			return nil
		}
		names := connectorNames(g, filter)
		if len(args) == 0 {
			if len(names) == 0 {
				return fmt.Errorf("%s needs the name of a connector (none could be read from %s: give a configuration with --config FILE or IDSYNC_CONFIG)", what, g.config)
			}
			return fmt.Errorf("%s needs the name of a connector: %s", what, strings.Join(names, ", "))
		}
		return fmt.Errorf("%s takes %d argument(s) (%s), not %d", what, n, cmd.Use[strings.IndexByte(cmd.Use, ' ')+1:], len(args))
	}
}

// exactArgs checks for n arguments and says what they are when they are
// missing.
func exactArgs(n int, name, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == n {
			return nil
		}
		if len(args) < n {
			return fmt.Errorf("%s needs %s: %s", cmd.CommandPath(), name, what)
		}
		return fmt.Errorf("%s takes %d argument(s) (%s), not %d", cmd.CommandPath(), n, name, len(args))
	}
}

// runArgs checks idsync run's CONNECTOR PROFILE and names the valid values.
func runArgs(g *globalFlags) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		profiles := make([]string, len(engine.Profiles))
		for i, p := range engine.Profiles {
			profiles[i] = string(p)
		}
		switch len(args) {
		case 2:
			return nil
		case 0:
			names := connectorNames(g, allConnectors)
			if len(names) == 0 {
				return fmt.Errorf("run needs a connector and a run profile (no connector could be read from %s: give a configuration with --config FILE or IDSYNC_CONFIG)", g.config)
			}
			return fmt.Errorf("run needs a connector (%s) and a run profile (%s)", strings.Join(names, ", "), strings.Join(profiles, ", "))
		case 1:
			return fmt.Errorf("run %s needs a run profile: %s", args[0], strings.Join(profiles, ", "))
		}
		return errors.New("run takes two arguments: CONNECTOR PROFILE")
	}
}

// completeConnectors completes a connector name as argument pos (1-based)
// and nothing else.
func completeConnectors(g *globalFlags, pos int) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		if len(args) != pos-1 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return connectorNames(g, allConnectors), cobra.ShellCompDirectiveNoFileComp
	}
}

// completeRun completes idsync run's connector, then its profile.
func completeRun(g *globalFlags) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		switch len(args) {
		case 0:
			return connectorNames(g, allConnectors), cobra.ShellCompDirectiveNoFileComp
		case 1:
			var out []string
			for _, p := range engine.Profiles {
				out = append(out, string(p))
			}
			return out, cobra.ShellCompDirectiveNoFileComp
		}
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeRules completes sync rule names.
func completeRules(g *globalFlags) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		cfg, err := config.Load(g.config)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		rs, err := loadRules(g, cfg)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []string
		for _, r := range rs.Rules {
			out = append(out, r.Name)
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}
