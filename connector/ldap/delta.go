package ldap

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	ldap "github.com/go-ldap/ldap/v3"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
)

// Watermarks are "<method>:<payload>": dirsync:<base64 cookie>,
// usn:<highestCommittedUSN>, syncrepl:<base64 cookie>, ts:<GeneralizedTime>.

// deltaMethod picks the delta method: the configured one, else DirSync on
// Active Directory (uSNChanged polling when the server lacks the control),
// RFC 4533 content synchronization on servers with syncprov, modifyTimestamp
// polling on OpenLDAP without it, none otherwise.
func (c *Connector) deltaMethod(r *rootDSE) string {
	if c.s.DeltaMethod != DeltaAuto {
		return c.s.DeltaMethod
	}
	switch {
	case r.flavor == FlavorAD && r.controls[oidDirSync]:
		return DeltaDirSync
	case r.flavor == FlavorAD:
		return DeltaUSN
	case r.controls[oidSyncRequest]:
		return DeltaSyncRepl
	case r.flavor == FlavorOpenLDAP:
		return DeltaTimestamp // no syncprov: modifyTimestamp polling
	}
	return DeltaNone
}

// DirSync flags.
const (
	dirSyncObjectSecurity = 0x1
	dirSyncAncestorsFirst = 0x800
)

// deltaStart returns the watermark from which a delta import continues after
// a full import that starts now.
func (c *Connector) deltaStart(ctx context.Context, part string) (string, error) {
	r, err := c.rootDSE(ctx)
	if err != nil {
		return "", err
	}
	switch m := c.deltaMethod(r); m {
	case DeltaNone:
		return "", nil
	case DeltaUSN:
		usn, err := c.highestUSN(ctx)
		if err != nil {
			return "", err
		}
		return "usn:" + usn, nil
	case DeltaDirSync:
		// A DirSync pass whose filter matches nothing returns only the
		// cookie: the replication state now.
		cookie, err := c.dirSync(ctx, part, "(&(objectClass=top)(!(objectClass=top)))", nil, nil, nil)
		if err != nil {
			return "", fmt.Errorf("start DirSync on %s (the account needs the 'Replicating Directory Changes' right on the domain, or set deltaMethod: usnchanged): %w", part, err)
		}
		return "dirsync:" + base64.StdEncoding.EncodeToString(cookie), nil
	case DeltaTimestamp:
		ts, err := c.maxTimestamp(ctx, part)
		if err != nil {
			return "", fmt.Errorf("start timestamp polling on %s: %w", part, err)
		}
		return "ts:" + ts, nil
	case DeltaSyncRepl:
		cookie, err := c.syncRepl(ctx, part, "(&(objectClass=top)(!(objectClass=top)))", nil, nil)
		if err != nil {
			return "", fmt.Errorf("start content synchronization on %s (is the syncprov overlay configured on this database?): %w", part, err)
		}
		return "syncrepl:" + base64.StdEncoding.EncodeToString(cookie), nil
	default:
		return "", fmt.Errorf("deltaMethod %q is not available", m)
	}
}

func (c *Connector) highestUSN(ctx context.Context) (string, error) {
	var usn string
	err := c.pool.do(ctx, func(conn *ldap.Conn) error {
		res, err := conn.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
			"(objectClass=*)", []string{"highestCommittedUSN"}, nil))
		if err != nil {
			return err
		}
		if len(res.Entries) == 1 {
			usn = res.Entries[0].GetAttributeValue("highestCommittedUSN")
		}
		if _, err := strconv.ParseUint(usn, 10, 64); err != nil {
			return fmt.Errorf("the root DSE has no usable highestCommittedUSN (%q)", usn)
		}
		return nil
	})
	return usn, err
}

