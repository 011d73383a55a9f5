package ldap

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	ldap "github.com/go-ldap/ldap/v3"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
)

// requestAttrs returns the attributes to ask the server for: those the
// rules need (all user attributes when none are named) plus the anchor and
// objectClass, which the connector always needs.
func (c *Connector) requestAttrs(want []string, extra ...string) []string {
	out := []string{"objectClass", c.s.Anchor}
	if len(want) == 0 {
		out = append(out, "*")
	} else {
		for _, a := range want {
			if !strings.EqualFold(a, "objectClass") && !strings.EqualFold(a, c.s.Anchor) && !isWriteOnly(a) {
				out = append(out, a)
			}
		}
	}
	return append(out, extra...)
}

// FullImport streams every in-scope object of a partition with a paged
// search (pageSize entries per page), completing large multi-valued
// attributes with ranged retrieval. It reads the delta starting point
// before it starts, so a change made during the import is not missed by
// the next delta import.
func (c *Connector) FullImport(ctx context.Context, req connector.ImportRequest, emit func(*model.Object) error) (string, error) {
	part, err := c.partition(ctx, req.Partition)
	if err != nil {
		return "", err
	}
	sc, err := c.loadSchema(ctx)
	if err != nil {
		return "", err
	}
	wm, err := c.deltaStart(ctx, part)
	if err != nil {
		return "", err
	}
	if err := c.checkContainers(ctx, part); err != nil {
		return "", err
	}
	bases, err := c.s.searchBases(part)
	if err != nil {
		return "", err
	}
	attrs := c.requestAttrs(req.Attributes)
	filter := c.classFilter(req.ObjectTypes)
	spell := sc.spelling(req.Attributes)
	for _, base := range bases {
		err := c.pool.do(ctx, func(conn *ldap.Conn) error {
			return c.pagedSearch(ctx, conn, base, filter, attrs, func(e *ldap.Entry) error {
				return c.emitEntry(ctx, conn, sc, spell, req, e, emit)
			})
		})
		if err != nil {
			return "", fmt.Errorf("full import of %s: %w", base, err)
		}
	}
	return wm, nil
}

// checkContainers fails when a container of the OU filtering (include,
// exclude or noNewChildren) in the partition no longer exists. Renaming,
// moving or deleting an included container would otherwise make every
// object under it look deleted, and idsync would delete them in the
// targets; an excluded one would let in what it kept out. Nothing is
// imported until the configuration names the containers as they are now.
func (c *Connector) checkContainers(ctx context.Context, part string) error {
	dns, err := c.s.containersUnder(part)
	if err != nil || len(dns) == 0 {
		return err
	}
	var missing []string
	err = c.pool.do(ctx, func(conn *ldap.Conn) error {
		missing = missing[:0]
		for _, dn := range dns {
			_, err := conn.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
				"(objectClass=*)", []string{"1.1"}, nil))
			switch {
			case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
				missing = append(missing, dn)
			case err != nil:
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("check the containers of %s: %w", part, err)
	}
	if len(missing) > 0 {
		return fmt.Errorf("containers %q of the OU filtering no longer exist in %s (renamed, moved or deleted?): "+
			"nothing is imported, so that the objects under them are not taken for deleted; "+
			"write the containers as they are now in containers.include, exclude and noNewChildren, and import again",
			missing, part)
	}
	return nil
}

// partition returns the partition to import: the requested one, or for a
// connector with one partition, that one.
func (c *Connector) partition(ctx context.Context, p string) (string, error) {
	if p != "" {
		return p, nil
	}
	ps, err := c.Partitions(ctx)
	if err != nil {
		return "", err
	}
	if len(ps) != 1 {
		return "", fmt.Errorf("the server has %d naming contexts: set baseDN, or the connector's partitions", len(ps))
	}
	return ps[0].Name, nil
}

// pagedSearch runs a subtree search page by page, calling f for each entry
// as it arrives.
func (c *Connector) pagedSearch(ctx context.Context, conn *ldap.Conn, base, filter string, attrs []string, f func(*ldap.Entry) error) error {
	return c.pagedSearchControls(ctx, conn, base, filter, attrs, nil, f)
}

// pagedSearchControls is pagedSearch with more request controls.
func (c *Connector) pagedSearchControls(ctx context.Context, conn *ldap.Conn, base, filter string, attrs []string, controls []ldap.Control, f func(*ldap.Entry) error) error {
	paging := ldap.NewControlPaging(uint32(c.s.PageSize))
	for {
		sreq := ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, filter, attrs, append([]ldap.Control{paging}, controls...))
		sctx, cancel := context.WithCancel(ctx)
		res := conn.SearchAsync(sctx, sreq, 64)
		var ferr error
		for res.Next() {
			if e := res.Entry(); e != nil && ferr == nil {
				ferr = f(e)
				if ferr != nil {
					cancel()
				}
			}
		}
		cancel()
		if ferr != nil {
			return ferr
		}
		if err := res.Err(); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		pc, _ := ldap.FindControl(res.Controls(), ldap.ControlTypePaging).(*ldap.ControlPaging)
		if pc == nil || len(pc.Cookie) == 0 {
			return nil
		}
		paging.SetCookie(pc.Cookie)
	}
}

