package engine

import (
	"fmt"
	"slices"
	"strings"

	"github.com/idsync/idsync/store"
)

// An attribute index over metaverse objects of one type, or over the
// disconnectors of one connector and object type, built the first time a join
// needs it and kept current as objects change during the synchronization.
type attrIndex struct {
	objType string // CS object type ("" for MV indexes)
	attr    string
	exact   bool // case-sensitive
	m       map[string][]string
}

func norm(v string, exact bool) string {
	if exact {
		return v
	}
	return strings.ToLower(v)
}

func (ix *attrIndex) add(id string, vals []string) {
	for _, v := range vals {
		k := norm(v, ix.exact)
		ix.m[k] = append(ix.m[k], id)
	}
}

func (ix *attrIndex) remove(id string, vals []string) {
	for _, v := range vals {
		k := norm(v, ix.exact)
		ids := ix.m[k]
		for i, x := range ids {
			if x == id {
				ids = append(ids[:i:i], ids[i+1:]...)
				break
			}
		}
		if len(ids) == 0 {
			delete(ix.m, k)
		} else {
			ix.m[k] = ids
		}
	}
}

func idxKey(space, objType, attr string, exact bool) string {
	k := space + "\x00" + objType + "\x00" + attr
	if exact {
		k += "\x00="
	}
	return k
}

// hasNorm reports whether one of vals is want once normalized (norm).
func hasNorm(vals []string, want string, exact bool) bool {
	return slices.ContainsFunc(vals, func(v string) bool { return norm(v, exact) == want })
}

// mvLookup returns the MV objects of mvType whose attr has value.
func (s *state) mvLookup(mvType, attr string, exact bool, value string) []string {
	if !s.whole {
		return s.mvLookupTargeted(mvType, attr, exact, value)
	}
	return s.mvIndexed(mvType, attr, exact, value)
}

// mvLookupTargeted finds them through the store's keys and the objects the
// state holds (which may have changed since they were stored), and checks
// each: the keys are case-insensitive and may be stale.
func (s *state) mvLookupTargeted(mvType, attr string, exact bool, value string) []string {
	// As in csByKey, the store's answer for a key holds while the state
	// is used: a key is looked up once (or by prefetchMVKeys, in a batch).
	key := store.ValueKey(attr, value)
	ck := mvType + "\x00" + key
	ids, ok := s.mvKeyIDs[ck]
	if !ok {
		var err error
		if ids, err = s.st.MVByKey(s.ctx, mvType, key); err != nil {
			s.fail(fmt.Errorf("look up metaverse objects by %s: %w", attr, err))
			return nil
		}
		if s.mvKeyIDs == nil {
			s.mvKeyIDs = map[string][]string{}
		}
		s.mvKeyIDs[ck] = ids
	}
	for _, id := range ids {
		s.getMV(id)
	}
	want := norm(value, exact)
	var out []string
	for _, id := range s.mvIndexed(mvType, attr, exact, value) {
		m := s.mv[id]
		if m == nil || s.delMV[id] || m.Type != mvType || !hasNorm(m.Attrs[attr].Values, want, exact) {
			continue
		}
		out = append(out, id)
	}
	return out
}

func (s *state) mvIndexed(mvType, attr string, exact bool, value string) []string {
	key := idxKey(mvType, "", attr, exact)
	ix, ok := s.mvIdx[key]
	if !ok {
		ix = &attrIndex{attr: attr, exact: exact, m: map[string][]string{}}
		for id, m := range s.mv {
			if m.Type == mvType && !s.delMV[id] {
				ix.add(id, m.Attrs[attr].Values)
			}
		}
		s.mvIdx[key] = ix
		s.mvIdxByType[mvType] = append(s.mvIdxByType[mvType], ix)
	}
	return ix.m[norm(value, exact)]
}

func (s *state) unindexMV(m *store.MVObject) {
	for _, ix := range s.mvIdxByType[m.Type] {
		ix.remove(m.ID, m.Attrs[ix.attr].Values)
	}
}

func (s *state) indexMV(m *store.MVObject) {
	for _, ix := range s.mvIdxByType[m.Type] {
		ix.add(m.ID, m.Attrs[ix.attr].Values)
	}
}

// csLookup returns the disconnectors of connector and csType whose attr has value.
func (s *state) csLookup(connector, csType, attr string, exact bool, value string) []string {
	if s.whole {
		return s.csIndexed(connector, csType, attr, exact, value)
	}
	s.csByKey(connector, store.ValueKey(attr, value))
	want := norm(value, exact)
	var out []string
	for _, id := range s.csIndexed(connector, csType, attr, exact, value) {
		c := s.cs[id]
		if c == nil || c.MVID != "" || c.Object.Type != csType || s.delCS[id] || c.Deleted ||
			!hasNorm(c.Object.Attrs[attr].Values, want, exact) {
			continue
		}
		out = append(out, id)
	}
	return out
}

func (s *state) csIndexed(connector, csType, attr string, exact bool, value string) []string {
	key := idxKey(connector, csType, attr, exact)
	ix, ok := s.csIdx[key]
	if !ok {
		ix = &attrIndex{objType: csType, attr: attr, exact: exact, m: map[string][]string{}}
		for _, id := range s.byConn[connector] {
			c := s.cs[id]
			if c.MVID == "" && c.Object.Type == csType && !s.delCS[id] && !c.Deleted {
				ix.add(id, c.Object.Attrs[attr].Values)
			}
		}
		s.csIdx[key] = ix
		s.csIdxByConn[connector] = append(s.csIdxByConn[connector], ix)
	}
	return ix.m[norm(value, exact)]
}

// unindexDisconnector removes c from the disconnector indexes (it joined or
// was deleted).
func (s *state) unindexDisconnector(c *store.CSObject) {
	for _, ix := range s.csIdxByConn[c.Connector] {
		if ix.objType == c.Object.Type {
			ix.remove(c.ID, c.Object.Attrs[ix.attr].Values)
		}
	}
}

// indexDisconnector adds c to the disconnector indexes (it was disconnected).
func (s *state) indexDisconnector(c *store.CSObject) {
	for _, ix := range s.csIdxByConn[c.Connector] {
		if ix.objType == c.Object.Type {
			ix.add(c.ID, c.Object.Attrs[ix.attr].Values)
		}
	}
}
