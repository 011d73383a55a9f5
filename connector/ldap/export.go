package ldap

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode/utf16"

	ldap "github.com/go-ldap/ldap/v3"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
)

// Export writes a batch of changes, up to `connections` at a time. Adds of
// objects without references go first, then the other adds (groups after
// their members), updates, renames and deletes, each phase finished before
// the next starts. Every op is idempotent when replayed: an add of an entry
// that exists returns ErrAlreadyExists with its anchor, a delete of a missing
// one ErrNotFound, value adds and removes that were already applied converge.
func (c *Connector) Export(ctx context.Context, ops []connector.ExportOp) []connector.ExportResult {
	results := make([]connector.ExportResult, 0, len(ops))
	if !c.encrypted() {
		// A password is never sent in clear: AD refuses it anyway, after
		// it has crossed the network.
		ops = slices.DeleteFunc(slices.Clone(ops), func(op connector.ExportOp) bool {
			if !setsADPassword(op) {
				return false
			}
			results = append(results, connector.ExportResult{ID: op.ID, Err: fmt.Errorf("%s %s: %w", op.Op, op.DN, c.errClearPassword())})
			return true
		})
	}
	sc, err := c.loadSchema(ctx)
	if err != nil {
		for _, op := range ops {
			results = append(results, connector.ExportResult{ID: op.ID, Err: err})
		}
		return results
	}
	var phases [5][]connector.ExportOp
	for _, op := range ops {
		phases[exportPhase(op)] = append(phases[exportPhase(op)], op)
	}
	var mu sync.Mutex
	var added []int // results of adds that succeeded and need their anchor
	for _, phase := range phases {
		work := make(chan connector.ExportOp)
		var wg sync.WaitGroup
		for range min(c.s.Connections, max(1, len(phase))) {
			wg.Go(func() {
				for op := range work {
					anchor, err := c.exportOne(ctx, sc, op)
					mu.Lock()
					if op.Op == connector.OpAdd && err == nil {
						added = append(added, len(results))
					}
					results = append(results, connector.ExportResult{ID: op.ID, Anchor: anchor, Err: err})
					mu.Unlock()
				}
			})
		}
		for _, op := range phase {
			work <- op
		}
		close(work)
		wg.Wait()
	}
	c.readAnchors(ctx, sc, ops, results, added)
	return results
}

// readAnchors reads the anchors the directory gave the entries just added,
// many per search (the server assigns objectGUID / entryUUID; there is no
// post-read control in go-ldap). An add whose anchor cannot be read is
// reported as failed: the engine retries it, and the retry finds the entry
// and its anchor through ErrAlreadyExists.
func (c *Connector) readAnchors(ctx context.Context, sc *dirSchema, ops []connector.ExportOp, results []connector.ExportResult, added []int) {
	if len(added) == 0 {
		return
	}
	dnOf := make(map[string]string, len(ops))
	for _, op := range ops {
		dnOf[op.ID] = op.DN
	}
	// Entries are found by DN with an OR filter: entryDN on OpenLDAP,
	// distinguishedName on AD; other servers are read one by one.
	attr := map[string]string{FlavorAD: "distinguishedName", FlavorOpenLDAP: "entryDN"}[c.s.Flavor]
	const chunk = 100
	found := map[string]string{} // normalized DN → anchor
	r, _ := c.rootDSE(ctx)
	if attr != "" {
		for start := 0; start < len(added); start += chunk {
			var f strings.Builder
			f.WriteString("(|")
			bases := map[string]bool{}
			for _, i := range added[start:min(start+chunk, len(added))] {
				dn := dnOf[results[i].ID]
				f.WriteString("(" + attr + "=" + ldap.EscapeFilter(dn) + ")")
				bases[c.namingContextOf(r, dn)] = true
			}
			f.WriteString(")")
			for base := range bases {
				_ = c.pool.do(ctx, func(conn *ldap.Conn) error {
					res, err := conn.Search(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
						f.String(), []string{c.s.Anchor}, nil))
					if err != nil {
						return err
					}
					for _, e := range res.Entries {
						if raw := e.GetRawAttributeValue(c.s.Anchor); len(raw) > 0 {
							if n, err := normDN(e.DN); err == nil {
								found[n] = c.anchorText(sc, raw)
							}
						}
					}
					return nil
				})
			}
		}
	}
	for _, i := range added {
		dn := dnOf[results[i].ID]
		if n, err := normDN(dn); err == nil && found[n] != "" {
			results[i].Anchor = found[n]
			continue
		}
		err := c.pool.do(ctx, func(conn *ldap.Conn) error {
			a, err := c.readAnchor(conn, sc, dn)
			results[i].Anchor = a
			return err
		})
		if err != nil {
			results[i].Err = fmt.Errorf("add %s: added, but %w", dn, err)
		}
	}
}

