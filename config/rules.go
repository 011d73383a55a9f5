package config

import (
	"fmt"
	"path/filepath"
	"sort"

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
// rules it asks for, then the rules files in order.
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
	return files, nil
}
