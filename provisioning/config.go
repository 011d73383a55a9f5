package provisioning

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/idsync/idsync/config"
	"github.com/idsync/idsync/connector/scim"
	"github.com/idsync/idsync/expr"
	"github.com/idsync/idsync/internal/secret"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/rules"
)

// Defaults.
const (
	// DefaultInterval is the time between incremental cycles (R3.5).
	DefaultInterval = 20 * time.Minute
	// DefaultDeleteThreshold is the largest number of disables and deletes
	// a cycle performs without an explicit allowance.
	DefaultDeleteThreshold = 500
	// DefaultRole is the app role of an assignment that names none.
	DefaultRole = "User"
	// DefaultQuarantineRatio and DefaultQuarantineMinAttempts: a cycle in
	// which at least this share of at least this many operations failed
	// quarantines the application.
	DefaultQuarantineRatio       = 0.8
	DefaultQuarantineMinAttempts = 10
	// RolesAttribute is the synthetic source attribute that holds the app
	// roles assigned to a user (for [appRoleAssignments] in mappings).
	RolesAttribute = "appRoleAssignments"
)

// File is a provisioning configuration file (provisioning.yaml).
type File struct {
	// Applications are the applications idsync provisions to.
	Applications []*App `yaml:"applications"`
	// SMTP is the default mail server of notification e-mails.
	SMTP *SMTP `yaml:"smtp,omitempty"`

	// Path is the file the configuration was loaded from.
	Path string `yaml:"-"`
}

// App is one application: a SCIM connector, its assignments, its attribute
// mappings and how it is provisioned.
type App struct {
	Name string `yaml:"name"`
	// Provisioning is "on" (the default) or "off" (R3.5).
	Provisioning string `yaml:"provisioning,omitempty"`
	// Deprovision is what happens to accounts that are unassigned or leave
	// scope: "disable" (the default: active=false) or "delete" (R3.7).
	Deprovision string `yaml:"deprovision,omitempty"`
	// SCIM is the SCIM connector configuration (connector/scim Config).
	SCIM config.Block `yaml:"scim"`
	// Interval between incremental cycles (default 20m).
	Interval config.Duration `yaml:"interval,omitempty"`
	// DeleteThreshold is the largest number of disables and deletes a cycle
	// performs (default 500; 0 keeps the default, -1 turns the guard off).
	DeleteThreshold int `yaml:"deleteThreshold,omitempty"`
	// ObjectType is the SCIM connector's object type (default user) and
	// MVObjectType the metaverse type provisioned (default person).
	ObjectType   string `yaml:"objectType,omitempty"`
	MVObjectType string `yaml:"mvObjectType,omitempty"`
	// GroupType is the metaverse type of groups (default group) and
	// MemberAttribute their member attribute (default member).
	GroupType       string `yaml:"groupType,omitempty"`
	MemberAttribute string `yaml:"memberAttribute,omitempty"`
	// AppRoles are the application's roles. Empty: any role name, default
	// "User".
	AppRoles []AppRole `yaml:"appRoles,omitempty"`
	// Assignments say who is provisioned (R3.1).
	Assignments Assignments `yaml:"assignments"`
	// Scope is a scoping filter on the metaverse object, on top of the
	// assignments (rules.ScopingFilter syntax).
	Scope rules.ScopingFilter `yaml:"scope,omitempty"`
	// Mappings are the attribute mappings (R3.4).
	Mappings []*Mapping `yaml:"mappings"`
	// ProvisionGroups provisions the assigned groups (and, with
	// nestedGroups, the groups nested in them) as SCIM Groups whose members
	// are the accounts and groups provisioned to the application (default
	// true).
	ProvisionGroups *bool `yaml:"provisionGroups,omitempty"`
	// GroupObjectType is the SCIM connector's object type of groups
	// (default group).
	GroupObjectType string `yaml:"groupObjectType,omitempty"`
	// GroupMappings are the attribute mappings of groups, the syntax of
	// Mappings (default: displayName from displayName, matching). members
	// is managed by idsync and cannot be mapped.
	GroupMappings []*Mapping `yaml:"groupMappings,omitempty"`
	// GroupScope is a scoping filter on the metaverse groups provisioned.
	GroupScope rules.ScopingFilter `yaml:"groupScope,omitempty"`
	// Parameters are values the expressions read as %Name%.
	Parameters map[string]string `yaml:"parameters,omitempty"`
	// Notify is the address (a person or a group) that receives error and
	// quarantine notifications (R3.3).
	Notify string `yaml:"notificationEmail,omitempty"`
	// SMTP overrides the file's SMTP server for this application.
	SMTP *SMTP `yaml:"smtp,omitempty"`
	// Quarantine tunes when the application is quarantined.
	Quarantine QuarantinePolicy `yaml:"quarantine,omitempty"`

	scimCfg       scim.Config
	roles         map[string]AppRole // by lower-case name
	matchers      []*Mapping         // matching mappings by precedence
	groupMatchers []*Mapping         // matching group mappings by precedence
}