// emitEntry completes, scopes, converts and emits one entry.
func (c *Connector) emitEntry(ctx context.Context, conn *ldap.Conn, sc *dirSchema, spell map[string]string, req connector.ImportRequest, e *ldap.Entry, emit func(*model.Object) error) error {
	o, v, err := c.convert(ctx, conn, sc, spell, req, e)
	if err != nil || v != inScope {
		return err
	}
	return emit(o)
}

// verdict is what convert made of an entry.
type verdict int

const (
	inScope    verdict = iota // converted
	outOfScope                // not of a configured type, or not in the configured containers
	reported                  // a malformed value, reported through req.ObjectError
)

// convert completes and converts an entry.
func (c *Connector) convert(ctx context.Context, conn *ldap.Conn, sc *dirSchema, spell map[string]string, req connector.ImportRequest, e *ldap.Entry) (*model.Object, verdict, error) {
	typ := c.objectType(e.GetAttributeValues("objectClass"))
	if typ == "" {
		return nil, outOfScope, nil
	}
	if ok, err := c.s.inScope(e.DN); err != nil || !ok {
		return nil, outOfScope, nil //nolint:nilerr // an unparsable DN cannot be in a configured container
	}
	if err := c.completeRanges(ctx, conn, e); err != nil {
		return nil, reported, err
	}
	o, err := c.entryToObject(sc, spell, e, typ)
	if err != nil {
		req.ReportObjectError(o.Anchor, e.DN, fmt.Errorf("import %s: %w", e.DN, err))
		return nil, reported, nil
	}
	return o, inScope, nil
}

// completeRanges fetches the remaining values of attributes the server
// returned in ranges (AD returns at most 1,500 values of member at a time as
// member;range=0-1499) and merges them under the plain name.
func (c *Connector) completeRanges(ctx context.Context, conn *ldap.Conn, e *ldap.Entry) error {
	for _, a := range e.Attributes {
		name, _, hi, ok := parseRange(a.Name)
		if !ok {
			continue
		}
		a.Name = name
		for hi >= 0 { // hi < 0: the last range ("*") arrived
			if err := ctx.Err(); err != nil {
				return err
			}
			next := hi + 1
			res, err := conn.Search(ldap.NewSearchRequest(e.DN, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
				"(objectClass=*)", []string{fmt.Sprintf("%s;range=%d-*", name, next)}, nil))
			if err != nil {
				return fmt.Errorf("ranged retrieval of %s of %s: %w", name, e.DN, err)
			}
			if len(res.Entries) != 1 {
				return fmt.Errorf("ranged retrieval of %s of %s: the entry is gone", name, e.DN)
			}
			found := false
			for _, ra := range res.Entries[0].Attributes {
				n, l, h, ok := parseRange(ra.Name)
				if !ok || !strings.EqualFold(n, name) {
					continue
				}
				if l != next {
					return fmt.Errorf("ranged retrieval of %s of %s: asked from %d, got from %d", name, e.DN, next, l)
				}
				a.Values = append(a.Values, ra.Values...)
				a.ByteValues = append(a.ByteValues, ra.ByteValues...)
				hi, found = h, true
			}
			if !found {
				break // no more values
			}
		}
	}
	return nil
}

// parseRange splits "member;range=0-1499" into member, 0, 1499;
// "member;range=1500-*" gives hi = -1.
func parseRange(attr string) (name string, lo, hi int, ok bool) {
	i := indexFold(attr, ";range=")
	if i < 0 {
		return "", 0, 0, false
	}
	name = attr[:i]
	spec := attr[i+len(";range="):]
	if j := strings.IndexByte(spec, ';'); j >= 0 {
		spec = spec[:j]
	}
	l, h, found := strings.Cut(spec, "-")
	if !found {
		return "", 0, 0, false
	}
	var err error
	if lo, err = strconv.Atoi(l); err != nil || lo < 0 {
		return "", 0, 0, false
	}
	if h == "*" {
		return name, lo, -1, true
	}
	if hi, err = strconv.Atoi(h); err != nil || hi < lo {
		return "", 0, 0, false
	}
	return name, lo, hi, true
}

// indexFold is strings.Index ignoring ASCII case. (Lower-casing the string
// first would shift the index wherever lower-casing changes a character's
// length in bytes.)
func indexFold(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}