// DeltaImport streams the changes since the watermark. Every changed entry
// is read again in full (connectors emit objects' full state); one that is
// gone, no longer of a configured type, no longer matches the filter or has
// left the configured containers is emitted as a deletion. Renames and moves
// keep the anchor.
func (c *Connector) DeltaImport(ctx context.Context, req connector.ImportRequest, watermark string, emit func(connector.Change) error) (string, error) {
	part, err := c.partition(ctx, req.Partition)
	if err != nil {
		return "", err
	}
	sc, err := c.loadSchema(ctx)
	if err != nil {
		return "", err
	}
	method, payload, ok := strings.Cut(watermark, ":")
	if !ok {
		return "", fmt.Errorf("watermark %q is not one of this connector's: run a full import", watermark)
	}
	if err := c.checkContainers(ctx, part); err != nil {
		return "", err
	}
	var changed []changedEntry
	var next string
	presence := false // timestamps cannot show deletions: list what exists
	switch method {
	case "dirsync":
		cookie, err := base64.StdEncoding.DecodeString(payload)
		if err != nil {
			return "", fmt.Errorf("watermark: %w: run a full import", err)
		}
		cookie, err = c.dirSync(ctx, part, "(objectClass=*)", c.requestAttrs(req.Attributes), cookie, func(e *ldap.Entry) {
			changed = append(changed, changedEntry{guid: e.GetRawAttributeValue("objectGUID"), dn: e.DN,
				deleted: strings.EqualFold(e.GetAttributeValue("isDeleted"), "TRUE")})
		})
		if err != nil {
			return "", fmt.Errorf("DirSync of %s: %w", part, err)
		}
		next = "dirsync:" + base64.StdEncoding.EncodeToString(cookie)
	case "usn":
		from, err := strconv.ParseUint(payload, 10, 64)
		if err != nil {
			return "", fmt.Errorf("watermark %q: %w: run a full import", watermark, err)
		}
		usn, err := c.highestUSN(ctx)
		if err != nil {
			return "", err
		}
		if changed, err = c.usnChanges(ctx, part, from+1); err != nil {
			return "", fmt.Errorf("uSNChanged search of %s: %w", part, err)
		}
		next = "usn:" + usn
	case "syncrepl":
		cookie, err := base64.StdEncoding.DecodeString(payload)
		if err != nil {
			return "", fmt.Errorf("watermark: %w: run a full import", err)
		}
		cookie, err = c.syncRepl(ctx, part, "(objectClass=*)", cookie, func(ce changedEntry) {
			changed = append(changed, ce)
		})
		if err != nil {
			return "", fmt.Errorf("content synchronization of %s: %w", part, err)
		}
		next = "syncrepl:" + base64.StdEncoding.EncodeToString(cookie)
	case "ts":
		if _, err := parseLDAPTime(payload); err != nil {
			return "", fmt.Errorf("watermark %q: %w: run a full import", watermark, err)
		}
		// The next search starts at the latest timestamp this one saw
		// (>=: a change made in that same second is read again, never
		// missed).
		var ts string
		if changed, ts, err = c.timestampChanges(ctx, sc, part, payload); err != nil {
			return "", fmt.Errorf("modifyTimestamp search of %s: %w", part, err)
		}
		next = "ts:" + ts
		presence = true
	default:
		return "", fmt.Errorf("watermark %q is not one of this connector's: run a full import", watermark)
	}
	// One change per object, the last one wins.
	seen := map[string]int{}
	uniq := changed[:0]
	for _, ce := range changed {
		k := ce.key()
		if i, ok := seen[k]; ok {
			uniq[i] = ce
			continue
		}
		seen[k] = len(uniq)
		uniq = append(uniq, ce)
	}
	attrs := c.requestAttrs(req.Attributes)
	filter := c.classFilter(req.ObjectTypes)
	spell := sc.spelling(req.Attributes)
	for _, ce := range uniq {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		if ce.deleted {
			if err := emit(connector.Change{Kind: connector.Delete, Object: c.deletedObject(ce)}); err != nil {
				return "", err
			}
			continue
		}
		var (
			o *model.Object
			v = outOfScope
		)
		err := c.pool.do(ctx, func(conn *ldap.Conn) error {
			o, v = nil, outOfScope
			res, err := conn.Search(ldap.NewSearchRequest(ce.base(), ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, filter, attrs, nil))
			if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
				return nil // gone since
			}
			if err != nil {
				return err
			}
			if len(res.Entries) == 1 {
				o, v, err = c.convert(ctx, conn, sc, spell, req, res.Entries[0])
			}
			return err
		})
		if err != nil {
			return "", fmt.Errorf("read changed entry %s: %w", ce.dn, err)
		}
		switch v {
		case inScope:
			err = emit(connector.Change{Kind: connector.Upsert, Object: o})
		case outOfScope:
			// Gone, or no longer in scope: a deletion for idsync (the
			// engine ignores deletions of objects it never imported).
			if anchor := c.changeAnchor(ce); anchor != "" {
				err = emit(connector.Change{Kind: connector.Delete, Object: &model.Object{Anchor: anchor, DN: ce.dn}})
			}
		}
		if err != nil {
			return "", err
		}
	}
	if presence {
		if err := c.emitPresent(ctx, req, emit); err != nil {
			return "", err
		}
	}
	return next, nil
}

