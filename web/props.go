package web

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/goccy/go-yaml"
)

// Properties are a connector's configuration as the console shows it:
// secrets masked.
type Properties struct {
	Type       string
	Partitions []string
	Settings   []string // "deleteThreshold: 500" …
	Parameters []string
	// Config is the connector's config block (YAML), secret values masked.
	Config string
}

// secretKey names keys whose values are secrets.
var secretKey = regexp.MustCompile(`(?i)(password|passwd|secret|token|credential|privatekey|apikey)`)

// maskYAML hides the values of secret-looking keys in a YAML document (a
// ${NAME} reference to the environment is shown: it is not the secret),
// then every secret value the process knows. A document that does not
// parse is shown masked line by line.
func (s *Server) maskYAML(text string) string {
	var doc any
	out := ""
	if err := yaml.Unmarshal([]byte(text), &doc); err == nil && doc != nil {
		if b, err := yaml.Marshal(maskValue("", doc)); err == nil {
			out = strings.TrimRight(string(b), "\n")
		}
	}
	if out == "" {
		lines := strings.Split(text, "\n")
		for i, l := range lines {
			if k, _, ok := strings.Cut(l, ":"); ok && secretKey.MatchString(k) {
				lines[i] = k + ": ********"
			}
		}
		out = strings.Join(lines, "\n")
	}
	if s.o.Mask != nil {
		out = s.o.Mask(out)
	}
	return out
}

// maskValue replaces the scalar values of secret-looking keys.
func maskValue(key string, v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = maskValue(k, e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = maskValue(key, e)
		}
		return x
	case nil:
		return nil
	default:
		if !secretKey.MatchString(key) {
			return v
		}
		if str, ok := v.(string); ok && strings.HasPrefix(str, "${") {
			return v
		}
		return "********"
	}
}

// properties returns a connector's properties; nil when the console has
// no configuration or the name is an application's.
func (s *Server) properties(name string) *Properties {
	cfg := s.currentConfig()
	if cfg == nil {
		return nil
	}
	for _, cc := range cfg.Connectors {
		if cc.Name != name {
			continue
		}
		p := &Properties{Type: cc.Type, Partitions: cc.Partitions, Config: s.maskYAML(cc.Config.Text())}
		add := func(k string, v *int) {
			if v != nil {
				p.Settings = append(p.Settings, fmt.Sprintf("%s: %d", k, *v))
			}
		}
		add("deleteThreshold", cc.DeleteThreshold)
		add("deleteThresholdPercent", cc.DeleteThresholdPercent)
		add("importShrinkPercent", cc.ImportShrinkPercent)
		for _, k := range cc.Config.ConsoleKeys() {
			p.Settings = append(p.Settings, fmt.Sprintf("config.%s: set from the console, in %s", k, filepath.Base(cfg.ConsolePath())))
		}
		if len(cc.UniqueAttributes) > 0 {
			p.Settings = append(p.Settings, "uniqueAttributes: "+strings.Join(cc.UniqueAttributes, ", "))
		}
		for k, v := range cc.Parameters {
			p.Parameters = append(p.Parameters, k+" = "+s.maskYAML(v))
		}
		return p
	}
	return nil
}
