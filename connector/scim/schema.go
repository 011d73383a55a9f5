package scim

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/idsync/idsync/model"
)

// Schema URNs of RFC 7643 and RFC 7644.
const (
	CoreUser       = "urn:ietf:params:scim:schemas:core:2.0:User"
	CoreGroup      = "urn:ietf:params:scim:schemas:core:2.0:Group"
	EnterpriseUser = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

	msgListResponse = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	msgPatchOp      = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
)

// attrDef is an attribute definition of a SCIM schema (RFC 7643 §7).
type attrDef struct {
	Name            string     `json:"name"`
	Type            string     `json:"type"`
	MultiValued     bool       `json:"multiValued"`
	Mutability      string     `json:"mutability"`
	CanonicalValues []string   `json:"canonicalValues"`
	ReferenceTypes  []string   `json:"referenceTypes"`
	SubAttributes   []*attrDef `json:"subAttributes"`
}

// schemaDef is a SCIM schema (an entry of /Schemas).
type schemaDef struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Attributes []*attrDef `json:"attributes"`
}

func (a *attrDef) sub(name string) *attrDef {
	for _, s := range a.SubAttributes {
		if strings.EqualFold(s.Name, name) {
			return s
		}
	}
	return nil
}

func (s *schemaDef) attr(name string) *attrDef {
	for _, a := range s.Attributes {
		if strings.EqualFold(a.Name, name) {
			return a
		}
	}
	return nil
}

func (a *attrDef) readOnly() bool { return strings.EqualFold(a.Mutability, "readOnly") }

// isResourceRef reports whether a reference attribute points at SCIM
// resources (User, Group …) rather than at external URLs.
func (a *attrDef) isResourceRef() bool {
	if !strings.EqualFold(a.Type, "reference") {
		return false
	}
	for _, t := range a.ReferenceTypes {
		if !strings.EqualFold(t, "external") && !strings.EqualFold(t, "uri") {
			return true
		}
	}
	return false
}

// shape says how a SCIM attribute maps to flat idsync attributes.
type shape uint8

const (
	// shapeSimple: a simple attribute: userName, active.
	shapeSimple shape = iota
	// shapeSub: a sub-attribute of a single-valued complex attribute: name.givenName.
	shapeSub
	// shapeCollapsed: a single-valued complex attribute with a value
	// sub-attribute, named by itself: the enterprise manager.
	shapeCollapsed
	// shapeList: a multi-valued complex attribute whose elements are named by
	// their value: members, groups, roles.
	shapeList
	// shapeKeyed: a multi-valued complex attribute whose elements are told
	// apart by type: emails[type eq "work"].value.
	shapeKeyed
)

// shapeOf classifies a top-level attribute.
func shapeOf(a *attrDef) shape {
	if !strings.EqualFold(a.Type, "complex") {
		return shapeSimple
	}
	value, ref, typ := a.sub("value"), a.sub("$ref"), a.sub("type")
	if !a.MultiValued {
		if value != nil {
			return shapeCollapsed
		}
		return shapeSub
	}
	switch {
	case value != nil && ref != nil:
		return shapeList
	case typ != nil && len(typ.CanonicalValues) > 0:
		return shapeKeyed
	case value != nil:
		return shapeList
	default:
		return shapeKeyed
	}
}

// target is a flat attribute resolved against the schemas of a resource type.
type target struct {
	path  Path // canonical spelling
	name  string
	top   *attrDef
	leaf  *attrDef // the attribute holding the values (top, or a sub-attribute)
	shape shape
	typ   model.Type
	multi bool
	ro    bool
}

// isRef reports whether the target's values are ids of other resources.
func (t *target) isRef() bool { return t.typ == model.Reference }

// scimPath is the attribute path of the target in PATCH operations.
func (t *target) scimPath() string {
	switch t.shape {
	case shapeCollapsed, shapeList:
		p := t.path
		p.Sub = ""
		return p.String()
	}
	return t.path.String()
}