// maxTimestamp returns the latest modifyTimestamp of the partition (the
// server's clock, not ours), or the epoch for an empty partition; a full
// import starts timestamp polling from it. It reads every entry's
// modifyTimestamp, once per full import.
func (c *Connector) maxTimestamp(ctx context.Context, part string) (string, error) {
	latest := "19700101000000Z"
	var lt time.Time
	err := c.pool.do(ctx, func(conn *ldap.Conn) error {
		return c.pagedSearch(ctx, conn, part, "(modifyTimestamp=*)", []string{"modifyTimestamp"}, func(e *ldap.Entry) error {
			v := e.GetAttributeValue("modifyTimestamp")
			if t, err := parseLDAPTime(v); err == nil && t.After(lt) {
				lt, latest = t, v
			}
			return nil
		})
	})
	return latest, err
}

// timestampChanges lists the entries modified at or after ts, and the
// latest modifyTimestamp among them (ts when none).
func (c *Connector) timestampChanges(ctx context.Context, sc *dirSchema, part, ts string) ([]changedEntry, string, error) {
	var out []changedEntry
	latest := ts
	lt, _ := parseLDAPTime(ts)
	err := c.pool.do(ctx, func(conn *ldap.Conn) error {
		out, latest = out[:0], ts
		return c.pagedSearch(ctx, conn, part, "(modifyTimestamp>="+ldap.EscapeFilter(ts)+")", []string{"modifyTimestamp", c.s.Anchor}, func(e *ldap.Entry) error {
			ce := changedEntry{dn: canonicalDN(e.DN)}
			if raw := e.GetRawAttributeValue(c.s.Anchor); len(raw) > 0 {
				ce.anchor = c.anchorText(sc, raw)
			}
			out = append(out, ce)
			v := e.GetAttributeValue("modifyTimestamp")
			if t, err := parseLDAPTime(v); err == nil && t.After(lt) {
				lt, latest = t, v
			}
			return nil
		})
	})
	return out, latest, err
}

