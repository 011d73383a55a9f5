package provisioning

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/goccy/go-yaml"

	"github.com/idsync/idsync/config"
)

// The console-managed provisioning file: what the web console and the
// CLI's editing commands (idsync provisioning enable / disable / assign /
// unassign) change of the applications — provisioning on or off, users and
// groups assigned and unassigned — kept in a file of its own next to
// provisioning.yaml (provisioning.console.yaml), which stays the admin's.
// Load applies it on top of provisioning.yaml; remove an entry (or the
// file) to go back to what provisioning.yaml says. This is the pattern of
// the configuration's console-managed files (config/console.go).

// ConsolePath is the console-managed file of the provisioning file path:
// provisioning.yaml → provisioning.console.yaml.
func ConsolePath(path string) string {
	base := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	return filepath.Join(filepath.Dir(path), base+".console.yaml")
}

// consoleHeader starts the console-managed provisioning file.
const consoleHeader = `# Managed by idsync: written by the web console (an application's page)
# and by idsync provisioning enable / disable / assign / unassign (see
# docs/provisioning.md).
# Applied on top of provisioning.yaml when it is loaded: provisioning sets
# an application's provisioning (on or off), unassign removes assignments
# of provisioning.yaml, assign adds assignments. Review it like that file;
# remove an entry (or the file) to go back to what provisioning.yaml says.
`

// ConsoleFile is the console-managed provisioning file.
type ConsoleFile struct {
	// Applications by name (as provisioning.yaml names them).
	Applications map[string]*ConsoleApp `yaml:"applications,omitempty"`
}

// ConsoleApp is what the console sets for one application.
type ConsoleApp struct {
	// Provisioning replaces provisioning.yaml's provisioning: on or off.
	Provisioning string `yaml:"provisioning,omitempty"`
	// Assign are assignments added to provisioning.yaml's.
	Assign ConsoleAssignments `yaml:"assign,omitzero"`
	// Unassign are assignments of provisioning.yaml removed.
	Unassign ConsoleAssignments `yaml:"unassign,omitzero"`
}

// ConsoleAssignments are users and groups assigned or unassigned.
type ConsoleAssignments struct {
	Users  []UserAssignment  `yaml:"users,omitempty"`
	Groups []GroupAssignment `yaml:"groups,omitempty"`
}

func (c *ConsoleAssignments) empty() bool { return len(c.Users) == 0 && len(c.Groups) == 0 }

func (c *ConsoleApp) empty() bool {
	return c.Provisioning == "" && c.Assign.empty() && c.Unassign.empty()
}

// Assignment is one user or one group assignment: what the console and
// the CLI assign and unassign.
type Assignment struct {
	User  *UserAssignment  `json:"user,omitempty"`
	Group *GroupAssignment `json:"group,omitempty"`
}

// Check reports whether the assignment names exactly one user or group,
// by exactly one key.
func (x Assignment) Check() error {
	switch {
	case (x.User == nil) == (x.Group == nil):
		return errors.New("name one user or one group")
	case x.User != nil && (x.User.ID == "") == (x.User.Value == ""):
		return errors.New("a user assignment gives value (with attribute, default accountName) or id")
	case x.Group != nil && countSet(x.Group.DisplayName, x.Group.SourceAnchor, x.Group.ID) != 1:
		return errors.New("a group assignment gives exactly one of displayName, sourceAnchor or id")
	}
	return nil
}

func countSet(s ...string) int {
	n := 0
	for _, x := range s {
		if x != "" {
			n++
		}
	}
	return n
}

func (x Assignment) String() string {
	if x.User != nil {
		return "user " + x.User.describe()
	}
	if x.Group != nil {
		return x.Group.String()
	}
	return "nothing"
}

// ident identifies the user an assignment names, whatever its role.
func (u UserAssignment) ident() string {
	if u.ID != "" {
		return "id:" + u.ID
	}
	return "attr:" + strings.ToLower(or(u.Attribute, "accountName")) + "=" + strings.ToLower(u.Value)
}

// ident identifies the group an assignment names, whatever its role.
func (g GroupAssignment) ident() string {
	switch {
	case g.ID != "":
		return "id:" + g.ID
	case g.DisplayName != "":
		return "displayName:" + strings.ToLower(g.DisplayName)
	case g.SourceAnchor != "":
		return "sourceAnchor:" + g.SourceAnchor
	}
	return ""
}

