package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/store"
)

// state is the in-memory working set of a synchronization, with the indexes
// joins and reference resolution need. A synchronization loads it, computes,
// and writes back only what changed, in one atomic batch.
//
// A whole state (loadState) holds every connector space object and every
// metaverse object. A targeted state (newTargetedState) starts empty and
// reads from the store only what the synchronization touches — the objects
// it processes, the metaverse objects they link to and those objects' other
// links, join candidates and referrers found through the store's keys — so
// that a delta synchronization costs what it changes, not what the store
// holds. Both give the same result; the computation is the same code, the
// accessors (getCS, getMV, linked, resolve, the lookups of index.go) load
// what is missing. A targeted state is not safe for concurrent use: its
// computations run sequentially.
type state struct {
	// whole: every object is loaded; a miss is an absent object.
	whole bool
	ctx   context.Context
	st    store.Store
	// err is the first store error of a targeted read; the
	// synchronization fails with it before writing anything.
	err error
	// linksLoaded: MV objects whose links were all read (targeted).
	linksLoaded map[string]bool
	// noMV: MV IDs known to be absent from the store (targeted).
	noMV map[string]bool
	// uniqueKeys: the unique-attribute keys of a connector looked up
	// (targeted).
	uniqueKeys map[string]bool
	// created: CS objects the synchronization created (written whole);
	// the others it changes are written as state only.
	created map[string]bool
	// reads counts the objects read from the store (targeted).
	reads int64
	// keyIDs: the IDs of the CS objects with a key, by connector and key,
	// as the store answered (targeted; csByKey).
	keyIDs map[string][]string
	// mvKeyIDs: the IDs of the MV objects with a key, by type and key, as
	// the store answered (targeted; mvLookupTargeted).
	mvKeyIDs map[string][]string

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

func newState(ctx context.Context, st store.Store, whole bool) *state {
	return &state{
		whole:       whole,
		ctx:         ctx,
		st:          st,
		linksLoaded: map[string]bool{},
		noMV:        map[string]bool{},
		uniqueKeys:  map[string]bool{},
		created:     map[string]bool{},
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
}

func loadState(ctx context.Context, st store.Store) (*state, error) {
	s := newState(ctx, st, true)
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
	s.created[c.ID] = true
}

// fail records the first store error of a targeted read.
func (s *state) fail(err error) {
	if s.err == nil {
		s.err = err
	}
}

// loaded adds a CS object read from the store, unless the state holds it
// already (the state's copy is the current one), and returns the state's copy.
func (s *state) loaded(c *store.CSObject) *store.CSObject {
	if have := s.cs[c.ID]; have != nil {
		return have
	}
	s.reads++
	s.addCS(c)
	if c.MVID == "" && !c.Deleted {
		s.indexDisconnector(c)
	}
	return c
}

// getCS returns a CS object by ID (nil when absent).
func (s *state) getCS(id string) *store.CSObject {
	if c := s.cs[id]; c != nil || s.whole {
		return c
	}
	c, err := s.st.GetCS(s.ctx, id)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.fail(fmt.Errorf("read connector space object %s: %w", id, err))
		}
		return nil
	}
	return s.loaded(c)
}

// getMV returns an MV object by ID (nil when absent).
func (s *state) getMV(id string) *store.MVObject {
	if m := s.mv[id]; m != nil || s.whole || s.noMV[id] {
		return m
	}
	m, err := s.st.GetMV(s.ctx, id)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.fail(fmt.Errorf("read metaverse object %s: %w", id, err))
		}
		s.noMV[id] = true
		return nil
	}
	s.reads++
	s.mv[id] = m
	s.indexMV(m)
	return m
}

// ensureLinks reads every CS object joined to MV object mvid.
func (s *state) ensureLinks(mvid string) {
	if s.whole || s.linksLoaded[mvid] {
		return
	}
	s.linksLoaded[mvid] = true
	cs, err := s.st.CSForMV(s.ctx, mvid)
	if err != nil {
		s.fail(fmt.Errorf("read the objects joined to metaverse object %s: %w", mvid, err))
		return
	}
	for _, c := range cs {
		s.loaded(c)
	}
}

