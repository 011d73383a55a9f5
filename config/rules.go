package config

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"

	"github.com/idsync/idsync/internal/secret"
	"github.com/idsync/idsync/outofbox"
	"github.com/idsync/idsync/rules"
)

// LoadRules loads the configuration's rules: the out-of-box rules its
// outOfBox block selects (immutable), then the rule files, each glob pattern
// in lexical order, merged into one rule set.
func (c *Config) LoadRules(extra ...*rules.File) (*rules.RuleSet, error) {
	files, err := c.RuleFiles()
	if err != nil {
		return nil, err
	}
	return rules.Merge(append(files, extra...)...)
}

// RuleFiles loads the rule files of the configuration: the out-of-box
// rules it asks for, the rules files in order, then the console-managed
// rule file (ConsoleRulesPath) when there is one.
func (c *Config) RuleFiles() ([]*rules.File, error) {
	var files []*rules.File
	if c.OutOfBox.Cloud != "" {
		oob, err := outofbox.Files(outofbox.Setup{Cloud: c.OutOfBox.Cloud, Forests: c.OutOfBox.Forests,
			MatchUsersOnMail: c.OutOfBox.MatchUsersOnMail, CloudDN: c.OutOfBox.CloudDN, GroupFilters: c.OutOfBox.GroupFilters})
		if err != nil {
			return nil, err
		}
		files = append(files, oob...)
	}
	if md := c.OutOfBox.ManagedDomain; md != nil {
		oob, err := outofbox.ManagedDomainFiles(outofbox.ManagedDomain{Source: md.Source, Target: md.Target, BaseDN: md.BaseDN, SourcePassword: md.SourcePassword, AzureADAttributes: md.AzureADAttributes})
		if err != nil {
			return nil, err
		}
		files = append(files, oob...)
	}
	for _, pattern := range c.Rules {
		paths, err := filepath.Glob(pattern)
		if err != nil {
			return nil, fmt.Errorf("rules pattern %q: %w", pattern, err)
		}
		if len(paths) == 0 {
			return nil, fmt.Errorf("rules: %q matches no file (check the rules list in %s)", pattern, c.Path)
		}
		sort.Strings(paths)
		for _, p := range paths {
			f, err := rules.LoadFile(p)
			if err != nil {
				return nil, err
			}
			files = append(files, f)
		}
	}
	f, ok, err := c.loadConsoleRules()
	if err != nil {
		return nil, err
	}
	if ok {
		files = append(files, f)
	}
	return files, nil
}

// validateManagedDomain checks outOfBox.managedDomain: its connectors are
// configured, the source is not one the forest rules already read (the
// metaverse would get every object twice), and baseDN is a DN.
func (c *Config) validateManagedDomain(md *ManagedDomain, configured map[string]bool) []error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(md.Target != "", "outOfBox.managedDomain.target: name the managed domain's Active Directory connector")
	check(md.Target == "" || configured[md.Target], "outOfBox.managedDomain.target names connector %q, which is not configured", md.Target)
	if md.Source != "" {
		check(configured[md.Source], "outOfBox.managedDomain.source names connector %q, which is not configured", md.Source)
		check(md.Source != md.Target, "outOfBox.managedDomain: source and target are both %q; the source is the cloud directory, the target the managed domain", md.Source)
		check(md.Source != c.OutOfBox.Cloud && !slices.Contains(c.OutOfBox.Forests, md.Source),
			"outOfBox.managedDomain.source: %q is already read by the out-of-box forest rules (outOfBox.cloud or forests); leave source out to send the metaverse they build", md.Source)
	}
	check(md.Target == "" || md.Target != c.OutOfBox.Cloud && !slices.Contains(c.OutOfBox.Forests, md.Target),
		"outOfBox.managedDomain.target: %q is one of the out-of-box forests or the cloud; the managed domain needs a connector of its own", md.Target)
	if err := outofbox.CheckBaseDN(md.BaseDN); err != nil {
		errs = append(errs, err)
	}
	if md.SourcePassword != "" {
		check(md.Source != "", "outOfBox.managedDomain.sourcePassword: names an attribute of the source's users; set source too")
		check(secret.NewPolicy(c.Security.SecretAttributes...).IsSecret(md.SourcePassword),
			"outOfBox.managedDomain.sourcePassword: %q is not a secret attribute, so its values would be stored in clear: "+
				"add it to security.secretAttributes (or use a built-in secret name such as initialPassword)", md.SourcePassword)
	}
	return errs
}