// LoadConsole reads the console-managed file of the provisioning file path;
// an empty one when there is none.
func LoadConsole(path string) (*ConsoleFile, error) {
	p := ConsolePath(path)
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return &ConsoleFile{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the console-managed provisioning file: %w", err)
	}
	return parseConsole(p, data)
}

func parseConsole(name string, data []byte) (*ConsoleFile, error) {
	cf := &ConsoleFile{}
	if err := yaml.UnmarshalWithOptions(data, cf, yaml.Strict()); err != nil {
		return nil, positioned(name, err)
	}
	for app, ca := range cf.Applications {
		if ca == nil {
			delete(cf.Applications, app)
			continue
		}
		switch ca.Provisioning = strings.ToLower(ca.Provisioning); ca.Provisioning {
		case "", "on", "off":
		default:
			return nil, fmt.Errorf("%s: application %q: provisioning: %q (want on or off)", name, app, ca.Provisioning)
		}
	}
	return cf, nil
}

// apply sets the console's changes on the applications of f (before
// they are prepared): an application it names must be in f.
func (cf *ConsoleFile) apply(f *File, name string) error {
	var errs []error
	for appName, ca := range cf.Applications {
		var a *App
		for _, x := range f.Applications {
			if x != nil && strings.EqualFold(x.Name, appName) {
				a = x
			}
		}
		if a == nil {
			errs = append(errs, fmt.Errorf("%s names the application %q, which %s does not define: remove its entry", ConsolePath(name), appName, name))
			continue
		}
		if ca.Provisioning != "" {
			a.Provisioning = ca.Provisioning
		}
		for _, u := range ca.Unassign.Users {
			a.Assignments.Users = slices.DeleteFunc(a.Assignments.Users, func(x UserAssignment) bool { return x.ident() == u.ident() })
		}
		for _, g := range ca.Unassign.Groups {
			a.Assignments.Groups = slices.DeleteFunc(a.Assignments.Groups, func(x GroupAssignment) bool { return x.ident() == g.ident() })
		}
		for _, u := range ca.Assign.Users {
			if !slices.ContainsFunc(a.Assignments.Users, func(x UserAssignment) bool { return x.ident() == u.ident() }) {
				a.Assignments.Users = append(a.Assignments.Users, u)
			}
		}
		for _, g := range ca.Assign.Groups {
			if !slices.ContainsFunc(a.Assignments.Groups, func(x GroupAssignment) bool { return x.ident() == g.ident() }) {
				a.Assignments.Groups = append(a.Assignments.Groups, g)
			}
		}
	}
	return errors.Join(errs...)
}

func (cf *ConsoleFile) clone() *ConsoleFile {
	out := &ConsoleFile{Applications: map[string]*ConsoleApp{}}
	for k, ca := range cf.Applications {
		c := *ca
		c.Assign = ConsoleAssignments{Users: slices.Clone(ca.Assign.Users), Groups: slices.Clone(ca.Assign.Groups)}
		c.Unassign = ConsoleAssignments{Users: slices.Clone(ca.Unassign.Users), Groups: slices.Clone(ca.Unassign.Groups)}
		out.Applications[k] = &c
	}
	return out
}

func (cf *ConsoleFile) marshal() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(consoleHeader)
	if len(cf.Applications) == 0 {
		return buf.Bytes(), nil
	}
	data, err := yaml.MarshalWithOptions(cf, yaml.IndentSequence(true))
	if err != nil {
		return nil, fmt.Errorf("write the console-managed provisioning file: %w", err)
	}
	buf.Write(data)
	return buf.Bytes(), nil
}

// consoleMu serializes this process's edits of console-managed
// provisioning files (a read-modify-write each).
var consoleMu sync.Mutex

// SetProvisioning turns an application's provisioning on or off in the
// console-managed file of the provisioning file path, and returns the
// application as it now loads. Off stops its cycles; nothing is
// deprovisioned by it. Setting what provisioning.yaml says removes the
// console's entry.
func SetProvisioning(path, app string, on bool) (*App, error) {
	want := map[bool]string{true: "on", false: "off"}[on]
	return editConsole(path, app, func(base, _ *App, ca *ConsoleApp) error {
		ca.Provisioning = want
		if base.Provisioning == want {
			ca.Provisioning = ""
		}
		return nil
	})
}