// csByKey reads the CS objects of connector that have key and returns the
// state's copies.
func (s *state) csByKey(connector, key string) []*store.CSObject {
	// The store does not change while a state is used (its writes are one
	// batch at the end): a key looked up once has the same objects, which
	// the state now holds, so it is looked up once (the referrers of an
	// object are asked for by several passes; a member by its groups).
	ck := connector + "\x00" + key
	ids, ok := s.keyIDs[ck]
	if !ok {
		var err error
		ids, err = s.st.CSByKey(s.ctx, connector, key)
		if err != nil {
			s.fail(fmt.Errorf("look up %s objects by key: %w", connector, err))
			return nil
		}
		if s.keyIDs == nil {
			s.keyIDs = map[string][]string{}
		}
		s.keyIDs[ck] = ids
	}
	out := make([]*store.CSObject, 0, len(ids))
	for _, id := range ids {
		if c := s.getCS(id); c != nil {
			out = append(out, c)
		}
	}
	return out
}

// byDN returns the live CS object of connector with the DN (nil when none).
func (s *state) byDN(connector, dn string) *store.CSObject {
	if id, ok := s.dn[connector][strings.ToLower(dn)]; ok {
		return s.cs[id]
	}
	if s.whole {
		return nil
	}
	for _, c := range s.csByKey(connector, store.DNKey(dn)) {
		if !s.delCS[c.ID] && strings.EqualFold(c.Object.DN, dn) {
			return c
		}
	}
	return nil
}

// resolve finds the CS object a reference value of connector points at.
func (s *state) resolve(connector, ref string) *store.CSObject {
	if c := s.byDN(connector, ref); c != nil {
		return c
	}
	if id, ok := s.anchor[connector][ref]; ok {
		return s.cs[id]
	}
	if s.whole {
		return nil
	}
	c, err := s.st.GetCSByAnchor(s.ctx, connector, ref)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.fail(fmt.Errorf("read %s object %q: %w", connector, ref, err))
		}
		return nil
	}
	if c = s.loaded(c); s.delCS[c.ID] || c.Object.Anchor != ref {
		return nil
	}
	return c
}

// referrers returns the CS objects whose reference attributes point at c.
func (s *state) referrers(c *store.CSObject) []string {
	if !s.whole {
		// Read them, so that the maps below hold them all.
		s.csByKey(c.Connector, store.RefKey(c.Object.Anchor))
		if c.Object.DN != "" {
			s.csByKey(c.Connector, store.RefKey(c.Object.DN))
		}
	}
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
	s.ensureLinks(mvid)
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
	s.ensureLinks(mvid)
	for _, id := range s.links[mvid] {
		if c := s.cs[id]; c != nil && c.Connector == connector && !s.delCS[id] {
			return c
		}
	}
	return nil
}

