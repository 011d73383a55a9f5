// Package view holds the shapes in which idsync shows its objects to people
// and scripts: the metaverse object view (every attribute with its lineage,
// then the joined connector-space objects, as Azure AD Connect's metaverse
// object properties show them), the connector-space object, a run with its
// statistics, a sync rule. The CLI prints them as tables, JSON or YAML
// (`-o table|json|yaml`), and the REST API returns the same JSON. These
// shapes are documented (docs/cli.md) and kept stable: a field is only ever
// added; the store's own encoding may change freely beneath them.
package view

import (
	"slices"
	"sort"
	"time"

	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/rules"
	"github.com/idsync/idsync/store"
)

// Attribute is one attribute of an object. For a metaverse attribute,
// Connector, Rule and Precedence say which inbound rule, from which
// connector, contributed it (its lineage).
type Attribute struct {
	Name       string   `json:"name"`
	Type       string   `json:"type"`
	Values     []string `json:"values"`
	Connector  string   `json:"connector,omitempty"`
	Rule       string   `json:"rule,omitempty"`
	Precedence *int     `json:"precedence,omitempty"`
}

// Link is a connector-space object joined to a metaverse object.
type Link struct {
	Connector  string `json:"connector"`
	ObjectType string `json:"objectType"`
	Anchor     string `json:"anchor"`
	DN         string `json:"dn,omitempty"`
	// LinkRule is the rule that joined or provisioned it.
	LinkRule string `json:"linkRule,omitempty"`
	// State: see CSObject.State.
	State string `json:"state"`
}

// MVObject is a metaverse object with its lineage and its links.
type MVObject struct {
	ID         string      `json:"id"`
	Type       string      `json:"type"`
	Modified   time.Time   `json:"modified"`
	Attributes []Attribute `json:"attributes"`
	Connectors []Link      `json:"connectors"`
}

// Connector-space object states.
const (
	StateJoined       = "joined"       // linked to a metaverse object
	StateProvisioned  = "provisioned"  // created in the target by idsync, add confirmed
	StatePlaceholder  = "placeholder"  // to be created in the target: its add is pending
	StateDisconnector = "disconnector" // in no metaverse object
	StateDeleted      = "deleted"      // seen deleted by an import; the next sync removes it
)

// CSObject is a connector-space object: the values last imported (or
// exported and not yet confirmed), its link and its pending export.
type CSObject struct {
	ID          string      `json:"id"`
	Connector   string      `json:"connector"`
	Partition   string      `json:"partition,omitempty"`
	ObjectType  string      `json:"objectType"`
	Anchor      string      `json:"anchor"`
	DN          string      `json:"dn,omitempty"`
	State       string      `json:"state"`
	MVID        string      `json:"mvid,omitempty"`
	LinkRule    string      `json:"linkRule,omitempty"`
	SyncPending bool        `json:"syncPending"`
	Modified    time.Time   `json:"modified"`
	Attributes  []Attribute `json:"attributes"`
	// Unconfirmed lists the attributes exported but not yet confirmed by
	// an import of the target.
	Unconfirmed   []string       `json:"unconfirmed,omitempty"`
	PendingExport *PendingExport `json:"pendingExport,omitempty"`
}

// PendingExport is a change waiting to be written to a connector.
type PendingExport struct {
	Operation string    `json:"operation"`
	State     string    `json:"state"`
	NewDN     string    `json:"newDN,omitempty"`
	Rule      string    `json:"rule,omitempty"`
	Attempts  int       `json:"attempts"`
	Error     string    `json:"error,omitempty"`
	Created   time.Time `json:"created"`
	Changes   []Change  `json:"changes"`
}

// Change is one attribute change of a pending export.
type Change struct {
	Attribute string   `json:"attribute"`
	Mode      string   `json:"mode"`
	Type      string   `json:"type"`
	Values    []string `json:"values"`
}

