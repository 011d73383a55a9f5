package ldap

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// The OU tree of a partition with the selection of the OU-based filtering
// (R2.7), for the console's checkboxes and `idsync connector containers`.
// The states are computed with the same inScope the imports use, and a
// selection edited in the tree is turned back into containers.include,
// exclude and noNewChildren that give exactly that selection, so the tree
// never shows anything the next import would not do.

// Subtree states of a tree node: its own selection and its descendants'.
const (
	SubtreeAll  = "all"  // it and every container under it are synchronized
	SubtreeSome = "some" // some are, some are not
	SubtreeNone = "none" // neither it nor any container under it is
)

// TreeNode is a container of the tree (the first node is the partition).
type TreeNode struct {
	DN    string `json:"dn"`
	Name  string `json:"name"`
	Depth int    `json:"depth"`
	// Parent is the index of the parent node; -1 for the partition.
	Parent int `json:"parent"`
	// Selected: the objects directly in the container are synchronized.
	Selected bool `json:"selected"`
	// NewChildren: a container created under it later would be
	// synchronized (Azure AD Connect's "synchronize new OUs"); false is
	// "don't synchronize new OUs".
	NewChildren bool `json:"newChildren"`
	// Subtree is all, some or none (the tri-state checkbox).
	Subtree string `json:"subtree"`
	// HasChildren: containers are listed under it.
	HasChildren bool `json:"hasChildren"`

	norm string
}

// Tree is a partition's containers with their selection, parents before
// children.
type Tree struct {
	Partition string     `json:"partition"`
	Nodes     []TreeNode `json:"nodes"`
}

// ContainerTree reads the containers of a partition from the directory and
// returns them with the selection of the connector's configuration.
func (c *Connector) ContainerTree(ctx context.Context, partition string) (*Tree, error) {
	cs, err := c.Containers(ctx, partition)
	if err != nil {
		return nil, err
	}
	return BuildTree(partition, cs, c.s.Containers)
}

// ContainerSelection is the configured OU filtering of the connector.
func (c *Connector) ContainerSelection() Containers { return c.s.Containers }

// probeRDNs name a child entry and a new child container that no
// configuration lists: inScope of an entry under a node tells whether the
// node's objects are synchronized, of one in a new container under it,
// whether new containers are.
const (
	probeEntry = "cn=idsync-probe-entry"
	probeOU    = "ou=idsync-probe-new-container"
)

// BuildTree returns the tree of a partition's containers (as listed by
// Containers) with the states sel gives them.
func BuildTree(partition string, cs []Container, sel Containers) (*Tree, error) {
	s, err := newSettings(Config{URL: "ldap://tree", Containers: sel})
	if err != nil {
		return nil, err
	}
	p, err := normDN(partition)
	if err != nil {
		return nil, err
	}
	t := &Tree{Partition: partition, Nodes: []TreeNode{{DN: partition, Name: partition, Parent: -1, norm: p}}}
	index := map[string]int{p: 0}
	for _, ct := range cs {
		anc, err := ancestors(ct.DN)
		if err != nil {
			return nil, err
		}
		if anc[0] == p || !strings.HasSuffix(anc[0], ","+p) {
			continue
		}
		parent := 0
		for _, a := range anc[1:] {
			if i, ok := index[a]; ok {
				parent = i
				break
			}
		}
		index[anc[0]] = len(t.Nodes)
		t.Nodes[parent].HasChildren = true
		t.Nodes = append(t.Nodes, TreeNode{DN: ct.DN, Name: ct.Name, Parent: parent, Depth: t.Nodes[parent].Depth + 1, norm: anc[0]})
	}
	for i := range t.Nodes {
		n := &t.Nodes[i]
		if n.Selected, err = s.inScope(probeEntry + "," + n.DN); err != nil {
			return nil, err
		}
		if n.NewChildren, err = s.inScope(probeEntry + "," + probeOU + "," + n.DN); err != nil {
			return nil, err
		}
	}
	// Subtree states, children before parents (nodes are in DN order).
	all := make([]bool, len(t.Nodes))
	none := make([]bool, len(t.Nodes))
	for i := range t.Nodes {
		all[i], none[i] = t.Nodes[i].Selected, !t.Nodes[i].Selected
	}
	for i := len(t.Nodes) - 1; i > 0; i-- {
		p := t.Nodes[i].Parent
		all[p] = all[p] && all[i]
		none[p] = none[p] && none[i]
	}
	for i := range t.Nodes {
		switch {
		case all[i]:
			t.Nodes[i].Subtree = SubtreeAll
		case none[i]:
			t.Nodes[i].Subtree = SubtreeNone
		default:
			t.Nodes[i].Subtree = SubtreeSome
		}
	}
	return t, nil
}