// namingContextOf returns the server's naming context that holds dn (the
// longest matching suffix), else baseDN, else dn itself.
func (c *Connector) namingContextOf(r *rootDSE, dn string) string {
	n, err := normDN(dn)
	if err != nil {
		return dn
	}
	best := ""
	if r != nil {
		for _, nc := range r.namingContexts {
			m, err := normDN(nc)
			if err == nil && (n == m || strings.HasSuffix(n, ","+m)) && len(nc) > len(best) {
				best = nc
			}
		}
	}
	if best == "" {
		best = c.s.BaseDN
	}
	if best == "" {
		best = dn
	}
	return best
}

// anchorText returns the text of a raw anchor value: base64 for a binary
// anchor (objectGUID), the value itself otherwise.
func (c *Connector) anchorText(sc *dirSchema, raw []byte) string {
	if c.attrType(sc, c.s.Anchor) == model.Binary {
		return base64.StdEncoding.EncodeToString(raw)
	}
	return string(raw)
}

func exportPhase(op connector.ExportOp) int {
	switch op.Op {
	case connector.OpAdd:
		for _, ch := range op.Changes {
			if ch.Type == model.Reference && len(ch.Values) > 0 {
				return 1
			}
		}
		return 0
	case connector.OpUpdate:
		return 2
	case connector.OpRename:
		return 3
	}
	return 4
}

func (c *Connector) exportOne(ctx context.Context, sc *dirSchema, op connector.ExportOp) (string, error) {
	var anchor string
	err := c.pool.do(ctx, func(conn *ldap.Conn) error {
		var err error
		switch op.Op {
		case connector.OpAdd:
			anchor, err = c.add(conn, sc, op)
		case connector.OpUpdate:
			err = c.update(ctx, conn, sc, op)
		case connector.OpRename:
			err = c.rename(conn, op.DN, op.NewDN)
		case connector.OpDelete:
			err = conn.Del(ldap.NewDelRequest(op.DN, nil))
			if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
				err = fmt.Errorf("%w: %w", connector.ErrNotFound, err)
			}
		default:
			err = fmt.Errorf("unknown export operation %q", op.Op)
		}
		return err
	})
	if err != nil && !errors.Is(err, connector.ErrAlreadyExists) && !errors.Is(err, connector.ErrNotFound) {
		dn := op.DN
		if op.Op == connector.OpRename {
			dn += " → " + op.NewDN
		}
		err = fmt.Errorf("%s %s: %w", op.Op, dn, err)
	}
	return anchor, err
}

// values converts an attribute change's values to their LDAP form.
func (c *Connector) values(sc *dirSchema, ch connector.AttrChange) ([]string, error) {
	t := ch.Type
	if d, ok := sc.attrs[strings.ToLower(ch.Name)]; ok && t == model.String {
		t = d.typ
	}
	out := make([]string, 0, len(ch.Values))
	for _, v := range ch.Values {
		if strings.EqualFold(ch.Name, "unicodePwd") && c.s.Flavor == FlavorAD {
			out = append(out, adPassword(v))
			continue
		}
		lv, err := toLDAP(t, v)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %w", ch.Name, err)
		}
		out = append(out, lv)
	}
	return out, nil
}