// modelType maps a SCIM attribute type to idsync's.
func modelType(a *attrDef) model.Type {
	switch strings.ToLower(a.Type) {
	case "boolean":
		return model.Boolean
	case "integer":
		return model.Integer
	case "datetime":
		return model.DateTime
	case "binary":
		return model.Binary
	case "reference":
		if a.isResourceRef() {
			return model.Reference
		}
	}
	return model.String
}

// mapper maps the attributes of one resource type.
type mapper struct {
	core *schemaDef
	exts []*schemaDef // extension schemas
}

// schema returns the core schema for URN "" or the extension named by urn.
func (m *mapper) schema(urn string) *schemaDef {
	if urn == "" || strings.EqualFold(urn, m.core.ID) {
		return m.core
	}
	for _, e := range m.exts {
		if strings.EqualFold(e.ID, urn) {
			return e
		}
	}
	return nil
}

// externalID is the common attribute every resource has (RFC 7643 §3.1).
var externalIDDef = &attrDef{Name: "externalId", Type: "string"}

// lookup resolves a flat attribute name.
func (m *mapper) lookup(name string) (*target, error) {
	p, err := ParsePath(name)
	if err != nil {
		return nil, err
	}
	return m.resolve(p)
}

func (m *mapper) resolve(p Path) (*target, error) {
	s := m.schema(p.URN)
	if s == nil {
		return nil, fmt.Errorf("attribute %q: the resource type has no schema extension %s", p.String(), p.URN)
	}
	if !strings.EqualFold(s.ID, m.core.ID) {
		p.URN = s.ID
	} else {
		p.URN = ""
	}
	var top *attrDef
	if p.URN == "" && strings.EqualFold(p.Attr, "externalId") {
		top = externalIDDef
	} else if top = s.attr(p.Attr); top == nil {
		return nil, fmt.Errorf("attribute %q is not in the schema %s", p.String(), s.ID)
	}
	p.Attr = top.Name
	t := &target{top: top, leaf: top, shape: shapeOf(top), ro: top.readOnly()}
	bad := func(format string, args ...any) (*target, error) {
		return nil, fmt.Errorf("attribute %q: "+format, append([]any{p.String()}, args...)...)
	}
	switch t.shape {
	case shapeSimple:
		if p.FilterAttr != "" || p.Sub != "" {
			return bad("%s is a simple attribute: write %s", top.Name, top.Name)
		}
		t.multi = top.MultiValued
	case shapeSub:
		if p.FilterAttr != "" || p.Sub == "" {
			return bad("%s is a complex attribute: name a sub-attribute, e.g. %s.sub", top.Name, top.Name)
		}
		if t.leaf = top.sub(p.Sub); t.leaf == nil {
			return bad("%s has no sub-attribute %s", top.Name, p.Sub)
		}
	case shapeCollapsed, shapeList:
		if p.FilterAttr != "" || p.Sub != "" && !strings.EqualFold(p.Sub, "value") {
			return bad("write %s: its values are the value sub-attribute", top.Name)
		}
		p.Sub = ""
		t.leaf = top.sub("value")
		t.multi = t.shape == shapeList
	case shapeKeyed:
		typ := top.sub("type")
		if p.FilterAttr == "" || !strings.EqualFold(p.FilterAttr, "type") || p.Sub == "" || typ == nil {
			return bad(`%s is multi-valued: name the type and a sub-attribute, e.g. %s[type eq "work"].value`, top.Name, top.Name)
		}
		if t.leaf = top.sub(p.Sub); t.leaf == nil || t.leaf == typ {
			return bad("%s has no sub-attribute %s", top.Name, p.Sub)
		}
		p.FilterAttr = typ.Name
	}
	if t.shape == shapeKeyed || t.shape == shapeSub {
		p.Sub = t.leaf.Name
		t.ro = t.ro || t.leaf.readOnly()
	}
	t.typ = modelType(t.leaf)
	if (t.shape == shapeList || t.shape == shapeCollapsed) && top.sub("$ref") != nil && top.sub("$ref").isResourceRef() {
		t.typ = model.Reference
	}
	t.path = p
	t.name = p.String()
	return t, nil
}

