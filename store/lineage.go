package store

import (
	"encoding/json"
	"iter"
	"slices"
	"sort"
	"strings"
)

// Lineage records, for each attribute of an MV object, the contribution
// that won it: the sync rule, its connector and CS object, and the rule's
// precedence.
//
// It is compact: the attribute names are sorted, and each refers to one of
// the object's distinct contributions, which are few (most attributes of an
// object come from one or two rules). An MV object's lineage costs a few
// hundred bytes where a map of contributions cost about a kilobyte, which
// matters for a synchronization that holds every MV object of a big store.
//
// The zero value is the empty lineage. A Lineage is never changed once
// built (build one with a LineageBuilder or NewLineage), so copies share
// it safely. In JSON it is an object keyed by attribute name, as the map it
// replaces was.
type Lineage struct {
	names []string
	from  []uint16 // from[i]: index in srcs of the contribution of names[i]
	srcs  []Contribution
}

// NewLineage builds a lineage from a map of attribute name to contribution.
func NewLineage(m map[string]Contribution) Lineage {
	var b LineageBuilder
	for name, c := range m {
		b.Add(name, c)
	}
	return b.Lineage()
}

// Len returns the number of attributes in l.
func (l Lineage) Len() int { return len(l.names) }

// IsZero reports whether l is empty (for the json omitzero option).
func (l Lineage) IsZero() bool { return len(l.names) == 0 }

// Get returns the contribution that won attribute name.
func (l Lineage) Get(name string) (Contribution, bool) {
	i, ok := slices.BinarySearch(l.names, name)
	if !ok {
		return Contribution{}, false
	}
	return l.srcs[l.from[i]], true
}

// All yields the attributes and their contributions, sorted by name.
func (l Lineage) All() iter.Seq2[string, Contribution] {
	return func(yield func(string, Contribution) bool) {
		for i, name := range l.names {
			if !yield(name, l.srcs[l.from[i]]) {
				return
			}
		}
	}
}

// Map returns l as a map (a new one).
func (l Lineage) Map() map[string]Contribution {
	m := make(map[string]Contribution, len(l.names))
	for name, c := range l.All() {
		m[name] = c
	}
	return m
}

// Equal reports whether a and b hold the same contributions for the same
// attributes.
func (l Lineage) Equal(o Lineage) bool {
	if len(l.names) != len(o.names) {
		return false
	}
	for i, name := range l.names {
		if o.names[i] != name || l.srcs[l.from[i]] != o.srcs[o.from[i]] {
			return false
		}
	}
	return true
}

// MarshalJSON writes l as an object keyed by attribute name.
func (l Lineage) MarshalJSON() ([]byte, error) { return json.Marshal(l.Map()) }

// UnmarshalJSON reads an object keyed by attribute name.
func (l *Lineage) UnmarshalJSON(b []byte) error {
	var m map[string]Contribution
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*l = NewLineage(m)
	return nil
}

// LineageBuilder collects the contributions of a lineage. The zero value
// is ready to use.
type LineageBuilder struct {
	l        Lineage
	unsorted bool // a name was added out of order, or twice
}

// Grow makes room for n more attributes.
func (b *LineageBuilder) Grow(n int) {
	b.l.names = slices.Grow(b.l.names, n)
	b.l.from = slices.Grow(b.l.from, n)
}

// Add records that c won attribute name; a later Add of the same name
// replaces it.
func (b *LineageBuilder) Add(name string, c Contribution) {
	k := -1
	for i := range b.l.srcs {
		if b.l.srcs[i] == c {
			k = i
			break
		}
	}
	if k < 0 {
		k = len(b.l.srcs)
		b.l.srcs = append(b.l.srcs, c)
	}
	if n := len(b.l.names); n > 0 && b.l.names[n-1] >= name {
		b.unsorted = true
	}
	b.l.names = append(b.l.names, name)
	b.l.from = append(b.l.from, uint16(k))
}

// Lineage returns what was added, sorted by attribute name, and resets b.
func (b *LineageBuilder) Lineage() Lineage {
	l, unsorted := b.l, b.unsorted
	*b = LineageBuilder{}
	if len(l.names) == 0 {
		return Lineage{}
	}
	if unsorted {
		sort.Stable(byName{&l})
		// Of several contributions for one name, the last added wins.
		w := 0
		for i := range l.names {
			if i+1 < len(l.names) && l.names[i+1] == l.names[i] {
				continue
			}
			l.names[w], l.from[w] = l.names[i], l.from[i]
			w++
		}
		l.names, l.from = l.names[:w], l.from[:w]
	}
	// Exact-size slices: a lineage lives as long as its MV object.
	if cap(l.names) > len(l.names) {
		l.names = slices.Clone(l.names)
		l.from = slices.Clone(l.from)
	}
	// Canonical form: the contributions in the order of their first
	// attribute, unused ones (replaced by a later Add) dropped, so that
	// two equal lineages are equal field by field.
	canonical := true
	next := uint16(0)
	for _, k := range l.from {
		if k > next {
			canonical = false
			break
		}
		if k == next {
			next++
		}
	}
	if !canonical || int(next) != len(l.srcs) {
		renum := make([]int, len(l.srcs))
		srcs := make([]Contribution, 0, len(l.srcs))
		for i, k := range l.from {
			if renum[k] == 0 {
				srcs = append(srcs, l.srcs[k])
				renum[k] = len(srcs)
			}
			l.from[i] = uint16(renum[k] - 1)
		}
		l.srcs = srcs
	}
	l.srcs = slices.Clip(l.srcs)
	return l
}

type byName struct{ l *Lineage }

func (s byName) Len() int           { return len(s.l.names) }
func (s byName) Less(i, j int) bool { return strings.Compare(s.l.names[i], s.l.names[j]) < 0 }
func (s byName) Swap(i, j int) {
	s.l.names[i], s.l.names[j] = s.l.names[j], s.l.names[i]
	s.l.from[i], s.l.from[j] = s.l.from[j], s.l.from[i]
}