// GroupsOn reports whether groups are provisioned.
func (a *App) GroupsOn() bool { return a.ProvisionGroups == nil || *a.ProvisionGroups }

// AppRole is one role of the application.
type AppRole struct {
	Name string `yaml:"name"`
	// Provisionable false rejects assignments with this role (Entra's
	// msiam_access and other single-sign-on-only roles).
	Provisionable *bool  `yaml:"provisionable,omitempty"`
	Description   string `yaml:"description,omitempty"`
}

// CanProvision reports whether assignments with the role are provisioned.
func (r AppRole) CanProvision() bool { return r.Provisionable == nil || *r.Provisionable }

// Assignments are the users and groups assigned to an application.
type Assignments struct {
	Users  []UserAssignment  `yaml:"users,omitempty" json:"users,omitempty"`
	Groups []GroupAssignment `yaml:"groups,omitempty" json:"groups,omitempty"`
	// NestedGroups puts the members of groups nested in assigned groups in
	// scope too (Entra cannot; idsync can).
	NestedGroups bool `yaml:"nestedGroups,omitempty" json:"nestedGroups,omitempty"`
}

// UserAssignment assigns the metaverse person whose attribute (default
// accountName) equals value (case-insensitively). ID names the MV object
// directly instead.
type UserAssignment struct {
	Attribute string `yaml:"attribute,omitempty" json:"attribute,omitempty"`
	Value     string `yaml:"value,omitempty" json:"value,omitempty"`
	ID        string `yaml:"id,omitempty" json:"id,omitempty"`
	Role      string `yaml:"role,omitempty" json:"role,omitempty"`
}

// GroupAssignment assigns the members of a metaverse group found by
// displayName, sourceAnchor or MV id.
type GroupAssignment struct {
	DisplayName  string `yaml:"displayName,omitempty" json:"displayName,omitempty"`
	SourceAnchor string `yaml:"sourceAnchor,omitempty" json:"sourceAnchor,omitempty"`
	ID           string `yaml:"id,omitempty" json:"id,omitempty"`
	Role         string `yaml:"role,omitempty" json:"role,omitempty"`
}

func (g GroupAssignment) String() string {
	switch {
	case g.DisplayName != "":
		return fmt.Sprintf("group %q", g.DisplayName)
	case g.SourceAnchor != "":
		return fmt.Sprintf("group with sourceAnchor %q", g.SourceAnchor)
	}
	return fmt.Sprintf("group %s", g.ID)
}

// Mapping is one attribute mapping: a target SCIM attribute (flat name, see
// connector/scim) and its value. Exactly one of Source (an MV attribute,
// copied), Expression (provisioning dialect) or Constant is set.
type Mapping struct {
	Target     string `yaml:"target"`
	Source     string `yaml:"source,omitempty"`
	Expression string `yaml:"expression,omitempty"`
	Constant   string `yaml:"constant,omitempty"`
	// Matching marks an attribute used to find an existing account before
	// creating one; lower MatchingPrecedence is tried first (R3.4).
	Matching           bool `yaml:"matching,omitempty"`
	MatchingPrecedence int  `yaml:"matchingPrecedence,omitempty"`
	// Apply is "always" (the default) or "create" (only when the account is
	// created, e.g. an initial password).
	Apply string `yaml:"apply,omitempty"`

	compiled rules.Compiled
	redacted bool
}

