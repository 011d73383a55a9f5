package rules

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// File is one parsed rule file.
type File struct {
	// Name is the file's path (or the name given to Parse), used in messages
	// and in each rule's Source.
	Name string
	// Immutable marks out-of-box rules (loaded by LoadFS with immutable set):
	// they cannot be redefined by other files, only disabled.
	Immutable bool
	// Rules in file order.
	Rules []*Rule
	// Disable names rules (of any file) that Merge disables.
	Disable []string

	disableSrc []string // "file:line" of each Disable entry
}

// fileYAML is the YAML shape of a rule file.
type fileYAML struct {
	Rules   []Rule   `yaml:"rules"`
	Disable []string `yaml:"disable"`
}

// LoadFile reads and parses a rule file.
func LoadFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading rule file: %w", err)
	}
	return Parse(path, data)
}

// LoadFS parses the files of fsys that match pattern (fs.Glob syntax), in
// lexical order. With immutable set — for the embedded out-of-box rules —
// the files and every rule in them are marked Immutable. No match is not an
// error.
func LoadFS(fsys fs.FS, pattern string, immutable bool) ([]*File, error) {
	names, err := fs.Glob(fsys, pattern)
	if err != nil {
		return nil, fmt.Errorf("rule files %q: %w", pattern, err)
	}
	files := make([]*File, 0, len(names))
	var errs []error
	for _, name := range names {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			errs = append(errs, fmt.Errorf("reading rule file: %w", err))
			continue
		}
		f, err := Parse(name, data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if immutable {
			f.Immutable = true
			for _, r := range f.Rules {
				r.Immutable = true
			}
		}
		files = append(files, f)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return files, nil
}

// Parse parses a rule file; name is used in messages and rule sources.
// Decoding is strict: unknown keys, values of the wrong type, bad operators
// and bad enumeration values are errors, each starting with "name:line: ".
// Enumerations (direction, linkType, flow type, merge, deprovision,
// operator) are accepted in any case and stored in their canonical
// spelling; defaults are applied (see Rule.SetDefaults). Parse checks each
// rule on its own; Merge and RuleSet.Validate check rules together and
// against the configured connectors.
func Parse(name string, data []byte) (*File, error) {
	tree, err := parseYAML(data)
	if err != nil {
		return nil, yamlError(name, err)
	}
	f := &File{Name: name}
	var body ast.Node
	for _, doc := range tree.Docs {
		if doc == nil || doc.Body == nil {
			continue
		}
		if body != nil {
			return nil, &PosError{File: name, Line: nodeLine(doc.Body), Msg: "a rule file holds one YAML document; found a second one"}
		}
		body = doc.Body
	}
	if body == nil {
		return f, nil // empty file
	}
	chk := yamlChecker{file: name}
	body = chk.walk(body, fileType, "rule file", "")
	if len(chk.errs) > 0 {
		return nil, errors.Join(chk.errs...)
	}
	var raw fileYAML
	if err := decodeNode(body, &raw); err != nil {
		return nil, yamlError(name, err)
	}
	var errs []error
	for i := range raw.Rules {
		r := &raw.Rules[i]
		at := func(path ...any) int { return lineAt(body, append([]any{"rules", i}, path...)...) }
		r.Source = fmt.Sprintf("%s:%d", name, at())
		for _, err := range normalizeRule(r, at) {
			errs = append(errs, &PosError{File: name, Line: err.line, Msg: ruleLabel(r) + ": " + err.msg, Err: err.err})
		}
		if r.Name == "" {
			errs = append(errs, &PosError{File: name, Line: at(), Msg: "rule has no name"})
		}
		r.SetDefaults()
		f.Rules = append(f.Rules, r)
	}
	for i, d := range raw.Disable {
		line := lineAt(body, "disable", i)
		if strings.TrimSpace(d) == "" {
			errs = append(errs, &PosError{File: name, Line: line, Msg: "disable: empty rule name"})
		}
		f.Disable = append(f.Disable, d)
		f.disableSrc = append(f.disableSrc, fmt.Sprintf("%s:%d", name, line))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return f, nil
}

func ruleLabel(r *Rule) string {
	if r.Name == "" {
		return "rule"
	}
	return fmt.Sprintf("rule %q", r.Name)
}

// parseYAML parses YAML into a syntax tree. goccy/go-yaml is fuzzed but a
// parser panic on hostile input must not take the process down: it becomes
// an error.
func parseYAML(data []byte) (f *ast.File, err error) {
	defer func() {
		if p := recover(); p != nil {
			f, err = nil, fmt.Errorf("YAML parser failed on this input: %v", p)
		}
	}()
	return parser.ParseBytes(data, 0)
}

// decodeNode decodes a checked syntax tree strictly (see parseYAML for the
// recover).
func decodeNode(n ast.Node, v any) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("YAML decoder failed on this input: %v", p)
		}
	}()
	// AllowDuplicateMapKey lets keys override those a merge key (<<: *anchor)
	// brings in; real duplicate keys are syntax errors of the parser.
	return yaml.NodeToValue(n, v, yaml.Strict(), yaml.AllowDuplicateMapKey())
}

// yamlError turns a goccy/go-yaml error into a *PosError.
func yamlError(name string, err error) error {
	var ye yaml.Error
	if errors.As(err, &ye) {
		line := 0
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			line = tk.Position.Line
		}
		return &PosError{File: name, Line: line, Msg: ye.GetMessage(), Err: err}
	}
	return &PosError{File: name, Msg: err.Error(), Err: err}
}
