package engine

import (
	"context"
	"fmt"
	"iter"
	"maps"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/store"
)

// Value checks (issue 16). Every object an import emits, and every export
// before it is sent, is checked against the connector's schema and limits:
//
//   - text values (every type but binary) must be valid UTF-8 without
//     control characters other than tab, line feed and carriage return (a
//     NUL or an escape character is not text a directory means to hold);
//   - the object's DN, and the values of reference attributes of a
//     connector that names objects by DN (the object has a DN), must parse
//     (model.ValidateDN);
//   - a value (and the DN) may not exceed Limits.MaxStringBytes (text) or
//     Limits.MaxBinaryBytes (binary);
//   - an attribute may not hold more than Limits.MaxValues values, or
//     Limits.MaxReferences for references (group members);
//   - an attribute the connector's schema (or Limits.SingleValued) says is
//     single-valued may not hold more than one.
//
// Where the connector has no schema, or no schema for the attribute, the
// checks that do not depend on it still apply. An imported object that
// fails is an error on that object in the run history, naming the attribute
// and the reason; it is not stored, so it keeps its last good state in the
// connector space, and it counts as seen, so a full import does not take it
// for deleted. An export that fails is an error on that object, recorded
// like one the target refused, and is not sent.

// Default limits (config.Default* hold the same figures).
const (
	DefaultMaxStringBytes = 1 << 20
	DefaultMaxBinaryBytes = 4 << 20
	DefaultMaxValues      = 10_000
	DefaultMaxReferences  = 1_000_000
)

// Limits bound the values of a connector's objects. A zero field takes the
// default; a negative one is no limit.
type Limits struct {
	MaxStringBytes int
	MaxBinaryBytes int
	MaxValues      int
	MaxReferences  int
	// SingleValued names attributes that take at most one value, besides
	// those the connector's schema declares so (case-insensitive).
	SingleValued []string
}

func (l Limits) resolved() Limits {
	pick := func(v, def int) int {
		switch {
		case v == 0:
			return def
		case v < 0:
			return 0
		}
		return v
	}
	return Limits{MaxStringBytes: pick(l.MaxStringBytes, DefaultMaxStringBytes), MaxBinaryBytes: pick(l.MaxBinaryBytes, DefaultMaxBinaryBytes),
		MaxValues: pick(l.MaxValues, DefaultMaxValues), MaxReferences: pick(l.MaxReferences, DefaultMaxReferences)}
}

// valueCheck checks objects of one connector during one run.
type valueCheck struct {
	lim    Limits // resolved: 0 = no limit
	single map[string]bool
	// schema: object type → lower-case attribute name → attribute; nil
	// when the connector has none (or only one inferred from its data).
	schema map[string]map[string]*model.AttributeSchema
	// dups: report an object whose anchor an object before it in this
	// full import had (the importer's anchorChecked).
	dups bool
}

// values returns the run's value check of connector c, reading the
// connector's schema the first time.
func (rr *runRec) values(ctx context.Context, c *Connector) *valueCheck {
	if rr.vals != nil {
		return rr.vals
	}
	vc := &valueCheck{lim: c.Limits.resolved(), single: map[string]bool{}}
	for _, a := range c.Limits.SingleValued {
		vc.single[strings.ToLower(a)] = true
	}
	vc.dups = rr.r.Profile == string(FullImport)
	rr.vals = vc
	sd, ok := c.Conn.(connector.SchemaDescriber)
	if inf, isInf := c.Conn.(connector.SchemaInferrer); !ok || isInf && inf.SchemaInferred() {
		return vc
	}
	s, err := sd.Schema(ctx)
	if err != nil {
		rr.e.log().Warn("read the connector's schema to check values; checking them without it", "connector", c.Name, "err", err)
		return vc
	}
	if s == nil || s.Inferred {
		return vc
	}
	vc.schema = map[string]map[string]*model.AttributeSchema{}
	for i := range s.ObjectTypes {
		ot := &s.ObjectTypes[i]
		m := make(map[string]*model.AttributeSchema, len(ot.Attributes))
		for j := range ot.Attributes {
			m[strings.ToLower(ot.Attributes[j].Name)] = &ot.Attributes[j]
		}
		vc.schema[ot.Name] = m
	}
	return vc
}