// Choice is the selection asked for one node of a tree.
type Choice struct {
	Selected    bool
	NewChildren bool
}

// Select returns the OU filtering that gives the tree's nodes the choices
// asked (by DN, compared as DNs; a node not in choices keeps the state it
// has in the tree), keeping what cur says about other
// partitions. partitions are all the connector's partitions: when the
// include list stops being empty, the partitions without an include of
// their own keep being synchronized whole. The result is checked: built
// back into a tree, it must give every node exactly the choice asked.
func (t *Tree) Select(choices map[string]Choice, cur Containers, partitions []string) (Containers, error) {
	want := make([]Choice, len(t.Nodes))
	asked := map[int]bool{}
	for dn, ch := range choices {
		if _, err := normDN(dn); err != nil {
			return Containers{}, err
		}
		i := t.Node(dn)
		if i < 0 {
			return Containers{}, fmt.Errorf("container %q is not in the tree of %s (moved, renamed or deleted since the tree was read? read it again)", dn, t.Partition)
		}
		want[i], asked[i] = ch, true
	}
	var out Containers
	rootOut := false
	for i, n := range t.Nodes {
		if !asked[i] { // not asked: as it is
			want[i] = Choice{Selected: n.Selected, NewChildren: n.NewChildren || !n.Selected}
		}
		w := want[i]
		inherited := i > 0 && want[n.Parent].Selected && want[n.Parent].NewChildren
		switch {
		case i == 0 && !w.Selected:
			out.Exclude = append(out.Exclude, n.DN) // the partition: nothing above decides
			rootOut = true
		case w.Selected && !inherited:
			out.Include = append(out.Include, n.DN)
		case !w.Selected && inherited:
			out.Exclude = append(out.Exclude, n.DN)
		}
		if w.Selected && !w.NewChildren {
			out.NoNewChildren = append(out.NoNewChildren, n.DN)
		}
	}
	// The other partitions' lists stay as they are.
	p := t.Nodes[0].norm
	under := func(dn, part string) bool {
		n, err := normDN(dn)
		return err == nil && (n == part || strings.HasSuffix(n, ","+part))
	}
	keep := func(list []string) []string {
		return slices.DeleteFunc(slices.Clone(list), func(dn string) bool { return under(dn, p) })
	}
	others := Containers{Include: keep(cur.Include), Exclude: keep(cur.Exclude), NoNewChildren: keep(cur.NoNewChildren)}
	if len(out.Include) == 1 && out.Include[0] == t.Nodes[0].DN && len(others.Include) == 0 {
		// Only the partition is included: without an include list,
		// everything not excluded is in scope, the same thing written
		// the way an admin would.
		out.Include = nil
	}
	if len(out.Include) > 0 && len(others.Include) == 0 {
		// An include list now exists: the other partitions, whole until
		// now, are included by name so that they stay whole.
		for _, op := range partitions {
			n, err := normDN(op)
			if err != nil || n == p || slices.ContainsFunc(others.Exclude, func(dn string) bool { m, _ := normDN(dn); return m == n }) {
				continue
			}
			others.Include = append(others.Include, op)
		}
	}
	if rootOut && len(out.Include)+len(others.Include) > 0 {
		// With an include list, a partition not included is out of scope
		// without being excluded.
		out.Exclude = slices.DeleteFunc(out.Exclude, func(dn string) bool { return dn == t.Nodes[0].DN })
	}
	res := Containers{
		Include:       append(others.Include, out.Include...),
		Exclude:       append(others.Exclude, out.Exclude...),
		NoNewChildren: append(others.NoNewChildren, out.NoNewChildren...),
	}
	// Check: the new filtering gives every node the choice asked.
	cs := make([]Container, 0, len(t.Nodes)-1)
	for _, n := range t.Nodes[1:] {
		cs = append(cs, Container{DN: n.DN, Name: n.Name})
	}
	got, err := BuildTree(t.Partition, cs, res)
	if err != nil {
		return Containers{}, err
	}
	for i, n := range got.Nodes {
		if n.Selected != want[i].Selected || (n.Selected && n.NewChildren != want[i].NewChildren) {
			return Containers{}, fmt.Errorf("the OU selection of %s cannot be written as containers.include/exclude/noNewChildren (node %s: want selected %v, new OUs %v; got %v, %v): please report this",
				t.Partition, n.DN, want[i].Selected, want[i].NewChildren, n.Selected, n.NewChildren)
		}
	}
	return res, nil
}

// Node returns the index of the node with the DN (compared as DNs), or -1.
func (t *Tree) Node(dn string) int {
	n, err := normDN(dn)
	if err != nil {
		return -1
	}
	return slices.IndexFunc(t.Nodes, func(tn TreeNode) bool { return tn.norm == n })
}