// Assign assigns a user or a group to an application in the console-managed
// file of the provisioning file path (undoing an unassign of
// provisioning.yaml's assignment when it is the same), and returns the
// application as it now loads. The role must be one of the application's.
func Assign(path, app string, x Assignment) (*App, error) {
	if err := x.Check(); err != nil {
		return nil, fmt.Errorf("assign: %w", err)
	}
	return editConsole(path, app, func(base, cur *App, ca *ConsoleApp) error {
		if x.User != nil {
			u := *x.User
			if i := slices.IndexFunc(cur.Assignments.Users, func(y UserAssignment) bool { return y.ident() == u.ident() }); i >= 0 {
				return fmt.Errorf("user %s is already assigned to %s (role %s): unassign it first to change its role", u.describe(), cur.Name, or(cur.Assignments.Users[i].Role, DefaultRole))
			}
			ca.Unassign.Users = slices.DeleteFunc(ca.Unassign.Users, func(y UserAssignment) bool { return y.ident() == u.ident() })
			if !slices.ContainsFunc(base.Assignments.Users, func(y UserAssignment) bool {
				return y.ident() == u.ident() && or(y.Role, DefaultRole) == or(u.Role, DefaultRole)
			}) {
				ca.Assign.Users = append(ca.Assign.Users, u)
				if slices.ContainsFunc(base.Assignments.Users, func(y UserAssignment) bool { return y.ident() == u.ident() }) {
					ca.Unassign.Users = append(ca.Unassign.Users, u) // provisioning.yaml's, with another role
				}
			}
			return nil
		}
		g := *x.Group
		if i := slices.IndexFunc(cur.Assignments.Groups, func(y GroupAssignment) bool { return y.ident() == g.ident() }); i >= 0 {
			return fmt.Errorf("%s is already assigned to %s (role %s): unassign it first to change its role", g, cur.Name, or(cur.Assignments.Groups[i].Role, DefaultRole))
		}
		ca.Unassign.Groups = slices.DeleteFunc(ca.Unassign.Groups, func(y GroupAssignment) bool { return y.ident() == g.ident() })
		if !slices.ContainsFunc(base.Assignments.Groups, func(y GroupAssignment) bool {
			return y.ident() == g.ident() && or(y.Role, DefaultRole) == or(g.Role, DefaultRole)
		}) {
			ca.Assign.Groups = append(ca.Assign.Groups, g)
			if slices.ContainsFunc(base.Assignments.Groups, func(y GroupAssignment) bool { return y.ident() == g.ident() }) {
				ca.Unassign.Groups = append(ca.Unassign.Groups, g)
			}
		}
		return nil
	})
}

// Unassign removes a user's or a group's assignment from an application
// (the role is not compared) in the console-managed file of the
// provisioning file path, and returns the application as it now loads.
// The accounts of users no longer in scope are deprovisioned by the next
// cycle, as the application's deprovision says.
func Unassign(path, app string, x Assignment) (*App, error) {
	if err := x.Check(); err != nil {
		return nil, fmt.Errorf("unassign: %w", err)
	}
	return editConsole(path, app, func(base, cur *App, ca *ConsoleApp) error {
		if x.User != nil {
			k := x.User.ident()
			match := func(y UserAssignment) bool { return y.ident() == k }
			if !slices.ContainsFunc(cur.Assignments.Users, match) {
				return fmt.Errorf("user %s is not assigned to %s (%s)", x.User.describe(), cur.Name, describeAssignments(cur.Assignments))
			}
			ca.Assign.Users = slices.DeleteFunc(ca.Assign.Users, match)
			if i := slices.IndexFunc(base.Assignments.Users, match); i >= 0 && !slices.ContainsFunc(ca.Unassign.Users, match) {
				ca.Unassign.Users = append(ca.Unassign.Users, base.Assignments.Users[i])
			}
			return nil
		}
		k := x.Group.ident()
		match := func(y GroupAssignment) bool { return y.ident() == k }
		if !slices.ContainsFunc(cur.Assignments.Groups, match) {
			return fmt.Errorf("%s is not assigned to %s (%s)", x.Group, cur.Name, describeAssignments(cur.Assignments))
		}
		ca.Assign.Groups = slices.DeleteFunc(ca.Assign.Groups, match)
		if i := slices.IndexFunc(base.Assignments.Groups, match); i >= 0 && !slices.ContainsFunc(ca.Unassign.Groups, match) {
			ca.Unassign.Groups = append(ca.Unassign.Groups, base.Assignments.Groups[i])
		}
		return nil
	})
}