// encrypted reports whether the connector's connections are encrypted
// (an ldaps:// URL, or StartTLS).
func (c *Connector) encrypted() bool { return c.s.u.Scheme == "ldaps" || c.s.StartTLS }

// setsADPassword reports whether op writes unicodePwd.
func setsADPassword(op connector.ExportOp) bool {
	for _, ch := range op.Changes {
		if strings.EqualFold(ch.Name, "unicodePwd") && len(ch.Values) > 0 {
			return true
		}
	}
	return false
}

// errClearPassword is the error of a unicodePwd to send over a connection
// that is not encrypted.
func (c *Connector) errClearPassword() error {
	return fmt.Errorf("refusing to send unicodePwd (a password) over %s, which is not encrypted; Active Directory accepts a password only over an encrypted connection: "+
		"use an ldaps:// URL (port 636) or startTLS: true in the configuration of connector %q", c.s.u.Redacted(), c.name)
}

// adPassword encodes a password for AD's unicodePwd: the password in double
// quotes, UTF-16 little-endian.
func adPassword(p string) string {
	u := utf16.Encode([]rune(`"` + p + `"`))
	b := make([]byte, 2*len(u))
	for i, r := range u {
		binary.LittleEndian.PutUint16(b[2*i:], r)
	}
	return string(b)
}

// usePasswordModify reports whether userPassword is set with the Password
// Modify extended operation (RFC 3062), which lets the server hash it by
// its policy: on servers other than AD that support it.
func (c *Connector) usePasswordModify() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.root != nil && c.s.Flavor != FlavorAD && c.root.extensions[oidPasswordModifyEx]
}

// setPassword sets userPassword with the Password Modify extended operation.
func setPassword(conn *ldap.Conn, dn string, ch connector.AttrChange) error {
	if len(ch.Values) != 1 {
		return fmt.Errorf("userPassword: one new password expected, got %d values", len(ch.Values))
	}
	if _, err := conn.PasswordModify(&ldap.PasswordModifyRequest{UserIdentity: dn, NewPassword: ch.Values[0]}); err != nil {
		return fmt.Errorf("set userPassword (Password Modify extended operation): %w", err)
	}
	return nil
}

// isNewPassword reports whether a change sets userPassword to a new value.
func isNewPassword(ch connector.AttrChange) bool {
	return strings.EqualFold(ch.Name, "userPassword") && (ch.Mode == connector.Replace || ch.Mode == connector.AddVals) && len(ch.Values) > 0
}

func (c *Connector) add(conn *ldap.Conn, sc *dirSchema, op connector.ExportOp) (string, error) {
	req := ldap.NewAddRequest(op.DN, nil)
	hasClass := false
	extop := c.usePasswordModify()
	var password *connector.AttrChange
	for _, ch := range op.Changes {
		if ch.Mode == connector.DelVals || len(ch.Values) == 0 {
			continue
		}
		if extop && isNewPassword(ch) {
			password = &ch
			continue
		}
		vals, err := c.values(sc, ch)
		if err != nil {
			return "", err
		}
		if strings.EqualFold(ch.Name, "objectClass") {
			hasClass = true
		}
		req.Attribute(ch.Name, vals)
	}
	// The naming attribute's value must be in the entry: add it from the
	// DN when the changes do not set it (AD does this itself, slapd not).
	if d, err := ldap.ParseDN(op.DN); err == nil && len(d.RDNs) > 0 {
		for _, a := range d.RDNs[0].Attributes {
			set := false
			for _, ra := range req.Attributes {
				if strings.EqualFold(ra.Type, a.Type) {
					set = true
				}
			}
			if !set {
				req.Attribute(a.Type, []string{a.Value})
			}
		}
	}
	if !hasClass {
		for _, m := range c.s.ObjectTypes {
			if m.Type == op.ObjectType {
				req.Attribute("objectClass", []string{m.ObjectClass})
				hasClass = true
				break
			}
		}
		if !hasClass {
			return "", fmt.Errorf("no objectClass to create a %q with: flow objectClass, or map the type in objectTypes", op.ObjectType)
		}
	}
	err := conn.Add(req)
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) && c.createParents(conn, op.DN) {
		err = conn.Add(req)
	}
	if err == nil && password != nil {
		return "", setPassword(conn, op.DN, *password)
	}
	if ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists) {
		anchor, rerr := c.readAnchor(conn, sc, op.DN)
		if ldap.IsErrorWithCode(rerr, ldap.LDAPResultNoSuchObject) {
			// Nothing is at the DN: the directory refused a value that
			// must be unique (AD's sAMAccountName, userPrincipalName)
			// with the same result code. An error on the object, retried.
			return "", err
		}
		if rerr != nil {
			return "", fmt.Errorf("%w: %w (and reading its anchor failed: %w)", connector.ErrAlreadyExists, err, rerr)
		}
		return anchor, fmt.Errorf("%w: %s", connector.ErrAlreadyExists, op.DN)
	}
	return "", err // the anchor is read afterwards, many at a time
}