// refuse checks an imported object. When it fails, the failure is an error
// on the object, the object counts as seen (not deleted by a full import)
// and refuse returns true: the object is not stored.
func (im *importer) refuse(ctx context.Context, o *model.Object) bool {
	vc := im.rr.values(ctx, im.c)
	var problems []string
	dup := vc.dups && o.Anchor != "" && im.is(o.Anchor, anchorChecked)
	switch {
	case dup:
		// The first object's DN is the stored one's (or the one about
		// to be stored), unless the first was refused too.
		first := ""
		if cur := im.lookup(ctx, o.Anchor); cur != nil && !im.is(o.Anchor, anchorRefused) && cur.Object.DN != "" {
			first = " (" + printable(cur.Object.DN) + ")"
		}
		problems = append(problems, fmt.Sprintf("an object imported before it in this import%s has the same anchor %s: an anchor identifies one object, so only the first is imported",
			first, printable(o.Anchor)))
	default:
		if vc.dups && o.Anchor != "" {
			im.mark(o.Anchor, anchorChecked)
		}
		problems = vc.check(o.Type, o.DN, true, maps.All(o.Attrs))
	}
	if len(problems) == 0 {
		return false
	}
	csid := ""
	if o.Anchor != "" {
		bits := anchorSeen // refused is not deleted
		if !dup {
			bits |= anchorRefused // the first with its anchor, and not stored
		}
		im.mark(o.Anchor, bits)
		if cur := im.lookup(ctx, o.Anchor); cur != nil {
			csid = cur.ID
		}
	}
	name := o.DN
	if name == "" || !utf8.ValidString(name) {
		name = o.Anchor
	}
	im.rr.objectError(plain(name), csid, fmt.Errorf("import: the object is not imported and keeps its last imported state: %s", strings.Join(problems, "; ")))
	return true
}

// refuseExport checks the pending export of t before it is sent. When it
// fails, the export is recorded as failed on this object (as one the target
// refused: state error, the reason kept) in journal, without being sent,
// and refuseExport returns true. Deletes are never refused.
func (e *Engine) refuseExport(ctx context.Context, rr *runRec, journal *store.Batch, t *store.CSObject) bool {
	p := t.Pending
	c := e.Connectors[rr.r.Connector]
	if c == nil || p.Op == connector.OpDelete {
		return false
	}
	// What an op writes: its replaced and added values (removing values
	// is always allowed).
	vals := func(yield func(string, model.Values) bool) {
		for _, ch := range p.Changes {
			if ch.Mode != connector.DelVals && len(ch.Values) > 0 && !yield(ch.Name, model.Values{Type: ch.Type, Values: ch.Values}) {
				return
			}
		}
	}
	// The DN idsync writes is checked (an add's, a rename's), not the
	// object's current DN in the target.
	dn, writesDN := t.Object.DN, p.Op == connector.OpAdd
	if p.NewDN != "" {
		dn, writesDN = p.NewDN, true
	}
	problems := rr.values(ctx, c).check(t.Object.Type, dn, writesDN, vals)
	if len(problems) == 0 {
		return false
	}
	err := fmt.Errorf("%s: not sent, the values break %s's limits: %s", p.Op, c.Name, strings.Join(problems, "; "))
	p.State = store.ExportError
	p.Error = err.Error()
	journal.PutCSState = append(journal.PutCSState, t) // only its pending export changed
	rr.objectError(objName(t), t.ID, err)
	return true
}

// maxProblems is how many problems of one object an error lists.
const maxProblems = 5

// check returns the problems of an object's DN (when checkDN) and values,
// sorted, at most maxProblems (and a count of the others).
func (vc *valueCheck) check(objType, dn string, checkDN bool, attrs iter.Seq2[string, model.Values]) []string {
	var problems []string
	if dn != "" && checkDN {
		if vc.lim.MaxStringBytes > 0 && len(dn) > vc.lim.MaxStringBytes {
			problems = append(problems, fmt.Sprintf("the DN is %d bytes, more than the %d a text value may have (limits.maxStringBytes)", len(dn), vc.lim.MaxStringBytes))
		} else if err := model.ValidateDN(dn); err != nil {
			problems = append(problems, fmt.Sprintf("the DN %s does not parse: %v", printable(dn), err))
		}
	}
	var types map[string]*model.AttributeSchema
	if vc.schema != nil {
		types = vc.schema[objType]
	}
	for name, v := range attrs {
		var as *model.AttributeSchema
		if types != nil {
			as = types[strings.ToLower(name)]
		}
		if p := vc.checkAttr(as, dn != "", name, v); p != "" {
			problems = append(problems, p)
		}
	}
	if len(problems) > 1 {
		sort.Strings(problems)
	}
	if len(problems) > maxProblems {
		problems = append(problems[:maxProblems], fmt.Sprintf("and %d more", len(problems)-maxProblems))
	}
	return problems
}

