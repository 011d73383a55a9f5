package engine

import (
	"strings"

	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/store"
)

// csSubject is a CS object as a scoping-filter subject.
type csSubject struct {
	s *state
	c *store.CSObject
}

// Attr returns an attribute; "dn" is the object's DN unless it has an
// attribute of that name.
func (x csSubject) Attr(name string) model.Values {
	if v, ok := x.c.Object.Attrs[name]; ok || name != "dn" || x.c.Object.DN == "" {
		return v
	}
	return model.Values{Type: model.String, Values: []string{x.c.Object.DN}}
}

// MemberOf reports whether the object is a member, directly or through nested
// groups, of the group with the given DN or anchor in the same connector space.
func (x csSubject) MemberOf(group string) bool {
	g := x.s.resolve(x.c.Connector, group)
	if g == nil {
		return false
	}
	me := map[string]bool{strings.ToLower(x.c.Object.Anchor): true}
	if x.c.Object.DN != "" {
		me[strings.ToLower(x.c.Object.DN)] = true
	}
	seen := map[string]bool{g.ID: true}
	queue := []*store.CSObject{g}
	for len(queue) > 0 {
		g, queue = queue[0], queue[1:]
		for _, m := range g.Object.Attrs["member"].Values {
			if me[strings.ToLower(m)] {
				return true
			}
			if sub := x.s.resolve(x.c.Connector, m); sub != nil && !seen[sub.ID] && sub.Object.Attrs.Has("member") {
				seen[sub.ID] = true
				queue = append(queue, sub)
			}
		}
	}
	return false
}

// mvSubject is an MV object as a scoping-filter subject.
type mvSubject struct {
	s *state
	m *store.MVObject
}

func (x mvSubject) Attr(name string) model.Values { return x.m.Attrs[name] }

// MemberOf reports whether the MV object is a member, directly or through
// nested groups, of the MV group with the given ID.
func (x mvSubject) MemberOf(group string) bool {
	seen := map[string]bool{group: true}
	queue := []string{group}
	for len(queue) > 0 {
		g := x.s.getMV(queue[0])
		queue = queue[1:]
		if g == nil {
			continue
		}
		for _, m := range g.Attrs["member"].Values {
			if m == x.m.ID {
				return true
			}
			if !seen[m] {
				seen[m] = true
				queue = append(queue, m)
			}
		}
	}
	return false
}
