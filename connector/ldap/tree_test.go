package ldap

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

const treeBase = "DC=contoso,DC=test"

// treeContainers: Sales (East, West (Old)), Staff, CN=Users.
var treeContainers = []Container{
	{DN: "OU=Sales," + treeBase, Name: "Sales"},
	{DN: "OU=East,OU=Sales," + treeBase, Name: "East"},
	{DN: "OU=West,OU=Sales," + treeBase, Name: "West"},
	{DN: "OU=Old,OU=West,OU=Sales," + treeBase, Name: "Old"},
	{DN: "OU=Staff," + treeBase, Name: "Staff"},
	{DN: "CN=Users," + treeBase, Name: "Users"},
}

func states(t *testing.T, sel Containers) map[string]string {
	t.Helper()
	tr, err := BuildTree(treeBase, treeContainers, sel)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, n := range tr.Nodes {
		name := n.Name
		if n.Parent < 0 {
			name = "root"
		}
		s := "-"
		if n.Selected {
			s = "x"
			if !n.NewChildren {
				s = "x!" // don't synchronize new OUs
			}
		}
		out[name] = s + " " + n.Subtree
	}
	return out
}

// TestBuildTree: the tree's states are what the imports do, for the
// filterings of connectors.md (Azure AD Connect's semantics: a selected
// parent includes new children, an excluded child stays excluded, a parent
// set to "don't synchronize new OUs" only its selected children).
func TestBuildTree(t *testing.T) {
	for _, tc := range []struct {
		name string
		sel  Containers
		want map[string]string
	}{
		{"everything", Containers{}, map[string]string{"root": "x all", "Sales": "x all", "East": "x all", "West": "x all", "Old": "x all", "Staff": "x all", "Users": "x all"}},
		{"Sales without West", Containers{Include: []string{"OU=Sales," + treeBase}, Exclude: []string{"OU=West,OU=Sales," + treeBase}},
			map[string]string{"root": "- some", "Sales": "x some", "East": "x all", "West": "- none", "Old": "- none", "Staff": "- none", "Users": "- none"}},
		{"Sales, no new OUs, East only", Containers{Include: []string{"OU=Sales," + treeBase, "OU=East,OU=Sales," + treeBase}, NoNewChildren: []string{"OU=Sales," + treeBase}},
			map[string]string{"root": "- some", "Sales": "x! some", "East": "x all", "West": "- none", "Old": "- none", "Staff": "- none", "Users": "- none"}},
		{"excluded Users", Containers{Exclude: []string{"cn=users,dc=CONTOSO,dc=test"}},
			map[string]string{"root": "x some", "Sales": "x all", "East": "x all", "West": "x all", "Old": "x all", "Staff": "x all", "Users": "- none"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := states(t, tc.sel)
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s: %q, want %q (all: %v)", k, got[k], v, got)
				}
			}
		})
	}
}