// Redacted reports whether the mapping's values are hidden in reports.
func (m *Mapping) Redacted() bool { return m.redacted }

// SMTP is a mail server for notifications.
type SMTP struct {
	// Addr is host:port (default port 25).
	Addr     string `yaml:"addr"`
	From     string `yaml:"from"`
	Username string `yaml:"username,omitempty"`
	Password string `yaml:"password,omitempty"`
}

// QuarantinePolicy says when an application is quarantined.
type QuarantinePolicy struct {
	// FailureRatio (default 0.8) of at least MinAttempts (default 10)
	// operations failing quarantines the application.
	FailureRatio float64 `yaml:"failureRatio,omitempty"`
	MinAttempts  int     `yaml:"minAttempts,omitempty"`
	// FirstRetry (default 5m) doubles at every failed retry up to MaxRetry
	// (default 24h).
	FirstRetry config.Duration `yaml:"firstRetry,omitempty"`
	MaxRetry   config.Duration `yaml:"maxRetry,omitempty"`
}

// Load reads a provisioning configuration file, with the changes of its
// console-managed file applied (ConsolePath: provisioning on or off,
// assignments; console.go). Relative paths in SCIM blocks are not
// resolved; ${NAME} values are read from the environment.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read provisioning config: %w", err)
	}
	cf, err := LoadConsole(path)
	if err != nil {
		return nil, err
	}
	return parse(path, data, cf)
}

// Parse parses and checks provisioning configuration data; name is used
// in messages.
func Parse(name string, data []byte) (*File, error) { return parse(name, data, nil) }

// parse parses provisioning configuration data, applies the console's
// changes (cf, nil for none) and checks the result.
func parse(name string, data []byte, cf *ConsoleFile) (*File, error) {
	f := &File{Path: name}
	if err := yaml.UnmarshalWithOptions(data, f, yaml.Strict()); err != nil {
		return nil, positioned(name, err)
	}
	if cf != nil {
		if err := cf.apply(f, name); err != nil {
			return nil, err
		}
	}
	var errs []error
	seen := map[string]bool{}
	for i, a := range f.Applications {
		if a == nil {
			errs = append(errs, fmt.Errorf("applications[%d] is empty", i))
			continue
		}
		if seen[strings.ToLower(a.Name)] {
			errs = append(errs, fmt.Errorf("application %q is defined twice", a.Name))
		}
		seen[strings.ToLower(a.Name)] = true
		if a.SMTP == nil {
			a.SMTP = f.SMTP
		}
		if err := a.Prepare(filepath.Dir(name)); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s: invalid provisioning configuration:\n  %w", name, errors.Join(errs...))
	}
	return f, nil
}

// App returns the application named name (case-insensitively).
func (f *File) App(name string) (*App, error) {
	var names []string
	for _, a := range f.Applications {
		if strings.EqualFold(a.Name, name) {
			return a, nil
		}
		names = append(names, a.Name)
	}
	return nil, fmt.Errorf("no application %q in %s (applications: %s)", name, f.Path, strings.Join(names, ", "))
}

