package engine

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/store"
)

// state is the in-memory working set of a synchronization: every connector
// space object and every metaverse object, with the indexes joins and
// reference resolution need. A synchronization loads it, computes, and writes
// back only what changed, in one atomic batch.
type state struct {
	cs     map[string]*store.CSObject // by CS ID
	mv     map[string]*store.MVObject // by MV ID
	links  map[string][]string        // MV ID → CS IDs
	byConn map[string][]string        // connector → CS IDs (sorted)
	anchor map[string]map[string]string
	dn     map[string]map[string]string // connector → lower(DN) → CS ID

	// refs: connector → lower(DN or anchor) → CS IDs whose reference
	// attributes point at it (who must be recomputed when it joins or leaves).
	refs map[string]map[string][]string

	// join indexes, built on demand (index.go)
	mvIdx       map[string]*attrIndex
	mvIdxByType map[string][]*attrIndex
	csIdx       map[string]*attrIndex
	csIdxByConn map[string][]*attrIndex

	dirtyCS   map[string]bool // CS objects to write back
	changedMV map[string]bool // MV objects to write back
	delCS     map[string]bool
	delMV     map[string]bool
	// recompute: MV objects whose attributes must be recomputed.
	recompute map[string]bool
}

func loadState(ctx context.Context, st store.Store) (*state, error) {
	s := &state{
		cs:          map[string]*store.CSObject{},
		mv:          map[string]*store.MVObject{},
		links:       map[string][]string{},
		byConn:      map[string][]string{},
		anchor:      map[string]map[string]string{},
		dn:          map[string]map[string]string{},
		refs:        map[string]map[string][]string{},
		mvIdx:       map[string]*attrIndex{},
		mvIdxByType: map[string][]*attrIndex{},
		csIdx:       map[string]*attrIndex{},
		csIdxByConn: map[string][]*attrIndex{},
		dirtyCS:     map[string]bool{},
		changedMV:   map[string]bool{},
		delCS:       map[string]bool{},
		delMV:       map[string]bool{},
		recompute:   map[string]bool{},
	}
	if err := st.ScanMV(ctx, func(m *store.MVObject) error {
		s.mv[m.ID] = m
		return nil
	}); err != nil {
		return nil, fmt.Errorf("load metaverse: %w", err)
	}
	if err := st.ScanCS(ctx, "", func(c *store.CSObject) error {
		s.addCS(c)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("load connector spaces: %w", err)
	}
	return s, nil
}

func (s *state) addCS(c *store.CSObject) {
	s.cs[c.ID] = c
	s.byConn[c.Connector] = append(s.byConn[c.Connector], c.ID)
	s.indexCS(c)
	if c.MVID != "" {
		s.links[c.MVID] = append(s.links[c.MVID], c.ID)
	}
	for _, v := range c.Object.Attrs {
		if v.Type != model.Reference {
			continue
		}
		m := s.refs[c.Connector]
		if m == nil {
			m = map[string][]string{}
			s.refs[c.Connector] = m
		}
		for _, r := range v.Values {
			k := strings.ToLower(r)
			m[k] = append(m[k], c.ID)
		}
	}
}

func (s *state) indexCS(c *store.CSObject) {
	if s.anchor[c.Connector] == nil {
		s.anchor[c.Connector] = map[string]string{}
		s.dn[c.Connector] = map[string]string{}
	}
	s.anchor[c.Connector][c.Object.Anchor] = c.ID
	if c.Object.DN != "" {
		s.dn[c.Connector][strings.ToLower(c.Object.DN)] = c.ID
	}
}

// newCS adds a CS object created by the synchronization.
func (s *state) newCS(c *store.CSObject) {
	s.addCS(c)
	s.dirtyCS[c.ID] = true
}

// resolve finds the CS object a reference value of connector points at.
func (s *state) resolve(connector, ref string) *store.CSObject {
	if id, ok := s.dn[connector][strings.ToLower(ref)]; ok {
		return s.cs[id]
	}
	if id, ok := s.anchor[connector][ref]; ok {
		return s.cs[id]
	}
	return nil
}

// referrers returns the CS objects whose reference attributes point at c.
func (s *state) referrers(c *store.CSObject) []string {
	m := s.refs[c.Connector]
	if m == nil {
		return nil
	}
	out := m[strings.ToLower(c.Object.Anchor)]
	if c.Object.DN != "" {
		out = append(out[:len(out):len(out)], m[strings.ToLower(c.Object.DN)]...)
	}
	return out
}

// link joins a CS object to an MV object.
func (s *state) link(c *store.CSObject, mvid, rule string) {
	c.MVID = mvid
	c.LinkRule = rule
	s.links[mvid] = append(s.links[mvid], c.ID)
	s.dirtyCS[c.ID] = true
	s.recompute[mvid] = true
	s.unindexDisconnector(c)
}

// unlink disconnects a CS object from its MV object.
func (s *state) unlink(c *store.CSObject) {
	if c.MVID == "" {
		return
	}
	ids := s.links[c.MVID]
	for i, id := range ids {
		if id == c.ID {
			ids = append(ids[:i:i], ids[i+1:]...)
			break
		}
	}
	if len(ids) == 0 {
		delete(s.links, c.MVID)
	} else {
		s.links[c.MVID] = ids
	}
	s.recompute[c.MVID] = true
	c.MVID = ""
	c.LinkRule = ""
	s.dirtyCS[c.ID] = true
	s.indexDisconnector(c)
}

// linked returns the CS objects joined to an MV object, sorted by connector
// then anchor so that every computation over them is deterministic.
func (s *state) linked(mvid string) []*store.CSObject {
	ids := s.links[mvid]
	out := make([]*store.CSObject, 0, len(ids))
	for _, id := range ids {
		if c := s.cs[id]; c != nil && !s.delCS[id] {
			out = append(out, c)
		}
	}
	if len(out) > 1 {
		sort.Slice(out, func(i, j int) bool {
			if out[i].Connector != out[j].Connector {
				return out[i].Connector < out[j].Connector
			}
			return out[i].Object.Anchor < out[j].Object.Anchor
		})
	}
	return out
}

// linkedIn returns the CS object of connector joined to mvid, or nil.
func (s *state) linkedIn(mvid, connector string) *store.CSObject {
	for _, id := range s.links[mvid] {
		if c := s.cs[id]; c != nil && c.Connector == connector && !s.delCS[id] {
			return c
		}
	}
	return nil
}

// deleteCS removes a CS object from the state (and, at write-back, the store).
func (s *state) deleteCS(c *store.CSObject) {
	s.unlink(c)
	s.delCS[c.ID] = true
	delete(s.dirtyCS, c.ID)
	if s.anchor[c.Connector][c.Object.Anchor] == c.ID {
		delete(s.anchor[c.Connector], c.Object.Anchor)
	}
	if c.Object.DN != "" && s.dn[c.Connector][strings.ToLower(c.Object.DN)] == c.ID {
		delete(s.dn[c.Connector], strings.ToLower(c.Object.DN))
	}
	s.unindexDisconnector(c)
}

func (s *state) deleteMV(id string) {
	s.delMV[id] = true
	delete(s.changedMV, id)
	delete(s.recompute, id)
	if m := s.mv[id]; m != nil {
		s.unindexMV(m)
	}
}

// batch collects the changes to write back.
func (s *state) batch() *store.Batch {
	b := &store.Batch{}
	ids := make([]string, 0, len(s.dirtyCS))
	for id := range s.dirtyCS {
		if !s.delCS[id] {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		b.PutCS = append(b.PutCS, s.cs[id])
	}
	for id := range s.delCS {
		b.DeleteCS = append(b.DeleteCS, id)
	}
	sort.Strings(b.DeleteCS)
	ids = ids[:0]
	for id := range s.changedMV {
		if !s.delMV[id] && s.mv[id] != nil {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		b.PutMV = append(b.PutMV, s.mv[id])
	}
	for id := range s.delMV {
		b.DeleteMV = append(b.DeleteMV, id)
	}
	sort.Strings(b.DeleteMV)
	return b
}
