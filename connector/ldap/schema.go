package ldap

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	ldap "github.com/go-ldap/ldap/v3"

	"github.com/idsync/idsync/model"
)

// dirSchema is the directory's schema as the connector needs it: the type and
// cardinality of each attribute, and the attributes of each object class.
type dirSchema struct {
	attrs   map[string]attrDef  // lower-case name → definition
	classes map[string]classDef // lower-case name → definition
}

type attrDef struct {
	name   string // as the schema spells it
	key    string // the attribute type's identity: its OID, or its lower-case name
	typ    model.Type
	single bool
}

type classDef struct {
	name  string
	sup   []string
	aux   []string
	must  []string
	may   []string
	isAux bool
}

// attrType returns the model type of an attribute: the configured override,
// else the schema's, else string.
func (c *Connector) attrType(sc *dirSchema, name string) model.Type {
	l := strings.ToLower(name)
	if t, ok := c.s.types[l]; ok {
		return t
	}
	if sc != nil {
		if d, ok := sc.attrs[l]; ok {
			return d.typ
		}
	}
	return model.String
}

// loadSchema reads (once) the directory's schema.
func (c *Connector) loadSchema(ctx context.Context) (*dirSchema, error) {
	c.mu.Lock()
	if c.schema != nil {
		defer c.mu.Unlock()
		return c.schema, nil
	}
	c.mu.Unlock()
	r, err := c.rootDSE(ctx)
	if err != nil {
		return nil, err
	}
	var sc *dirSchema
	if r.flavor == FlavorAD && r.schemaNC != "" {
		sc, err = c.loadADSchema(ctx, r.schemaNC)
	} else {
		sc, err = c.loadSubschema(ctx, r.subschema)
	}
	if err != nil {
		return nil, fmt.Errorf("read the schema: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.schema == nil {
		c.schema = sc
	}
	return c.schema, nil
}

// adSyntaxType maps an Active Directory attributeSyntax to a model type.
func adSyntaxType(syntax string) model.Type {
	switch syntax {
	case "2.5.5.1": // DN
		return model.Reference
	case "2.5.5.8":
		return model.Boolean
	case "2.5.5.9", "2.5.5.16": // integer, enumeration, large integer
		return model.Integer
	case "2.5.5.10", "2.5.5.15", "2.5.5.17": // octet string, NT security descriptor, SID
		return model.Binary
	case "2.5.5.11": // generalized / UTC time
		return model.DateTime
	}
	return model.String
}

// ldapSyntaxType maps an RFC 4517 syntax OID to a model type.
func ldapSyntaxType(syntax string) model.Type {
	if i := strings.IndexByte(syntax, '{'); i >= 0 {
		syntax = syntax[:i]
	}
	switch strings.TrimPrefix(syntax, "1.3.6.1.4.1.1466.115.121.1.") {
	case "12": // DN
		return model.Reference
	case "7":
		return model.Boolean
	case "27":
		return model.Integer
	case "24":
		return model.DateTime
	case "40", "5", "28", "8", "9", "10": // octet string, binary, JPEG, certificates
		return model.Binary
	}
	return model.String
}

func (c *Connector) loadADSchema(ctx context.Context, schemaNC string) (*dirSchema, error) {
	sc := &dirSchema{attrs: map[string]attrDef{}, classes: map[string]classDef{}}
	err := c.pool.do(ctx, func(conn *ldap.Conn) error {
		clear(sc.attrs)
		clear(sc.classes)
		res, err := conn.SearchWithPaging(ldap.NewSearchRequest(schemaNC, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false,
			"(|(objectClass=attributeSchema)(objectClass=classSchema))",
			[]string{"objectClass", "lDAPDisplayName", "attributeSyntax", "isSingleValued", "subClassOf", "auxiliaryClass",
				"systemAuxiliaryClass", "mustContain", "systemMustContain", "mayContain", "systemMayContain", "objectClassCategory"}, nil), 1000)
		if err != nil {
			return err
		}
		for _, e := range res.Entries {
			name := e.GetAttributeValue("lDAPDisplayName")
			if name == "" {
				continue
			}
			if slices.ContainsFunc(e.GetAttributeValues("objectClass"), func(s string) bool { return strings.EqualFold(s, "attributeSchema") }) {
				sc.attrs[strings.ToLower(name)] = attrDef{name: name, key: strings.ToLower(name), typ: adSyntaxType(e.GetAttributeValue("attributeSyntax")),
					single: strings.EqualFold(e.GetAttributeValue("isSingleValued"), "TRUE")}
				continue
			}
			cd := classDef{name: name, isAux: e.GetAttributeValue("objectClassCategory") == "3"}
			if s := e.GetAttributeValue("subClassOf"); s != "" && !strings.EqualFold(s, name) {
				cd.sup = []string{s}
			}
			cd.aux = append(e.GetAttributeValues("auxiliaryClass"), e.GetAttributeValues("systemAuxiliaryClass")...)
			cd.must = append(e.GetAttributeValues("mustContain"), e.GetAttributeValues("systemMustContain")...)
			cd.may = append(e.GetAttributeValues("mayContain"), e.GetAttributeValues("systemMayContain")...)
			sc.classes[strings.ToLower(name)] = cd
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(sc.attrs) == 0 {
		return nil, errors.New("the schema partition returned no attributes (do the credentials allow reading it?)")
	}
	return sc, nil
}

func (c *Connector) loadSubschema(ctx context.Context, dn string) (*dirSchema, error) {
	if dn == "" {
		dn = "cn=Subschema"
	}
	var e *ldap.Entry
	err := c.pool.do(ctx, func(conn *ldap.Conn) error {
		res, err := conn.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
			"(objectClass=subschema)", []string{"attributeTypes", "objectClasses"}, nil))
		if err != nil {
			return err
		}
		if len(res.Entries) != 1 {
			return fmt.Errorf("no subschema entry at %s", dn)
		}
		e = res.Entries[0]
		return nil
	})
	if err != nil {
		return nil, err
	}
	return parseSubschema(e.GetAttributeValues("attributeTypes"), e.GetAttributeValues("objectClasses"))
}

// parseSubschema builds a dirSchema from RFC 4512 attribute type and object
// class descriptions. Syntax and cardinality are inherited through SUP.
func parseSubschema(attrTypes, objectClasses []string) (*dirSchema, error) {
	sc := &dirSchema{attrs: map[string]attrDef{}, classes: map[string]classDef{}}
	type rawAttr struct {
		names       []string
		oid         string
		sup, syntax string
		single      bool
	}
	var raws []rawAttr
	byName := map[string]int{}
	for _, d := range attrTypes {
		desc, err := parseDescription(d)
		if err != nil {
			return nil, fmt.Errorf("attribute type %q: %w", d, err)
		}
		ra := rawAttr{names: desc.list("NAME"), oid: desc.oid, sup: desc.first("SUP"), syntax: desc.first("SYNTAX"), single: desc.flag("SINGLE-VALUE")}
		if len(ra.names) == 0 {
			ra.names = []string{desc.oid}
		}
		for _, n := range ra.names {
			byName[strings.ToLower(n)] = len(raws)
		}
		byName[desc.oid] = len(raws)
		raws = append(raws, ra)
	}
	for _, ra := range raws {
		syntax := ra.syntax
		for depth, sup := 0, ra.sup; syntax == "" && sup != "" && depth < 16; depth++ {
			i, ok := byName[strings.ToLower(sup)]
			if !ok {
				break
			}
			syntax, sup = raws[i].syntax, raws[i].sup
		}
		for _, n := range ra.names {
			sc.attrs[strings.ToLower(n)] = attrDef{name: n, key: ra.oid, typ: ldapSyntaxType(syntax), single: ra.single}
		}
	}
	for _, d := range objectClasses {
		desc, err := parseDescription(d)
		if err != nil {
			return nil, fmt.Errorf("object class %q: %w", d, err)
		}
		names := desc.list("NAME")
		if len(names) == 0 {
			continue
		}
		cd := classDef{name: names[0], sup: desc.list("SUP"), must: desc.list("MUST"), may: desc.list("MAY"), isAux: desc.flag("AUXILIARY")}
		for _, n := range names {
			sc.classes[strings.ToLower(n)] = cd
		}
	}
	return sc, nil
}

// description is a parsed RFC 4512 description: its OID and its fields.
type description struct {
	oid    string
	fields map[string][]string
}

func (d description) first(k string) string {
	if v := d.fields[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func (d description) list(k string) []string { return d.fields[k] }

func (d description) flag(k string) bool { _, ok := d.fields[k]; return ok }

// parseDescription parses "( oid KEY value KEY ( v1 $ v2 ) FLAG … )".
func parseDescription(s string) (description, error) {
	toks, err := tokenize(s)
	if err != nil {
		return description{}, err
	}
	if len(toks) < 3 || toks[0] != "(" || toks[len(toks)-1] != ")" {
		return description{}, errors.New("not a parenthesized description")
	}
	d := description{oid: toks[1], fields: map[string][]string{}}
	toks = toks[2 : len(toks)-1]
	for i := 0; i < len(toks); {
		key := toks[i]
		if key == "(" || key == ")" || key == "$" || strings.HasPrefix(key, "'") {
			return description{}, fmt.Errorf("unexpected %q", key)
		}
		i++
		switch {
		case i < len(toks) && toks[i] == "(":
			var vals []string
			i++
			for i < len(toks) && toks[i] != ")" {
				if toks[i] != "$" {
					vals = append(vals, unquote(toks[i]))
				}
				i++
			}
			if i >= len(toks) {
				return description{}, fmt.Errorf("%s: unclosed list", key)
			}
			i++
			d.fields[key] = vals
		case i < len(toks) && !isKeyword(toks[i]):
			d.fields[key] = []string{unquote(toks[i])}
			i++
		default:
			d.fields[key] = nil // a flag such as SINGLE-VALUE
		}
	}
	return d, nil
}

// isKeyword tells a field name (upper-case letters, digits, hyphens, or an
// X- extension) from a value.
func isKeyword(t string) bool {
	if t == "" || t[0] == '\'' {
		return false
	}
	for _, r := range t {
		upper, digit := r >= 'A' && r <= 'Z', r >= '0' && r <= '9'
		if !upper && !digit && r != '-' && r != '_' {
			return false
		}
	}
	return t[0] >= 'A' && t[0] <= 'Z'
}

func unquote(t string) string {
	if len(t) >= 2 && t[0] == '\'' && t[len(t)-1] == '\'' {
		return t[1 : len(t)-1]
	}
	return t
}

func tokenize(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		switch c := s[i]; c {
		case ' ', '\t', '\n', '\r':
			i++
		case '(', ')', '$':
			toks = append(toks, string(c))
			i++
		case '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated quoted string")
			}
			toks = append(toks, s[i:i+j+2])
			i += j + 2
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n\r()$'", rune(s[j])) {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks, nil
}

// classAttrs returns the attributes an object class allows, with those of
// its superclasses and auxiliary classes.
func (sc *dirSchema) classAttrs(class string) []string {
	seen := map[string]bool{}
	var out []string
	var walk func(string, int)
	walk = func(n string, depth int) {
		cd, ok := sc.classes[strings.ToLower(n)]
		if !ok || depth > 32 || seen["class:"+strings.ToLower(n)] {
			return
		}
		seen["class:"+strings.ToLower(n)] = true
		for _, a := range append(slices.Clone(cd.must), cd.may...) {
			if l := strings.ToLower(a); !seen[l] {
				seen[l] = true
				out = append(out, a)
			}
		}
		for _, s := range cd.sup {
			walk(s, depth+1)
		}
		for _, s := range cd.aux {
			walk(s, depth+1)
		}
	}
	walk(class, 0)
	return out
}

// Schema describes the configured object types with the attributes their
// object classes allow, typed from the directory's schema.
func (c *Connector) Schema(ctx context.Context) (*model.Schema, error) {
	sc, err := c.loadSchema(ctx)
	if err != nil {
		return nil, err
	}
	byType := map[string][]string{}
	var order []string
	for _, m := range c.s.ObjectTypes {
		if _, ok := byType[m.Type]; !ok {
			order = append(order, m.Type)
		}
		byType[m.Type] = append(byType[m.Type], m.ObjectClass)
	}
	out := &model.Schema{}
	for _, typ := range order {
		ot := model.ObjectTypeSchema{Name: typ}
		seen := map[string]bool{}
		add := func(name string) {
			l := strings.ToLower(name)
			if seen[l] {
				return
			}
			seen[l] = true
			d, ok := sc.attrs[l]
			if !ok {
				d = attrDef{name: name, typ: model.String}
			}
			if t, ok := c.s.types[l]; ok {
				d.typ = t
			}
			ot.Attributes = append(ot.Attributes, model.AttributeSchema{Name: d.name, Type: d.typ, MultiValued: !d.single})
		}
		add(c.s.Anchor)
		for _, class := range byType[typ] {
			for _, a := range sc.classAttrs(class) {
				add(a)
			}
		}
		slices.SortFunc(ot.Attributes, func(a, b model.AttributeSchema) int { return strings.Compare(a.Name, b.Name) })
		out.ObjectTypes = append(out.ObjectTypes, ot)
	}
	return out, nil
}

// spelling maps each requested attribute's identity to the name the request
// used, so that an attribute asked for by an alias (surname for sn,
// streetAddress for street) comes back under that alias, whatever name the
// server returns it under.
func (sc *dirSchema) spelling(requested []string) map[string]string {
	out := make(map[string]string, len(requested))
	for _, a := range requested {
		if d, ok := sc.attrs[strings.ToLower(a)]; ok && d.key != "" {
			out[d.key] = a
		}
	}
	return out
}
