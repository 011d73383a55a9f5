package engine

import (
	"strings"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/store"
)

// taken reports whether value is taken in attribute attr of target tc by an
// object other than t: an object of the connector space that has it (as
// last imported or exported) or is about to get it (its pending export),
// compared case-insensitively. It answers SelectUniqueValue in outbound
// flows (env.ValueExists). Two objects that pick the same free value in
// one synchronization are not told apart here: the next synchronization
// that recomputes them (before the export) sees each other's pending value,
// and both move on to their next candidates, whatever the order; a connector's unique attributes
// (Connector.Unique) turn it into an error on both instead, which the next
// synchronization repeats (neither holds the value yet).
//
// A whole state answers from an index of the connector's values, built
// once per attribute and run (computeOut runs in parallel); a targeted
// state reads the objects with the value through the store's value keys,
// declared for the target attribute of every outbound SelectUniqueValue
// flow (declareIndexes), a unique attribute of the connector or not.
func (sy *syncer) taken(tc string, t *store.CSObject, attr, value string) bool {
	want := strings.ToLower(value)
	var ids []string
	if sy.s.whole {
		ids = sy.valueIndex(tc, attr)[want]
	} else {
		sy.s.csByKey(tc, store.ValueKey(attr, value))
		ids = sy.s.byConn[tc]
	}
	for _, id := range ids {
		o := sy.s.cs[id]
		if o == nil || id == t.ID || o.Deleted || sy.s.delCS[id] {
			continue
		}
		if holds(o, attr, want) {
			return true
		}
	}
	return false
}

// holds reports whether o has, or its pending export gives it, the value
// want (lower case) in attr.
func holds(o *store.CSObject, attr, want string) bool {
	if o.Pending != nil && o.Pending.Op == connector.OpDelete {
		return false
	}
	vals := o.Object.Attrs[attr].Values
	if o.Pending != nil {
		vals = futureValues(vals, o.Pending.Changes, attr)
	}
	for _, v := range vals {
		if strings.ToLower(v) == want {
			return true
		}
	}
	return false
}

// valueIndex returns, for a whole state, the objects of tc by the lower-case
// values they have or are about to get in attr (built once per run).
func (sy *syncer) valueIndex(tc, attr string) map[string][]string {
	sy.valueIdxMu.Lock()
	defer sy.valueIdxMu.Unlock()
	key := tc + "\x00" + attr
	if ix, ok := sy.valueIdx[key]; ok {
		return ix
	}
	ix := map[string][]string{}
	for _, id := range sy.s.byConn[tc] {
		o := sy.s.cs[id]
		if o == nil {
			continue
		}
		vals := o.Object.Attrs[attr].Values
		if o.Pending != nil {
			vals = append(append([]string(nil), vals...), futureValues(vals, o.Pending.Changes, attr)...)
		}
		for _, v := range vals {
			l := strings.ToLower(v)
			ix[l] = append(ix[l], id)
		}
	}
	if sy.valueIdx == nil {
		sy.valueIdx = map[string]map[string][]string{}
	}
	sy.valueIdx[key] = ix
	return ix
}
