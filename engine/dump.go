package engine

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/store"
)

// Canonical renders the metaverse and every pending export as text that does
// not depend on generated identifiers: each MV object is named by the sorted
// connector:anchor keys of its authoritative CS objects, references likewise,
// and provisioned objects by their DN. Two stores with the same logical
// content give byte-identical output (used to test R1.1).
func Canonical(ctx context.Context, st store.Store) (string, error) {
	links := map[string][]string{}
	var cs []*store.CSObject
	if err := st.ScanCS(ctx, "", func(c *store.CSObject) error {
		cs = append(cs, c)
		if c.MVID != "" && !c.Provisioned {
			links[c.MVID] = append(links[c.MVID], c.Connector+":"+c.Object.Anchor)
		}
		return nil
	}); err != nil {
		return "", err
	}
	key := func(mvid string) string {
		k := links[mvid]
		sort.Strings(k)
		if len(k) == 0 {
			return "mv(" + mvid + ")"
		}
		return "[" + strings.Join(k, ",") + "]"
	}
	var lines []string
	if err := st.ScanMV(ctx, func(m *store.MVObject) error {
		var b strings.Builder
		fmt.Fprintf(&b, "mv %s %s", key(m.ID), m.Type)
		for _, a := range m.Attrs.Names() {
			v := m.Attrs[a]
			vals := v.Values
			if v.Type == model.Reference {
				vals = make([]string, len(v.Values))
				for i, r := range v.Values {
					vals[i] = key(r)
				}
				sort.Strings(vals)
			}
			fmt.Fprintf(&b, "\n  %s(%s)=%q", a, v.Type, vals)
			if l, ok := m.Lineage.Get(a); ok {
				fmt.Fprintf(&b, " from %s/%s", l.Connector, l.Rule)
			}
		}
		lines = append(lines, b.String())
		return nil
	}); err != nil {
		return "", err
	}
	for _, c := range cs {
		if c.Pending == nil {
			continue
		}
		// A placeholder's anchor is generated: name it by its DN and MV object.
		name := c.Object.DN + "|" + c.Object.Anchor
		if c.Placeholder {
			name = "new:" + c.Object.DN + " for " + key(c.MVID)
		}
		var b strings.Builder
		fmt.Fprintf(&b, "export %s %s %s %s", c.Connector, name, c.Pending.Op, c.Pending.NewDN)
		for _, ch := range c.Pending.Changes {
			fmt.Fprintf(&b, "\n  %s %s %q", ch.Name, ch.Mode, ch.Values)
		}
		lines = append(lines, b.String())
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n", nil
}