// renameCS gives CS object c a new DN in the state.
func (s *state) renameCS(c *store.CSObject, dn string) {
	if c.Object.DN != "" && s.dn[c.Connector][strings.ToLower(c.Object.DN)] == c.ID {
		delete(s.dn[c.Connector], strings.ToLower(c.Object.DN))
	}
	c.Object.DN = dn
	s.indexCS(c)
	s.dirtyCS[c.ID] = true
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
		if s.created[id] {
			b.PutCS = append(b.PutCS, s.cs[id])
		} else {
			// A synchronization changes an existing object's link,
			// flags and pending export, never its values.
			b.PutCSState = append(b.PutCSState, s.cs[id])
		}
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

// prefetch reads, in a few batch queries when the store has them
// (store.BatchReader), what a part of a full synchronization in parts
// will look up one by one: the MV objects mvids and every CS object joined
// to them. Without batch reads it does nothing (the lookups happen as
// they are needed). What it reads is what getMV and ensureLinks would.
func (s *state) prefetch(mvids []string) {
	br, ok := s.st.(store.BatchReader)
	if !ok || s.whole || s.err != nil {
		return
	}
	s.prefetchMVs(mvids)
	var unlinked []string
	for _, id := range mvids {
		if id != "" && !s.linksLoaded[id] {
			unlinked = append(unlinked, id)
		}
	}
	slices.Sort(unlinked)
	unlinked = slices.Compact(unlinked)
	if len(unlinked) > 0 && s.err == nil {
		cs, err := br.CSForMVs(s.ctx, unlinked)
		if err != nil {
			s.fail(fmt.Errorf("read the objects joined to %d metaverse objects: %w", len(unlinked), err))
			return
		}
		for _, id := range unlinked {
			s.linksLoaded[id] = true
		}
		for _, c := range cs {
			s.loaded(c)
		}
	}
}

// readMVs reads the MV objects ids (sorted, none held) in batch queries.
func (s *state) readMVs(br store.BatchReader, ids []string) {
	if len(ids) == 0 {
		return
	}
	ms, err := br.GetMVMany(s.ctx, ids)
	if err != nil {
		s.fail(fmt.Errorf("read %d metaverse objects: %w", len(ids), err))
		return
	}
	for _, m := range ms {
		if s.mv[m.ID] == nil {
			s.reads++
			s.mv[m.ID] = m
			s.indexMV(m)
		}
	}
	for _, id := range ids {
		if s.mv[id] == nil {
			s.noMV[id] = true
		}
	}
}

// prefetchMVs reads the MV objects ids that the state does not hold, in a
// few batch queries, as getMV would one by one.
func (s *state) prefetchMVs(ids []string) {
	br, ok := s.st.(store.BatchReader)
	if !ok || s.whole || s.err != nil {
		return
	}
	var missing []string
	for _, id := range ids {
		if id != "" && s.mv[id] == nil && !s.noMV[id] {
			missing = append(missing, id)
		}
	}
	slices.Sort(missing)
	s.readMVs(br, slices.Compact(missing))
}

// prefetchMVKeys looks up in one batch per MV object type the keys that
// mvLookupTargeted will ask for (keys: MV object type → keys), records
// the answers as it would, and reads the MV objects they name.
func (s *state) prefetchMVKeys(keys map[string][]string) {
	br, ok := s.st.(store.BatchReader)
	if !ok || s.whole || s.err != nil {
		return
	}
	var read []string
	for _, typ := range slices.Sorted(maps.Keys(keys)) {
		var ask []string
		for _, k := range keys[typ] {
			if _, done := s.mvKeyIDs[typ+"\x00"+k]; !done {
				ask = append(ask, k)
			}
		}
		slices.Sort(ask)
		ask = slices.Compact(ask)
		if len(ask) == 0 {
			continue
		}
		found, err := br.MVByKeys(s.ctx, typ, ask)
		if err != nil {
			s.fail(fmt.Errorf("look up %d keys of %s metaverse objects: %w", len(ask), typ, err))
			return
		}
		if s.mvKeyIDs == nil {
			s.mvKeyIDs = map[string][]string{}
		}
		for _, k := range ask {
			s.mvKeyIDs[typ+"\x00"+k] = found[k]
			read = append(read, found[k]...)
		}
	}
	s.prefetchMVs(read)
}

// prefetchCSKeys is prefetchKeys for several connectors (keys: connector
// → keys); it returns the MV objects the objects found are joined to.
func (s *state) prefetchCSKeys(keys map[string][]string) []string {
	var mvids []string
	for _, conn := range slices.Sorted(maps.Keys(keys)) {
		mvids = append(mvids, s.prefetchKeys(conn, keys[conn])...)
	}
	return mvids
}

// referencedMVs returns the values of the reference attributes of the MV
// objects ids (the IDs of the MV objects they name).
func (s *state) referencedMVs(ids []string) []string {
	var out []string
	for _, id := range ids {
		if m := s.mv[id]; m != nil {
			for _, v := range m.Attrs {
				if v.Type == model.Reference {
					out = append(out, v.Values...)
				}
			}
		}
	}
	return out
}

// prefetchKeys looks the keys of connector up in one batch (when the store
// has batch reads), records each key's objects as csByKey would, and
// reads those objects in one batch too. It returns the MV objects they are
// joined to.
func (s *state) prefetchKeys(connector string, keys []string) []string {
	br, ok := s.st.(store.BatchReader)
	if !ok || s.whole || s.err != nil {
		return nil
	}
	var ask []string
	for _, k := range keys {
		if _, done := s.keyIDs[connector+"\x00"+k]; !done {
			ask = append(ask, k)
		}
	}
	slices.Sort(ask)
	ask = slices.Compact(ask)
	if len(ask) == 0 {
		return nil
	}
	found, err := br.CSByKeys(s.ctx, connector, ask)
	if err != nil {
		s.fail(fmt.Errorf("look up %d keys of %s objects: %w", len(ask), connector, err))
		return nil
	}
	if s.keyIDs == nil {
		s.keyIDs = map[string][]string{}
	}
	var read []string
	for _, k := range ask {
		ids := found[k]
		s.keyIDs[connector+"\x00"+k] = ids
		for _, id := range ids {
			if s.cs[id] == nil {
				read = append(read, id)
			}
		}
	}
	slices.Sort(read)
	read = slices.Compact(read)
	if len(read) == 0 {
		return nil
	}
	objs, err := br.GetCSMany(s.ctx, read)
	if err != nil {
		s.fail(fmt.Errorf("read %d %s objects: %w", len(read), connector, err))
		return nil
	}
	var mvids []string
	for _, o := range objs {
		if c := s.loaded(o); c.MVID != "" {
			mvids = append(mvids, c.MVID)
		}
	}
	return mvids
}