// flatAttributes lists the flat attributes of the resource type, for
// Schema(): keyed attributes once per canonical type value.
func (m *mapper) flatAttributes() []model.AttributeSchema {
	out := []model.AttributeSchema{{Name: "externalId", Type: model.String}}
	add := func(p Path) {
		t, err := m.resolve(p)
		if err != nil {
			return
		}
		out = append(out, model.AttributeSchema{Name: t.name, Type: t.typ, MultiValued: t.multi})
	}
	for _, s := range append([]*schemaDef{m.core}, m.exts...) {
		urn := ""
		if s != m.core {
			urn = s.ID
		}
		for _, a := range s.Attributes {
			p := Path{URN: urn, Attr: a.Name}
			switch shapeOf(a) {
			case shapeSimple, shapeCollapsed, shapeList:
				add(p)
			case shapeSub:
				for _, sub := range a.SubAttributes {
					p.Sub = sub.Name
					add(p)
				}
			case shapeKeyed:
				typ := a.sub("type")
				if typ == nil {
					continue
				}
				for _, v := range typ.CanonicalValues {
					for _, sub := range a.SubAttributes {
						if sub == typ {
							continue
						}
						p.FilterAttr, p.FilterValue, p.Sub = typ.Name, v, sub.Name
						add(p)
					}
				}
			}
		}
	}
	return out
}

// resourceType is one configured object type and where it lives.
type resourceType struct {
	objType  string // idsync object type
	name     string // SCIM resource type name (User, Group)
	endpoint string // "/Users"
	kind     kind
	m        *mapper
}

// kind is the core schema a resource type is built on, which decides how an
// existing resource is found after a 409 (userName or displayName).
type kind uint8

const (
	kindOther kind = iota
	kindUser
	kindGroup
)

func kindOf(coreSchema string) kind {
	switch {
	case strings.EqualFold(coreSchema, CoreUser):
		return kindUser
	case strings.EqualFold(coreSchema, CoreGroup):
		return kindGroup
	}
	return kindOther
}

// uniqueAttr is the attribute a 409 is looked up by.
func (r *resourceType) uniqueAttr() string {
	switch r.kind {
	case kindUser:
		return "userName"
	case kindGroup:
		return "displayName"
	}
	return ""
}

// defaultSchemas are the RFC 7643 schemas (§4, §8.7), used when a server
// does not publish /Schemas.
var defaultSchemas = func() map[string]*schemaDef {
	var list []*schemaDef
	if err := json.Unmarshal([]byte(defaultSchemasJSON), &list); err != nil {
		panic(err)
	}
	m := map[string]*schemaDef{}
	for _, s := range list {
		m[strings.ToLower(s.ID)] = s
	}
	return m
}()

// defaultResourceTypes are used when a server does not publish /ResourceTypes.
var defaultResourceTypes = []resourceTypeDoc{
	{ID: "User", Name: "User", Endpoint: "/Users", Schema: CoreUser, SchemaExtensions: []schemaExtension{{Schema: EnterpriseUser}}},
	{ID: "Group", Name: "Group", Endpoint: "/Groups", Schema: CoreGroup},
}

// sortedKeys returns a map's keys, sorted.
func sortedKeys[V any](m map[string]V) []string {
	k := make([]string, 0, len(m))
	for n := range m {
		k = append(k, n)
	}
	sort.Strings(k)
	return k
}