// createParents creates the containers of createContainers that are
// ancestors of dn, outermost first, when they are missing; it reports
// whether one of them is there now (the add is then tried again).
func (c *Connector) createParents(conn *ldap.Conn, dn string) bool {
	anc, err := ancestors(dn)
	if err != nil || len(c.s.create) == 0 {
		return false
	}
	tried := false
	for i := len(anc) - 1; i >= 1; i-- {
		orig, ok := c.s.create[anc[i]]
		if !ok {
			continue
		}
		req := ldap.NewAddRequest(orig, nil)
		req.Attribute("objectClass", []string{"organizationalUnit"})
		if err := conn.Add(req); err == nil || ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists) {
			tried = true // created, or by another export at the same time
		}
	}
	return tried
}

// readAnchor reads the anchor the directory gave an entry.
func (c *Connector) readAnchor(conn *ldap.Conn, sc *dirSchema, dn string) (string, error) {
	res, err := conn.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{c.s.Anchor}, nil))
	if err != nil {
		return "", fmt.Errorf("read the anchor of %s: %w", dn, err)
	}
	if len(res.Entries) != 1 {
		return "", fmt.Errorf("read the anchor of %s: not found", dn)
	}
	raw := res.Entries[0].GetRawAttributeValue(c.s.Anchor)
	if len(raw) == 0 {
		return "", fmt.Errorf("%s has no %s", dn, c.s.Anchor)
	}
	return c.anchorText(sc, raw), nil
}

func (c *Connector) update(ctx context.Context, conn *ldap.Conn, sc *dirSchema, op connector.ExportOp) error {
	dn := op.DN
	if op.NewDN != "" && op.NewDN != op.DN {
		if err := c.rename(conn, op.DN, op.NewDN); err != nil {
			return err
		}
		dn = op.NewDN
	}
	changes := op.Changes
	if c.usePasswordModify() {
		changes = make([]connector.AttrChange, 0, len(op.Changes))
		for _, ch := range op.Changes {
			if isNewPassword(ch) {
				if err := setPassword(conn, dn, ch); err != nil {
					return err
				}
				continue
			}
			changes = append(changes, ch)
		}
	}
	if len(changes) == 0 {
		return nil
	}
	req, err := c.modifyRequest(sc, dn, changes)
	if err != nil {
		return err
	}
	err = conn.Modify(req)
	switch {
	case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
		return fmt.Errorf("%w: %w", connector.ErrNotFound, err)
	case ldap.IsErrorWithCode(err, ldap.LDAPResultAttributeOrValueExists), ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchAttribute):
		// A replay of value adds or removes that were applied already, in
		// part or in full: write the resulting value sets instead.
		return c.converge(ctx, conn, sc, dn, changes)
	}
	return err
}