func describeAssignments(as Assignments) string {
	var out []string
	for _, g := range as.Groups {
		out = append(out, g.String())
	}
	for _, u := range as.Users {
		out = append(out, "user "+u.describe())
	}
	if len(out) == 0 {
		return "it has no assignment"
	}
	return "its assignments: " + strings.Join(out, ", ")
}

// editConsole runs edit on the application as provisioning.yaml defines it
// (base), as it loads now (cur) and a copy of its console entry, then
// loads the provisioning files with the edited entry — every application
// prepared, their rules generated — and writes the file only if they load.
func editConsole(path, app string, edit func(base, cur *App, ca *ConsoleApp) error) (*App, error) {
	consoleMu.Lock()
	defer consoleMu.Unlock()
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read provisioning config: %w", err)
	}
	cf, err := LoadConsole(path)
	if err != nil {
		return nil, err
	}
	base, err := parse(path, data, nil)
	if err != nil {
		return nil, fmt.Errorf("%s does not load; fix it first:\n  %w", path, err)
	}
	ba, err := base.App(app)
	if err != nil {
		return nil, err
	}
	curFile, err := parse(path, data, cf)
	if err != nil {
		return nil, fmt.Errorf("the provisioning files do not load; fix them first:\n  %w", err)
	}
	cur, err := curFile.App(ba.Name)
	if err != nil {
		return nil, err
	}
	nf := cf.clone()
	key := ba.Name
	for k := range nf.Applications {
		if strings.EqualFold(k, ba.Name) {
			key = k
		}
	}
	ca := nf.Applications[key]
	if ca == nil {
		ca = &ConsoleApp{}
		nf.Applications[key] = ca
	}
	if err := edit(ba, cur, ca); err != nil {
		return nil, err
	}
	if ca.empty() {
		delete(nf.Applications, key)
	}
	out, err := nf.marshal()
	if err != nil {
		return nil, err
	}
	// What is written must load back the same way, every application
	// with it.
	p := ConsolePath(path)
	parsed, err := parseConsole(p, out)
	if err != nil {
		return nil, fmt.Errorf("the console-managed provisioning file would not load back (a bug; nothing was written): %w", err)
	}
	next, err := parse(path, data, parsed)
	if err == nil {
		_, err = next.RuleFile()
	}
	if err != nil {
		return nil, fmt.Errorf("refused: the applications would not load (nothing was written):\n  %w", err)
	}
	if err := config.WriteAtomic(p, out); err != nil {
		return nil, err
	}
	return next.App(ba.Name)
}

// ConsoleSummary lists what the console-managed file of the provisioning
// file path changes, one line per application (idsync config diff shows
// them); none without the file.
func ConsoleSummary(path string) ([]string, error) {
	cf, err := LoadConsole(path)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(cf.Applications))
	for n := range cf.Applications {
		names = append(names, n)
	}
	slices.Sort(names)
	var out []string
	for _, n := range names {
		ca := cf.Applications[n]
		var parts []string
		if ca.Provisioning != "" {
			parts = append(parts, "provisioning "+ca.Provisioning)
		}
		for _, g := range ca.Assign.Groups {
			parts = append(parts, fmt.Sprintf("assigns %s (role %s)", g, or(g.Role, DefaultRole)))
		}
		for _, u := range ca.Assign.Users {
			parts = append(parts, fmt.Sprintf("assigns user %s (role %s)", u.describe(), or(u.Role, DefaultRole)))
		}
		for _, g := range ca.Unassign.Groups {
			parts = append(parts, "unassigns "+g.String())
		}
		for _, u := range ca.Unassign.Users {
			parts = append(parts, "unassigns user "+u.describe())
		}
		if len(parts) > 0 {
			out = append(out, fmt.Sprintf("%s: application %s: %s", ConsolePath(path), n, strings.Join(parts, "; ")))
		}
	}
	return out, nil
}