const defaultSchemasJSON = `[
{"id":"urn:ietf:params:scim:schemas:core:2.0:User","name":"User","attributes":[
{"name":"userName","type":"string"},
{"name":"name","type":"complex","subAttributes":[{"name":"formatted","type":"string"},{"name":"familyName","type":"string"},{"name":"givenName","type":"string"},{"name":"middleName","type":"string"},{"name":"honorificPrefix","type":"string"},{"name":"honorificSuffix","type":"string"}]},
{"name":"displayName","type":"string"},
{"name":"nickName","type":"string"},
{"name":"profileUrl","type":"reference","referenceTypes":["external"]},
{"name":"title","type":"string"},
{"name":"userType","type":"string"},
{"name":"preferredLanguage","type":"string"},
{"name":"locale","type":"string"},
{"name":"timezone","type":"string"},
{"name":"active","type":"boolean"},
{"name":"password","type":"string","mutability":"writeOnly"},
{"name":"emails","type":"complex","multiValued":true,"subAttributes":[{"name":"value","type":"string"},{"name":"display","type":"string"},{"name":"type","type":"string","canonicalValues":["work","home","other"]},{"name":"primary","type":"boolean"}]},
{"name":"phoneNumbers","type":"complex","multiValued":true,"subAttributes":[{"name":"value","type":"string"},{"name":"display","type":"string"},{"name":"type","type":"string","canonicalValues":["work","home","mobile","fax","pager","other"]},{"name":"primary","type":"boolean"}]},
{"name":"ims","type":"complex","multiValued":true,"subAttributes":[{"name":"value","type":"string"},{"name":"display","type":"string"},{"name":"type","type":"string","canonicalValues":["aim","gtalk","icq","xmpp","msn","skype","qq","yahoo"]},{"name":"primary","type":"boolean"}]},
{"name":"photos","type":"complex","multiValued":true,"subAttributes":[{"name":"value","type":"reference","referenceTypes":["external"]},{"name":"display","type":"string"},{"name":"type","type":"string","canonicalValues":["photo","thumbnail"]},{"name":"primary","type":"boolean"}]},
{"name":"addresses","type":"complex","multiValued":true,"subAttributes":[{"name":"formatted","type":"string"},{"name":"streetAddress","type":"string"},{"name":"locality","type":"string"},{"name":"region","type":"string"},{"name":"postalCode","type":"string"},{"name":"country","type":"string"},{"name":"type","type":"string","canonicalValues":["work","home","other"]},{"name":"primary","type":"boolean"}]},
{"name":"groups","type":"complex","multiValued":true,"mutability":"readOnly","subAttributes":[{"name":"value","type":"string","mutability":"readOnly"},{"name":"$ref","type":"reference","mutability":"readOnly","referenceTypes":["User","Group"]},{"name":"display","type":"string","mutability":"readOnly"},{"name":"type","type":"string","mutability":"readOnly","canonicalValues":["direct","indirect"]}]},
{"name":"entitlements","type":"complex","multiValued":true,"subAttributes":[{"name":"value","type":"string"},{"name":"display","type":"string"},{"name":"type","type":"string"},{"name":"primary","type":"boolean"}]},
{"name":"roles","type":"complex","multiValued":true,"subAttributes":[{"name":"value","type":"string"},{"name":"display","type":"string"},{"name":"type","type":"string"},{"name":"primary","type":"boolean"}]},
{"name":"x509Certificates","type":"complex","multiValued":true,"subAttributes":[{"name":"value","type":"binary"},{"name":"display","type":"string"},{"name":"type","type":"string"},{"name":"primary","type":"boolean"}]}
]},
{"id":"urn:ietf:params:scim:schemas:core:2.0:Group","name":"Group","attributes":[
{"name":"displayName","type":"string"},
{"name":"members","type":"complex","multiValued":true,"subAttributes":[{"name":"value","type":"string","mutability":"immutable"},{"name":"display","type":"string","mutability":"immutable"},{"name":"$ref","type":"reference","mutability":"immutable","referenceTypes":["User","Group"]},{"name":"type","type":"string","mutability":"immutable","canonicalValues":["User","Group"]}]}
]},
{"id":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User","name":"EnterpriseUser","attributes":[
{"name":"employeeNumber","type":"string"},
{"name":"costCenter","type":"string"},
{"name":"organization","type":"string"},
{"name":"division","type":"string"},
{"name":"department","type":"string"},
{"name":"manager","type":"complex","subAttributes":[{"name":"value","type":"string"},{"name":"$ref","type":"reference","referenceTypes":["User"]},{"name":"displayName","type":"string","mutability":"readOnly"}]}
]}
]`
