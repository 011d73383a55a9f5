package file

import "path/filepath"

// ResolvePaths makes a relative path relative to baseDir (the directory of
// the configuration file the connector was configured in).
func (c *Config) ResolvePaths(baseDir string) {
	if c.Path != "" && !filepath.IsAbs(c.Path) {
		c.Path = filepath.Join(baseDir, c.Path)
	}
}
