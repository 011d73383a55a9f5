package rules

import (
	"github.com/idsync/idsync/model"
)

// Direction of a sync rule.
type Direction string

// Directions.
const (
	Inbound  Direction = "inbound"
	Outbound Direction = "outbound"
)

// LinkType of a sync rule.
type LinkType string

// Link types. Join links to an existing object only; Provision also creates
// one when no join matches (inbound: projects a new MV object; outbound:
// creates a new object in the target connector space → a pending add).
const (
	Join      LinkType = "Join"
	Provision LinkType = "Provision"
)

// Operator is a scoping-filter operator (R2.10).
type Operator string

// Scoping-filter operators.
const (
	Equal              Operator = "EQUAL"
	NotEqual           Operator = "NOTEQUAL"
	StartsWith         Operator = "STARTSWITH"
	NotStartsWith      Operator = "NOTSTARTSWITH"
	EndsWith           Operator = "ENDSWITH"
	NotEndsWith        Operator = "NOTENDSWITH"
	Contains           Operator = "CONTAINS"
	NotContains        Operator = "NOTCONTAINS"
	IsNull             Operator = "ISNULL"
	IsNotNull          Operator = "ISNOTNULL"
	IsIn               Operator = "ISIN"
	IsNotIn            Operator = "ISNOTIN"
	IsMemberOf         Operator = "ISMEMBEROF"
	IsNotMemberOf      Operator = "ISNOTMEMBEROF"
	IsBitSet           Operator = "ISBITSET"
	IsNotBitSet        Operator = "ISNOTBITSET"
	LessThan           Operator = "LESSTHAN"
	LessThanOrEqual    Operator = "LESSTHAN_OR_EQUAL"
	GreaterThan        Operator = "GREATERTHAN"
	GreaterThanOrEqual Operator = "GREATERTHAN_OR_EQUAL"
)

// Clause is one condition of a scoping filter group.
type Clause struct {
	Attribute string   `yaml:"attribute" json:"attribute"`
	Operator  Operator `yaml:"operator" json:"operator"`
	// Value is the operand; for ISIN / ISNOTIN a list separated by ';'
	// (or given as a YAML list in Values). Unused for ISNULL / ISNOTNULL.
	Value  string   `yaml:"value,omitempty" json:"value,omitempty"`
	Values []string `yaml:"values,omitempty" json:"values,omitempty"`

	// prep caches the parsed operand (normalized operator, integer mask,
	// ISIN list …); set by Compile and by the loader, see scope.go.
	prep *clausePrep
}

// ScopeGroup is a set of clauses combined with AND.
type ScopeGroup struct {
	Clauses []Clause `yaml:"clauses" json:"clauses"`
}

// ScopingFilter is a list of groups combined with OR. An empty filter matches
// every object.
type ScopingFilter []ScopeGroup

// JoinCondition matches a source attribute to a target attribute.
// Inbound: CS attribute = MV attribute. Outbound: MV attribute = CS attribute.
type JoinCondition struct {
	Source        string `yaml:"source" json:"source"`
	Target        string `yaml:"target" json:"target"`
	CaseSensitive bool   `yaml:"caseSensitive,omitempty" json:"caseSensitive,omitempty"`
	// FromFlow (outbound rules): the source value is the value the rule's
	// own flow into Target computes for the MV object (Source must be empty),
	// so that a target attribute computed by an expression — userName =
	// Join("@", [accountName], "example.com") — can match existing objects.
	FromFlow bool `yaml:"fromFlow,omitempty" json:"fromFlow,omitempty"`
}

// JoinGroup is a set of conditions combined with AND. Join groups are tried in
// order; the first group that matches exactly one object wins; a group that
// matches more than one object is an ambiguity error on the object.
type JoinGroup struct {
	Conditions []JoinCondition `yaml:"conditions" json:"conditions"`
}

// FlowType is the kind of an attribute flow.
type FlowType string

// Flow types.
const (
	Direct     FlowType = "Direct"
	Constant   FlowType = "Constant"
	Expression FlowType = "Expression"
)

// MergeType says how a multi-valued contribution combines with others.
type MergeType string

// Merge types: Update replaces (the winning contributor's values are the
// attribute); Merge unions the values of every contributor of this merge type.
const (
	MergeUpdate MergeType = "Update"
	MergeMerge  MergeType = "Merge"
)

// Flow is one attribute flow into Target.
type Flow struct {
	Type FlowType `yaml:"type" json:"type"`
	// Source attribute of a Direct flow.
	Source string `yaml:"source,omitempty" json:"source,omitempty"`
	// Value of a Constant flow.
	Value string `yaml:"value,omitempty" json:"value,omitempty"`
	// Expression of an Expression flow.
	Expression string `yaml:"expression,omitempty" json:"expression,omitempty"`
	// Target attribute.
	Target string `yaml:"target" json:"target"`
	// TargetType is the type of a Constant or Expression result ("" = string).
	TargetType string    `yaml:"targetType,omitempty" json:"targetType,omitempty"`
	Merge      MergeType `yaml:"merge,omitempty" json:"merge,omitempty"`
	// ApplyOnce flows only when the target object is created (outbound adds).
	ApplyOnce bool `yaml:"applyOnce,omitempty" json:"applyOnce,omitempty"`
	// Dialect of an Expression flow: "sync" (the default, the sync-rule
	// functions) or "provisioning" (the application-provisioning
	// attribute-mapping functions, which application rules use).
	Dialect string `yaml:"dialect,omitempty" json:"dialect,omitempty"`

	compiled Compiled
}

// Compiled returns the compiled expression of an Expression flow (nil before
// Compile or for other flow types).
func (f *Flow) Compiled() Compiled { return f.compiled }