// Prepare fills in the defaults, decodes the SCIM block, compiles the
// mappings and checks the assignments. It returns every problem found.
// baseDir resolves the SCIM block's relative paths.
func (a *App) Prepare(baseDir string) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if a.Name == "" {
		bad("an application has no name")
	}
	if strings.ContainsAny(a.Name, `/\`) || strings.HasPrefix(a.Name, ".") {
		bad("application name %q: must not contain / or \\ nor start with a dot", a.Name)
	}
	switch a.Provisioning = strings.ToLower(a.Provisioning); a.Provisioning {
	case "":
		a.Provisioning = "on"
	case "on", "off":
	default:
		bad("provisioning: %q (want on or off)", a.Provisioning)
	}
	switch a.Deprovision = strings.ToLower(a.Deprovision); a.Deprovision {
	case "":
		a.Deprovision = "disable"
	case "disable", "delete":
	default:
		bad("deprovision: %q (want disable or delete)", a.Deprovision)
	}
	if a.Interval.Duration <= 0 {
		a.Interval.Duration = DefaultInterval
	}
	if a.DeleteThreshold == 0 {
		a.DeleteThreshold = DefaultDeleteThreshold
	}
	a.ObjectType = or(a.ObjectType, "user")
	a.MVObjectType = or(a.MVObjectType, "person")
	a.GroupType = or(a.GroupType, "group")
	a.MemberAttribute = or(a.MemberAttribute, "member")
	a.GroupObjectType = or(a.GroupObjectType, "group")
	q := &a.Quarantine
	if q.FailureRatio <= 0 || q.FailureRatio > 1 {
		q.FailureRatio = DefaultQuarantineRatio
	}
	if q.MinAttempts <= 0 {
		q.MinAttempts = DefaultQuarantineMinAttempts
	}
	if q.FirstRetry.Duration <= 0 {
		q.FirstRetry.Duration = 5 * time.Minute
	}
	if q.MaxRetry.Duration <= 0 {
		q.MaxRetry.Duration = 24 * time.Hour
	}

	if err := a.SCIM.Decode(&a.scimCfg); err != nil {
		bad("scim: %w", err)
	} else {
		a.scimCfg.ResolvePaths(baseDir)
		if a.scimCfg.URL == "" {
			bad("scim: url is required")
		}
	}

	// App roles and assignments (R3.1).
	a.roles = map[string]AppRole{}
	for _, r := range a.AppRoles {
		if r.Name == "" {
			bad("appRoles: a role has no name")
			continue
		}
		a.roles[strings.ToLower(r.Name)] = r
	}
	checkRole := func(what, role string) {
		if err := a.checkRole(role); err != nil {
			bad("assignment of %s: %w", what, err)
		}
	}
	for i, u := range a.Assignments.Users {
		what := fmt.Sprintf("user %s", u.describe())
		switch {
		case u.ID == "" && u.Value == "":
			bad("assignments.users[%d]: give value (with attribute, default accountName) or id", i)
		case u.ID != "" && u.Value != "":
			bad("assignments.users[%d]: give value or id, not both", i)
		}
		checkRole(what, u.Role)
	}
	for i, g := range a.Assignments.Groups {
		n := 0
		for _, s := range []string{g.DisplayName, g.SourceAnchor, g.ID} {
			if s != "" {
				n++
			}
		}
		if n != 1 {
			bad("assignments.groups[%d]: give exactly one of displayName, sourceAnchor or id", i)
		}
		checkRole(g.String(), g.Role)
	}

	// Scoping filters: parse every clause once to report mistakes now.
	for key, sf := range map[string]rules.ScopingFilter{"scope": a.Scope, "groupScope": a.GroupScope} {
		for gi := range sf {
			for ci := range sf[gi].Clauses {
				c := &sf[gi].Clauses[ci]
				if _, err := c.Match(emptySubject{}); err != nil && !strings.Contains(err.Error(), "is not an integer") {
					bad("%s group %d clause %d: %w", key, gi+1, ci+1, err)
				}
			}
		}
	}

	// Mappings (R3.4).
	var merrs []error
	a.matchers, merrs = compileMappings("mapping", a.Mappings)
	errs = append(errs, merrs...)
	if len(a.Mappings) == 0 {
		bad("mappings: the application maps no attribute")
	}
	if len(a.GroupMappings) == 0 {
		a.GroupMappings = []*Mapping{{Target: "displayName", Source: "displayName", Matching: true}}
	}
	a.groupMatchers, merrs = compileMappings("group mapping", a.GroupMappings)
	errs = append(errs, merrs...)
	for _, m := range a.GroupMappings {
		if m != nil && strings.EqualFold(m.Target, "members") {
			bad("group mapping of members: idsync manages the members of provisioned groups; remove the mapping")
		}
	}
	if len(a.groupMatchers) == 0 {
		// Groups are matched by displayName when no mapping says otherwise.
		for _, m := range a.GroupMappings {
			if m != nil && strings.EqualFold(m.Target, "displayName") && !m.redacted {
				a.groupMatchers = []*Mapping{m}
			}
		}
	}
	if a.Notify != "" && a.SMTP == nil {
		bad("notificationEmail is set but no smtp server is configured (smtp: {addr, from})")
	}
	if a.SMTP != nil && (a.SMTP.Addr == "" || a.SMTP.From == "") {
		bad("smtp: addr and from are required")
	}
	if len(errs) > 0 {
		return fmt.Errorf("application %q: %w", a.Name, errors.Join(errs...))
	}
	return nil
}

// compileMappings checks and compiles a list of mappings; it returns the
// matching mappings in precedence order. what names them in messages
// ("mapping", "group mapping").
func compileMappings(what string, mappings []*Mapping) (matchers []*Mapping, errs []error) {
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	targets := map[string]bool{}
	for i, m := range mappings {
		if m == nil || m.Target == "" {
			bad("%ss[%d]: target is required", strings.ReplaceAll(what, " m", "M"), i)
			continue
		}
		what := fmt.Sprintf("%s of %s", what, m.Target)
		if targets[strings.ToLower(m.Target)] {
			bad("%s: the target is mapped twice", what)
		}
		targets[strings.ToLower(m.Target)] = true
		n := 0
		for _, s := range []string{m.Source, m.Expression, m.Constant} {
			if s != "" {
				n++
			}
		}
		if n != 1 {
			bad("%s: give exactly one of source, expression or constant", what)
			continue
		}
		switch m.Apply = strings.ToLower(m.Apply); m.Apply {
		case "":
			m.Apply = "always"
		case "always", "create":
		default:
			bad("%s: apply: %q (want always or create)", what, m.Apply)
		}
		if m.Expression != "" {
			c, err := expr.CompileDialect(m.Expression, expr.Provisioning)
			if err != nil {
				bad("%s: %w", what, err)
				continue
			}
			m.compiled, m.redacted = c, expr.IsRedacted(c)
		}
		// A secret attribute (the SCIM password, an MV password) is never
		// shown in reports, Redact or not.
		if secret.NewPolicy().IsSecret(m.Target) || m.Source != "" && secret.NewPolicy().IsSecret(m.Source) {
			m.redacted = true
		}
		if m.Matching {
			if m.redacted {
				bad("%s: a redacted attribute cannot be a matching attribute", what)
			}
			matchers = append(matchers, m)
		}
	}
	sort.SliceStable(matchers, func(i, j int) bool {
		return matchers[i].MatchingPrecedence < matchers[j].MatchingPrecedence
	})
	return matchers, errs
}

// checkRole checks an assignment's role: it must be one of the app's roles
// (when it lists any) and provisionable.
func (a *App) checkRole(role string) error {
	role = or(role, DefaultRole)
	if len(a.roles) == 0 {
		return nil
	}
	r, ok := a.roles[strings.ToLower(role)]
	if !ok {
		names := make([]string, 0, len(a.roles))
		for _, r := range a.roles {
			names = append(names, r.Name)
		}
		slices.Sort(names)
		return fmt.Errorf("role %q is not a role of the application (its roles: %s)", role, strings.Join(names, ", "))
	}
	if !r.CanProvision() {
		return fmt.Errorf("role %q cannot be provisioned (provisionable: false; it is for single sign-on only): assign a provisionable role or remove the assignment", r.Name)
	}
	return nil
}

// SCIMConfig returns the decoded SCIM connector configuration.
func (a *App) SCIMConfig() scim.Config { return a.scimCfg }

// On reports whether provisioning is switched on.
func (a *App) On() bool { return a.Provisioning == "on" }

func (u UserAssignment) describe() string {
	if u.ID != "" {
		return u.ID
	}
	return fmt.Sprintf("%s=%q", or(u.Attribute, "accountName"), u.Value)
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// emptySubject is a scoping subject without attributes.
type emptySubject struct{}

func (emptySubject) Attr(string) model.Values { return model.Values{} }
func (emptySubject) MemberOf(string) bool     { return false }

// positioned turns a YAML error into "file:line: message".
func positioned(file string, err error) error {
	var ye yaml.Error
	if errors.As(err, &ye) {
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			return fmt.Errorf("%s:%d: %s", file, tk.Position.Line, ye.GetMessage())
		}
		return fmt.Errorf("%s: %s", file, ye.GetMessage())
	}
	return fmt.Errorf("%s: %w", file, err)
}