// emitPresent emits connector.Present for every in-scope entry, so that the
// engine can tell which objects were deleted.
func (c *Connector) emitPresent(ctx context.Context, req connector.ImportRequest, emit func(connector.Change) error) error {
	sc, err := c.loadSchema(ctx)
	if err != nil {
		return err
	}
	part, err := c.partition(ctx, req.Partition)
	if err != nil {
		return err
	}
	bases, err := c.s.searchBases(part)
	if err != nil {
		return err
	}
	filter := c.classFilter(req.ObjectTypes)
	for _, base := range bases {
		err := c.pool.do(ctx, func(conn *ldap.Conn) error {
			return c.pagedSearch(ctx, conn, base, filter, []string{"objectClass", c.s.Anchor}, func(e *ldap.Entry) error {
				if c.objectType(e.GetAttributeValues("objectClass")) == "" {
					return nil
				}
				if ok, err := c.s.inScope(e.DN); err != nil || !ok {
					return nil //nolint:nilerr // out of scope: not present for idsync
				}
				raw := e.GetRawAttributeValue(c.s.Anchor)
				if len(raw) == 0 {
					return nil
				}
				return emit(connector.Change{Kind: connector.Present, Object: &model.Object{Anchor: c.anchorText(sc, raw), DN: canonicalDN(e.DN)}})
			})
		})
		if err != nil {
			return fmt.Errorf("list the entries of %s: %w", base, err)
		}
	}
	return nil
}

// changedEntry is one entry a delta search reported as changed.
type changedEntry struct {
	guid    []byte // AD objectGUID
	uuid    string // RFC 4533 entryUUID
	anchor  string // the anchor, when the delta search returned it
	dn      string
	deleted bool
}

func (ce changedEntry) key() string {
	switch {
	case len(ce.guid) > 0:
		return "g:" + string(ce.guid)
	case ce.uuid != "":
		return "u:" + ce.uuid
	case ce.anchor != "":
		return "a:" + ce.anchor
	}
	return "d:" + strings.ToLower(ce.dn)
}

// base is where to read the entry again: by GUID on AD, which follows
// renames and moves, else by DN.
func (ce changedEntry) base() string {
	if len(ce.guid) > 0 {
		return "<GUID=" + hex.EncodeToString(ce.guid) + ">"
	}
	return ce.dn
}

// changeAnchor returns the anchor of a changed entry, "" when the delta
// method does not carry the configured anchor attribute.
func (c *Connector) changeAnchor(ce changedEntry) string {
	switch {
	case ce.anchor != "":
		return ce.anchor
	case len(ce.guid) > 0 && strings.EqualFold(c.s.Anchor, "objectGUID"):
		return base64.StdEncoding.EncodeToString(ce.guid)
	case ce.uuid != "" && strings.EqualFold(c.s.Anchor, "entryUUID"):
		return ce.uuid
	}
	return ""
}

func (c *Connector) deletedObject(ce changedEntry) *model.Object {
	return &model.Object{Anchor: c.changeAnchor(ce), DN: ce.dn}
}

// dirSync runs DirSync passes from cookie until the server has no more
// changes, calling f for each changed entry, and returns the new cookie.
//
// DirSync reports an object only when one of the requested attributes
// changed, so attrs must name every attribute the rules read; name and
// parentGUID are added so that renames and moves are reported too.
func (c *Connector) dirSync(ctx context.Context, part, filter string, attrs []string, cookie []byte, f func(*ldap.Entry)) ([]byte, error) {
	want := append([]string{"objectGUID", "isDeleted", "objectClass", "name", "parentGUID"}, attrs...)
	if slices.Contains(attrs, "*") {
		want = []string{"*", "isDeleted", "parentGUID"}
	}
	var out []byte
	err := c.pool.do(ctx, func(conn *ldap.Conn) error {
		ck := cookie
		for {
			if err := ctx.Err(); err != nil {
				return err
			}
			sreq := ldap.NewSearchRequest(part, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, filter,
				want, nil)
			res, err := conn.DirSync(sreq, dirSyncAncestorsFirst, 0, ck)
			if err != nil {
				return err
			}
			for _, e := range res.Entries {
				if f != nil && len(e.GetRawAttributeValue("objectGUID")) == 16 {
					f(e)
				}
			}
			rc, _ := ldap.FindControl(res.Controls, ldap.ControlTypeDirSync).(*ldap.ControlDirSync)
			if rc == nil {
				return errors.New("the server answered without a DirSync control")
			}
			if len(rc.Cookie) > 0 {
				ck = rc.Cookie
			}
			if rc.Flags == 0 {
				out = ck
				return nil
			}
		}
	})
	return out, err
}