// DeprovisionAction says what an outbound rule does with a target object whose
// MV object left its scope or was deleted.
type DeprovisionAction string

// Deprovision actions.
const (
	// DeprovisionDelete deletes the object in the target (the default).
	DeprovisionDelete DeprovisionAction = "delete"
	// DeprovisionDisable sets DisableAttribute to DisableValue instead.
	DeprovisionDisable DeprovisionAction = "disable"
	// DeprovisionKeep disconnects the object and leaves it in the target.
	DeprovisionKeep DeprovisionAction = "keep"
)

// Rule is one sync rule.
type Rule struct {
	Name         string        `yaml:"name" json:"name"`
	Description  string        `yaml:"description,omitempty" json:"description,omitempty"`
	Connector    string        `yaml:"connector" json:"connector"`
	Direction    Direction     `yaml:"direction" json:"direction"`
	CSObjectType string        `yaml:"csObjectType" json:"csObjectType"`
	MVObjectType string        `yaml:"mvObjectType" json:"mvObjectType"`
	LinkType     LinkType      `yaml:"linkType" json:"linkType"`
	Precedence   int           `yaml:"precedence" json:"precedence"`
	Disabled     bool          `yaml:"disabled,omitempty" json:"disabled,omitempty"`
	Immutable    bool          `yaml:"immutable,omitempty" json:"immutable,omitempty"`
	Scope        ScopingFilter `yaml:"scope,omitempty" json:"scope,omitempty"`
	Join         []JoinGroup   `yaml:"join,omitempty" json:"join,omitempty"`
	Flows        []Flow        `yaml:"flows,omitempty" json:"flows,omitempty"`
	// DN is an expression for the DN of objects an outbound Provision rule
	// creates, e.g. `"CN=" & [displayName] & ",OU=Users,DC=contoso,DC=test"`.
	// Without the expression language, a template with {attr} placeholders:
	// "cn={cn},ou=people,dc=example,dc=org".
	DN string `yaml:"dn,omitempty" json:"dn,omitempty"`
	// Deprovision action of an outbound rule.
	Deprovision      DeprovisionAction `yaml:"deprovision,omitempty" json:"deprovision,omitempty"`
	DisableAttribute string            `yaml:"disableAttribute,omitempty" json:"disableAttribute,omitempty"`
	DisableValue     string            `yaml:"disableValue,omitempty" json:"disableValue,omitempty"`
	// Assignments, when set (outbound rules only), restrict the rule to the
	// MV objects at least one assignment names, on top of Scope.
	Assignments []Assignment `yaml:"assignments,omitempty" json:"assignments,omitempty"`
	// RolesAttribute is the attribute under which the rule's scope and flows
	// read the roles of the assignments that name the object (sorted, unique,
	// case-insensitively deduplicated); default "appRoleAssignments".
	RolesAttribute string `yaml:"rolesAttribute,omitempty" json:"rolesAttribute,omitempty"`

	// Source is where the rule was defined ("file.yaml:12").
	Source string `yaml:"-" json:"source,omitempty"`
}

// Assignment assigns metaverse objects to an outbound rule, with a role
// (Entra-style application assignments). Exactly one of ID, Value (with
// Attribute) or Group is set.
type Assignment struct {
	// ID: the MV object with this ID.
	ID string `yaml:"id,omitempty" json:"id,omitempty"`
	// Attribute and Value: the MV objects whose Attribute (default accountName)
	// has Value, compared case-insensitively.
	Attribute string `yaml:"attribute,omitempty" json:"attribute,omitempty"`
	Value     string `yaml:"value,omitempty" json:"value,omitempty"`
	// Group: an MV object of type group named by its MV ID, else its
	// displayName, else its sourceAnchor (case-insensitively; every group
	// that matches).
	Group string `yaml:"group,omitempty" json:"group,omitempty"`
	// Members (with Group): "direct" (the default): the group's direct
	// members; "nested": members through nested groups too (cycles cut);
	// "none": no member.
	Members string `yaml:"members,omitempty" json:"members,omitempty"`
	// Self (with Group): the group itself is assigned (for rules whose MV
	// type is group). With Members "nested", Self also assigns the groups
	// nested in it (they are nested members).
	Self bool `yaml:"self,omitempty" json:"self,omitempty"`
	// Role given to the objects assigned (any string; may be empty = no role value).
	Role string `yaml:"role,omitempty" json:"role,omitempty"`
}

// Values of Assignment.Members, and the defaults of Assignment.Attribute and
// Rule.RolesAttribute.
const (
	MembersDirect = "direct"
	MembersNested = "nested"
	MembersNone   = "none"

	DefaultAssignmentAttribute = "accountName"
	DefaultRolesAttribute      = "appRoleAssignments"
)

// ValueAttribute returns the attribute a Value assignment compares
// (Attribute, default accountName).
func (a *Assignment) ValueAttribute() string {
	if a.Attribute == "" {
		return DefaultAssignmentAttribute
	}
	return a.Attribute
}

// RolesAttr returns the attribute under which the rule's scope and flows read
// the roles of its assignments (RolesAttribute, default appRoleAssignments).
func (r *Rule) RolesAttr() string {
	if r.RolesAttribute == "" {
		return DefaultRolesAttribute
	}
	return r.RolesAttribute
}

// Subject is what a scoping filter is evaluated against.
type Subject interface {
	// Attr returns the values of an attribute (no values = absent).
	Attr(name string) model.Values
	// MemberOf reports whether the object is a member (direct or nested) of
	// the group with the given DN or anchor in the same space.
	MemberOf(group string) bool
}