// TestTreeSelect: a selection edited in the tree is written as the
// filtering that gives exactly that selection; the tree built back from it
// shows it, and a container created later under a node follows the node's
// "synchronize new OUs".
func TestTreeSelect(t *testing.T) {
	tr, err := BuildTree(treeBase, treeContainers, Containers{})
	if err != nil {
		t.Fatal(err)
	}
	other := "DC=fabrikam,DC=test"
	parts := []string{treeBase, other}
	for _, tc := range []struct {
		name    string
		choices map[string]Choice
		cur     Containers
		want    Containers
	}{
		{"all stays no filtering", map[string]Choice{treeBase: {true, true}}, Containers{}, Containers{}},
		{"exclude West and Old", map[string]Choice{"OU=West,OU=Sales," + treeBase: {false, true}, "OU=Old,OU=West,OU=Sales," + treeBase: {false, true}}, Containers{},
			Containers{Exclude: []string{"OU=West,OU=Sales," + treeBase}}},
		{"exclude West, Old not asked keeps its state", map[string]Choice{"OU=West,OU=Sales," + treeBase: {false, true}}, Containers{},
			Containers{Include: []string{other, treeBase, "OU=Old,OU=West,OU=Sales," + treeBase}, Exclude: []string{"OU=West,OU=Sales," + treeBase}}},
		{"only Sales without new OUs, and East", map[string]Choice{
			treeBase: {false, false}, "OU=Sales," + treeBase: {true, false}, "OU=East,OU=Sales," + treeBase: {true, true},
			"OU=West,OU=Sales," + treeBase: {false, false}, "OU=Old,OU=West,OU=Sales," + treeBase: {false, false},
			"OU=Staff," + treeBase: {false, false}, "CN=Users," + treeBase: {false, false}},
			Containers{},
			Containers{Include: []string{other, "OU=Sales," + treeBase, "OU=East,OU=Sales," + treeBase},
				NoNewChildren: []string{"OU=Sales," + treeBase}}},
		{"nothing", map[string]Choice{treeBase: {false, true}, "OU=Sales," + treeBase: {false, true}, "OU=East,OU=Sales," + treeBase: {false, true},
			"OU=West,OU=Sales," + treeBase: {false, true}, "OU=Old,OU=West,OU=Sales," + treeBase: {false, true},
			"OU=Staff," + treeBase: {false, true}, "CN=Users," + treeBase: {false, true}},
			Containers{Exclude: []string{"DC=fabrikam,DC=test"}},
			Containers{Exclude: []string{"DC=fabrikam,DC=test", treeBase}}},
		{"other partition's lists kept", map[string]Choice{"CN=Users," + treeBase: {false, true}},
			Containers{Include: []string{"OU=A," + other}, Exclude: []string{"OU=Sales," + treeBase}},
			Containers{Include: []string{"OU=A," + other, treeBase}, Exclude: []string{"CN=Users," + treeBase}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tr.Select(tc.choices, tc.cur, parts)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
	if _, err := tr.Select(map[string]Choice{"OU=Gone," + treeBase: {true, true}}, Containers{}, parts); err == nil || !strings.Contains(err.Error(), "not in the tree") {
		t.Errorf("unknown container: %v", err)
	}
}

// TestTreeSelectRandom: random trees, a random filtering, then random
// choices for some nodes; every selection is written so that the tree
// built back from it shows it, the nodes not asked keep their state, and a
// new container's objects are in scope exactly when its parent is selected
// with "synchronize new OUs".
func TestTreeSelectRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	randomChoices := func(dns []string) map[string]Choice {
		choices := map[string]Choice{}
		for _, dn := range dns {
			if r.IntN(4) > 0 {
				choices[dn] = Choice{Selected: r.IntN(2) == 0, NewChildren: r.IntN(3) > 0}
			}
		}
		return choices
	}
	for round := 0; round < 300; round++ {
		dns := []string{treeBase}
		var cs []Container
		for i := 0; i < 1+r.IntN(12); i++ {
			parent := dns[r.IntN(len(dns))]
			dn := fmt.Sprintf("OU=o%d,%s", i, parent)
			dns = append(dns, dn)
			cs = append(cs, Container{DN: dn, Name: fmt.Sprintf("o%d", i)})
		}
		tr0, err := BuildTree(treeBase, cs, Containers{})
		if err != nil {
			t.Fatal(err)
		}
		sel0, err := tr0.Select(randomChoices(dns), Containers{}, []string{treeBase})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		tr, err := BuildTree(treeBase, cs, sel0)
		if err != nil {
			t.Fatal(err)
		}
		choices := randomChoices(dns)
		sel, err := tr.Select(choices, sel0, []string{treeBase})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		back, err := BuildTree(treeBase, cs, sel)
		if err != nil {
			t.Fatal(err)
		}
		s, _ := newSettings(Config{URL: "ldap://x", Containers: sel})
		for i, n := range back.Nodes {
			ch, ok := choices[n.DN]
			if !ok {
				ch = Choice{Selected: tr.Nodes[i].Selected, NewChildren: tr.Nodes[i].NewChildren}
			}
			if n.Selected != ch.Selected || n.Selected && n.NewChildren != ch.NewChildren {
				t.Fatalf("round %d: %s = %v/%v, want %+v (asked: %v; filtering %+v)", round, n.DN, n.Selected, n.NewChildren, ch, ok, sel)
			}
			in, _ := s.inScope("CN=x,OU=brand-new," + n.DN)
			if in != (n.Selected && n.NewChildren) {
				t.Fatalf("round %d: a new OU under %s is in scope: %v; node %v/%v", round, n.DN, in, n.Selected, n.NewChildren)
			}
		}
	}
}
