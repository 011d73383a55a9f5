package ldap

import (
	"context"
	"strings"
	"testing"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/internal/peers"
)

func nodeOf(t *testing.T, tr *Tree, dn string) TreeNode {
	t.Helper()
	for _, n := range tr.Nodes {
		if strings.EqualFold(n.DN, dn) {
			return n
		}
	}
	t.Fatalf("%s is not in the tree: %+v", dn, tr.Nodes)
	return TreeNode{}
}

// TestSlapdContainerTree: the OU tree read from slapd, with the states of
// the configured filtering; a selection made in the tree (an OU
// unselected, a parent set to "don't synchronize new OUs") written back
// as containers gives the next full import exactly what the tree shows,
// and a container created afterwards follows its parent's choice.
func TestSlapdContainerTree(t *testing.T) {
	srv := peers.Slapd(t)
	a := admin(t, srv)
	people := "ou=people," + srv.BaseDN
	ou := func(dn string) {
		mustAdd(t, a, dn, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {strings.TrimPrefix(strings.SplitN(dn, ",", 2)[0], "ou=")}})
	}
	for _, o := range []string{"ou=sales", "ou=staff", "ou=east,ou=sales", "ou=west,ou=sales"} {
		ou(o + "," + people)
	}
	for cn, where := range map[string]string{"ana": "ou=east,ou=sales", "bo": "ou=west,ou=sales", "cy": "ou=staff", "di": "ou=sales"} {
		mustAdd(t, a, "cn="+cn+","+where+","+people, person(cn))
	}
	c := newSlapdConnector(t, srv, nil)
	ctx := context.Background()
	tr, err := c.ContainerTree(ctx, srv.BaseDN)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Nodes[0].DN != srv.BaseDN || tr.Nodes[0].Subtree != SubtreeAll || !nodeOf(t, tr, "ou=west,ou=sales,"+people).Selected {
		t.Fatalf("tree without filtering: %+v", tr.Nodes)
	}
	if n := nodeOf(t, tr, "ou=east,ou=sales,"+people); n.Depth != 3 || tr.Nodes[n.Parent].Name != "sales" {
		t.Errorf("east: %+v", n)
	}
	// Unselect west; sales stops synchronizing new OUs.
	sel, err := tr.Select(map[string]Choice{
		"ou=west,ou=sales," + people: {Selected: false},
		"ou=sales," + people:         {Selected: true, NewChildren: false},
		"ou=east,ou=sales," + people: {Selected: true, NewChildren: true},
	}, c.ContainerSelection(), []string{srv.BaseDN})
	if err != nil {
		t.Fatal(err)
	}
	c2 := newSlapdConnector(t, srv, func(cfg *Config) { cfg.Containers = sel })
	tr2, err := c2.ContainerTree(ctx, srv.BaseDN)
	if err != nil {
		t.Fatal(err)
	}
	if s := nodeOf(t, tr2, "ou=sales,"+people); !s.Selected || s.NewChildren || s.Subtree != SubtreeSome {
		t.Errorf("sales after the change: %+v (filtering %+v)", s, sel)
	}
	if w := nodeOf(t, tr2, "ou=west,ou=sales,"+people); w.Selected || w.Subtree != SubtreeNone {
		t.Errorf("west after the change: %+v", w)
	}
	if p := nodeOf(t, tr2, people); p.Subtree != SubtreeSome {
		t.Errorf("people after the change: %+v", p)
	}
	im := fullImport(t, c2, connector.ImportRequest{Attributes: []string{"cn"}})
	for _, cn := range []string{"ana", "cy", "di"} {
		if im.byName[cn] == nil {
			t.Errorf("%s not imported", cn)
		}
	}
	if im.byName["bo"] != nil {
		t.Error("bo, in the unselected west, was imported")
	}
	// A new OU under sales (don't synchronize new OUs) stays out; one under
	// staff (new OUs synchronized) comes in.
	ou("ou=north,ou=sales," + people)
	ou("ou=temps,ou=staff," + people)
	mustAdd(t, a, "cn=ed,ou=north,ou=sales,"+people, person("ed"))
	mustAdd(t, a, "cn=flo,ou=temps,ou=staff,"+people, person("flo"))
	im = fullImport(t, c2, connector.ImportRequest{Attributes: []string{"cn"}})
	if im.byName["ed"] != nil || im.byName["flo"] == nil {
		t.Errorf("new OUs: ed (under sales) imported %v, flo (under staff) imported %v", im.byName["ed"] != nil, im.byName["flo"] != nil)
	}
	tr3, err := c2.ContainerTree(ctx, srv.BaseDN)
	if err != nil {
		t.Fatal(err)
	}
	if n := nodeOf(t, tr3, "ou=north,ou=sales,"+people); n.Selected {
		t.Errorf("north shows selected: %+v", n)
	}
	if n := nodeOf(t, tr3, "ou=temps,ou=staff,"+people); !n.Selected {
		t.Errorf("temps shows unselected: %+v", n)
	}
}

// TestADContainerTree: the OU tree of a Samba AD domain (OUs, CN=Users,
// the Builtin container), and an OU excluded in it leaves the import.
func TestADContainerTree(t *testing.T) {
	srv := peers.Samba(t, peers.SambaOptions{})
	a := admin(t, srv)
	base := adOU(t, a, srv)
	for _, o := range []string{"OU=Keep," + base, "OU=Drop," + base} {
		mustAdd(t, a, o, map[string][]string{"objectClass": {"organizationalUnit"}})
	}
	mustAdd(t, a, "CN=keeper,OU=Keep,"+base, adUser("keeper", 512))
	mustAdd(t, a, "CN=dropper,OU=Drop,"+base, adUser("dropper", 512))
	c := newADConnector(t, srv, func(cfg *Config) { cfg.Containers.Include = []string{base} })
	ctx := context.Background()
	tr, err := c.ContainerTree(ctx, srv.BaseDN)
	if err != nil {
		t.Fatal(err)
	}
	if u := nodeOf(t, tr, "CN=Users,"+srv.BaseDN); u.Selected || u.Depth != 1 {
		t.Errorf("CN=Users with only the test's OU included: %+v", u)
	}
	if n := nodeOf(t, tr, "OU=Drop,"+base); !n.Selected || tr.Nodes[0].Subtree != SubtreeSome {
		t.Errorf("Drop %+v, root %+v", n, tr.Nodes[0])
	}
	sel, err := tr.Select(map[string]Choice{"OU=Drop," + base: {Selected: false}}, c.ContainerSelection(), []string{srv.BaseDN})
	if err != nil {
		t.Fatal(err)
	}
	c2 := newADConnector(t, srv, func(cfg *Config) { cfg.Containers = sel })
	im := adImport(t, c2, srv.BaseDN, "cn")
	if im.byName["keeper"] == nil || im.byName["dropper"] != nil {
		t.Errorf("after excluding Drop (%+v): keeper %v, dropper %v", sel, im.byName["keeper"] != nil, im.byName["dropper"] != nil)
	}
}