// checkAttr returns the first problem of one attribute, or "". byDN says
// whether the connector names objects by DN (its references are DNs).
func (vc *valueCheck) checkAttr(as *model.AttributeSchema, byDN bool, name string, v model.Values) string {
	n := len(v.Values)
	if n > 1 {
		switch {
		case as != nil && !as.MultiValued:
			return fmt.Sprintf("%s: %d values, but the connector's schema says it is single-valued", attrLabel(name), n)
		case len(vc.single) > 0 && vc.single[strings.ToLower(name)]:
			return fmt.Sprintf("%s: %d values, but it is single-valued (limits.singleValued)", attrLabel(name), n)
		}
	}
	if v.Type == model.Reference {
		if vc.lim.MaxReferences > 0 && n > vc.lim.MaxReferences {
			return fmt.Sprintf("%s: %d values, more than the %d a reference attribute may hold (limits.maxReferences)", attrLabel(name), n, vc.lim.MaxReferences)
		}
	} else if vc.lim.MaxValues > 0 && n > vc.lim.MaxValues {
		return fmt.Sprintf("%s: %d values, more than the %d an attribute may hold (limits.maxValues; references: limits.maxReferences)", attrLabel(name), n, vc.lim.MaxValues)
	}
	for i, s := range v.Values {
		if v.Type == model.Binary {
			if vc.lim.MaxBinaryBytes > 0 && len(s) > vc.lim.MaxBinaryBytes {
				return fmt.Sprintf("%s: value %d is %d bytes, more than the %d a binary value may have (limits.maxBinaryBytes)", attrLabel(name), i+1, len(s), vc.lim.MaxBinaryBytes)
			}
			continue
		}
		if vc.lim.MaxStringBytes > 0 && len(s) > vc.lim.MaxStringBytes {
			return fmt.Sprintf("%s: value %d is %d bytes, more than the %d a text value may have (limits.maxStringBytes)", attrLabel(name), i+1, len(s), vc.lim.MaxStringBytes)
		}
		if err := checkText(s); err != nil {
			return fmt.Sprintf("%s: value %d %v", attrLabel(name), i+1, err)
		}
		if v.Type == model.Reference && byDN {
			if err := model.ValidateDN(s); err != nil {
				return fmt.Sprintf("%s: value %d, %s, is not a DN that parses: %v", attrLabel(name), i+1, printable(s), err)
			}
		}
	}
	return ""
}

// attrLabel names an attribute in a problem.
func attrLabel(name string) string { return "attribute " + printable(name) }

// checkText checks that s is UTF-8 without control characters other than
// tab, line feed and carriage return.
func checkText(s string) error {
	i := 0
	for i < len(s) && s[i] >= 0x20 && s[i] < 0x7f {
		i++ // printable ASCII, the common case
	}
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7f {
				return fmt.Errorf("holds the control character %U at byte %d", rune(c), i)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return fmt.Errorf("is not valid UTF-8 (at byte %d; binary data in a text attribute? declare the attribute binary)", i)
		}
		i += size
	}
	return nil
}

// plain returns s for an error's object name: as it is when it is text
// of at most 1,024 bytes, else quoted (and shortened) by printable.
func plain(s string) string {
	if len(s) <= 1024 && checkText(s) == nil && !strings.ContainsAny(s, "\t\n\r") {
		return s
	}
	return printable(s)
}

// printable quotes s for an error message: invalid UTF-8 and control
// characters escaped, at most 120 characters.
func printable(s string) string {
	if len(s) > 120 {
		n := 117
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		return fmt.Sprintf("%q…", s[:n])
	}
	if checkText(s) == nil && !strings.ContainsAny(s, "\t\n\r\"") {
		return `"` + s + `"`
	}
	return fmt.Sprintf("%q", s)
}