func (c *Connector) modifyRequest(sc *dirSchema, dn string, changes []connector.AttrChange) (*ldap.ModifyRequest, error) {
	req := ldap.NewModifyRequest(dn, nil)
	for _, ch := range changes {
		vals, err := c.values(sc, ch)
		if err != nil {
			return nil, err
		}
		switch ch.Mode {
		case connector.Replace:
			req.Replace(ch.Name, vals)
		case connector.AddVals:
			req.Add(ch.Name, vals)
		case connector.DelVals:
			req.Delete(ch.Name, vals)
		default:
			return nil, fmt.Errorf("attribute %s: unknown change mode %q", ch.Name, ch.Mode)
		}
	}
	return req, nil
}

// converge reads the current values of the changed attributes and replaces
// each with the set the changes lead to.
func (c *Connector) converge(ctx context.Context, conn *ldap.Conn, sc *dirSchema, dn string, changes []connector.AttrChange) error {
	names := make([]string, 0, len(changes))
	for _, ch := range changes {
		names = append(names, ch.Name)
	}
	res, err := conn.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", names, nil))
	if err != nil {
		return err
	}
	if len(res.Entries) != 1 {
		return fmt.Errorf("%w: %s", connector.ErrNotFound, dn)
	}
	e := res.Entries[0]
	if err := c.completeRanges(ctx, conn, e); err != nil {
		return err
	}
	req := ldap.NewModifyRequest(dn, nil)
	for _, ch := range changes {
		vals, err := c.values(sc, ch)
		if err != nil {
			return err
		}
		if ch.Mode == connector.Replace {
			req.Replace(ch.Name, vals)
			continue
		}
		cur := e.GetAttributeValues(ch.Name)
		set := make(map[string]bool, len(cur))
		key := func(v string) string { return v }
		if t := c.attrType(sc, ch.Name); t == model.Reference {
			key = func(v string) string {
				n, err := normDN(v)
				if err != nil {
					return v
				}
				return n
			}
		}
		out := make([]string, 0, len(cur)+len(vals))
		for _, v := range cur {
			set[key(v)] = true
			out = append(out, v)
		}
		if ch.Mode == connector.AddVals {
			for _, v := range vals {
				if !set[key(v)] {
					set[key(v)] = true
					out = append(out, v)
				}
			}
		} else {
			drop := map[string]bool{}
			for _, v := range vals {
				drop[key(v)] = true
			}
			kept := out[:0]
			for _, v := range out {
				if !drop[key(v)] {
					kept = append(kept, v)
				}
			}
			out = kept
		}
		req.Replace(ch.Name, out)
	}
	return conn.Modify(req)
}

// rename moves an entry to newDN (modrdn, with a new superior when the
// parent changes). A replayed rename whose entry is already at newDN
// succeeds.
func (c *Connector) rename(conn *ldap.Conn, dn, newDN string) error {
	d, err := ldap.ParseDN(newDN)
	if err != nil || len(d.RDNs) == 0 {
		return fmt.Errorf("invalid new DN %q: %w", newDN, err)
	}
	old, err := ldap.ParseDN(dn)
	if err != nil || len(old.RDNs) == 0 {
		return fmt.Errorf("invalid DN %q: %w", dn, err)
	}
	rdn := d.RDNs[0].String()
	newParent := &ldap.DN{RDNs: d.RDNs[1:]}
	oldParent := &ldap.DN{RDNs: old.RDNs[1:]}
	sup := ""
	if !newParent.EqualFold(oldParent) {
		sup = newParent.String()
	}
	err = conn.ModifyDN(ldap.NewModifyDNRequest(dn, rdn, true, sup))
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) || ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists) {
		// Replayed: is the entry at its new name, and the old one gone?
		if exists(conn, newDN) && !exists(conn, dn) {
			return nil
		}
		if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
			return fmt.Errorf("%w: %w", connector.ErrNotFound, err)
		}
	}
	return err
}

func exists(conn *ldap.Conn, dn string) bool {
	res, err := conn.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false, "(objectClass=*)", []string{"1.1"}, nil))
	return err == nil && len(res.Entries) == 1
}