// usnChanges lists the entries of a partition changed since a USN,
// tombstones included.
func (c *Connector) usnChanges(ctx context.Context, part string, from uint64) ([]changedEntry, error) {
	var out []changedEntry
	err := c.pool.do(ctx, func(conn *ldap.Conn) error {
		out = out[:0]
		filter := fmt.Sprintf("(uSNChanged>=%d)", from)
		show := ldap.NewControlString(oidShowDeleted, true, "")
		return c.pagedSearchControls(ctx, conn, part, filter, []string{"objectGUID", "isDeleted"}, []ldap.Control{show}, func(e *ldap.Entry) error {
			if g := e.GetRawAttributeValue("objectGUID"); len(g) == 16 {
				out = append(out, changedEntry{guid: g, dn: e.DN, deleted: strings.EqualFold(e.GetAttributeValue("isDeleted"), "TRUE")})
			}
			return nil
		})
	})
	return out, err
}

// errPresentPhase is returned when a content synchronization answers with a
// present phase: deletions would then have to be inferred from the full list
// of present entries, which only a full import can do.
var errPresentPhase = errors.New("the server can no longer list the deletions since the last delta import (the syncprov session log does not reach back that far): run a full import")

// syncRepl runs an RFC 4533 refreshOnly content synchronization from
// cookie, calling f for each changed or deleted entry, and returns the new
// cookie. With a nil cookie (a fresh start) entries are not reported.
func (c *Connector) syncRepl(ctx context.Context, part, filter string, cookie []byte, f func(changedEntry)) ([]byte, error) {
	var out []byte
	err := c.pool.do(ctx, func(conn *ldap.Conn) error {
		out = cookie
		sctx, cancel := context.WithCancel(ctx)
		defer cancel()
		sreq := ldap.NewSearchRequest(part, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, filter, []string{"1.1"}, nil)
		res := conn.Syncrepl(sctx, sreq, 64, ldap.SyncRequestModeRefreshOnly, cookie, false)
		present := false
		for res.Next() {
			for _, ctl := range res.Controls() {
				switch x := ctl.(type) {
				case *ldap.ControlSyncState:
					if len(x.Cookie) > 0 {
						out = x.Cookie
					}
					if f == nil || res.Entry() == nil {
						continue
					}
					switch x.State {
					case ldap.SyncStateAdd, ldap.SyncStateModify:
						f(changedEntry{uuid: x.EntryUUID.String(), dn: res.Entry().DN})
					case ldap.SyncStateDelete:
						f(changedEntry{uuid: x.EntryUUID.String(), dn: res.Entry().DN, deleted: true})
					case ldap.SyncStatePresent:
						present = true
					}
				case *ldap.ControlSyncInfo:
					switch {
					case x.NewCookie != nil:
						out = x.NewCookie.Cookie
					case x.RefreshDelete != nil:
						if len(x.RefreshDelete.Cookie) > 0 {
							out = x.RefreshDelete.Cookie
						}
					case x.RefreshPresent != nil:
						present = true
						if len(x.RefreshPresent.Cookie) > 0 {
							out = x.RefreshPresent.Cookie
						}
					case x.SyncIdSet != nil:
						if len(x.SyncIdSet.Cookie) > 0 {
							out = x.SyncIdSet.Cookie
						}
						if !x.SyncIdSet.RefreshDeletes {
							present = true
							continue
						}
						for _, u := range x.SyncIdSet.SyncUUIDs {
							if f != nil {
								f(changedEntry{uuid: u.String(), deleted: true})
							}
						}
					}
				case *ldap.ControlSyncDone:
					if len(x.Cookie) > 0 {
						out = x.Cookie
					}
				}
			}
		}
		if err := res.Err(); err != nil {
			return err
		}
		if present && cookie != nil && f != nil {
			return errPresentPhase
		}
		return nil
	})
	return out, err
}