// attributes lists attrs sorted by name (case-insensitive).
func attributes(attrs model.Attrs) []Attribute {
	out := make([]Attribute, 0, len(attrs))
	for name, v := range attrs {
		vals := v.Values
		if vals == nil {
			vals = []string{}
		}
		out = append(out, Attribute{Name: name, Type: v.Type.String(), Values: vals})
	}
	sort.Slice(out, func(i, j int) bool { return lessFold(out[i].Name, out[j].Name) })
	return out
}

func lessFold(a, b string) bool {
	la, lb := lower(a), lower(b)
	if la != lb {
		return la < lb
	}
	return a < b
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// State returns the state of a connector-space object.
func State(c *store.CSObject) string {
	switch {
	case c.Deleted:
		return StateDeleted
	case c.Placeholder:
		return StatePlaceholder
	case c.MVID == "":
		return StateDisconnector
	case c.Provisioned:
		return StateProvisioned
	default:
		return StateJoined
	}
}

// FromMV builds the view of metaverse object m joined to cs.
func FromMV(m *store.MVObject, cs []*store.CSObject) MVObject {
	v := MVObject{ID: m.ID, Type: m.Type, Modified: m.Modified, Attributes: attributes(m.Attrs), Connectors: []Link{}}
	for i := range v.Attributes {
		a := &v.Attributes[i]
		if c, ok := m.Lineage.Get(a.Name); ok {
			a.Connector, a.Rule = c.Connector, c.Rule
			p := c.Precedence
			a.Precedence = &p
		}
	}
	cs = slices.Clone(cs)
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].Connector != cs[j].Connector {
			return cs[i].Connector < cs[j].Connector
		}
		return cs[i].Object.Anchor < cs[j].Object.Anchor
	})
	for _, c := range cs {
		v.Connectors = append(v.Connectors, Link{Connector: c.Connector, ObjectType: c.Object.Type, Anchor: c.Object.Anchor,
			DN: c.Object.DN, LinkRule: c.LinkRule, State: State(c)})
	}
	return v
}

// FromCS builds the view of connector-space object c.
func FromCS(c *store.CSObject) CSObject {
	v := CSObject{ID: c.ID, Connector: c.Connector, Partition: c.Partition, ObjectType: c.Object.Type, Anchor: c.Object.Anchor,
		DN: c.Object.DN, State: State(c), MVID: c.MVID, LinkRule: c.LinkRule, SyncPending: c.SyncPending, Modified: c.Modified,
		Attributes: attributes(c.Object.Attrs), Unconfirmed: c.Unconfirmed}
	if p := c.Pending; p != nil {
		pe := &PendingExport{Operation: string(p.Op), State: string(p.State), NewDN: p.NewDN, Rule: p.Rule, Attempts: p.Attempts,
			Error: p.Error, Created: p.Created, Changes: []Change{}}
		for _, ch := range p.Changes {
			vals := ch.Values
			if vals == nil {
				vals = []string{}
			}
			pe.Changes = append(pe.Changes, Change{Attribute: ch.Name, Mode: string(ch.Mode), Type: ch.Type.String(), Values: vals})
		}
		v.PendingExport = pe
	}
	return v
}

// Rule is a sync rule as listed.
type Rule struct {
	Name         string `json:"name"`
	Direction    string `json:"direction"`
	Precedence   int    `json:"precedence"`
	Connector    string `json:"connector"`
	CSObjectType string `json:"csObjectType"`
	MVObjectType string `json:"mvObjectType"`
	LinkType     string `json:"linkType"`
	Enabled      bool   `json:"enabled"`
	OutOfBox     bool   `json:"outOfBox"`
	Source       string `json:"source,omitempty"`
}

// FromRule builds the listed view of r.
func FromRule(r *rules.Rule) Rule {
	return Rule{Name: r.Name, Direction: string(r.Direction), Precedence: r.Precedence, Connector: r.Connector,
		CSObjectType: r.CSObjectType, MVObjectType: r.MVObjectType, LinkType: string(r.LinkType),
		Enabled: !r.Disabled, OutOfBox: r.Immutable, Source: r.Source}
}
