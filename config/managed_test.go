package config

import (
	"strings"
	"testing"
)

const mdConnectors = "connectors:\n  - {name: graph, type: memory}\n  - {name: aadds, type: memory}\n  - {name: contoso, type: memory}\n  - {name: aad, type: memory}\n"

// TestManagedDomain: outOfBox.managedDomain adds the managed-domain rules,
// with or without the forest rules.
func TestManagedDomain(t *testing.T) {
	for _, y := range []string{
		mdConnectors + "outOfBox:\n  managedDomain: {source: graph, target: aadds, baseDN: \"DC=aaddscontoso,DC=com\"}\n",
		mdConnectors + "outOfBox:\n  cloud: aad\n  forests: [contoso]\n  managedDomain: {target: aadds, baseDN: \"DC=aaddscontoso,DC=com\"}\n",
	} {
		c, err := Parse("c.yaml", []byte(y))
		if err != nil {
			t.Fatal(err)
		}
		rs, err := c.LoadRules()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, r := range rs.Rules {
			if r.Connector == "aadds" {
				n++
			}
		}
		if n != 2 {
			t.Errorf("%d rules for aadds, want 2 (users and groups)", n)
		}
	}
}

func TestManagedDomainErrors(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"no target", "managedDomain: {baseDN: \"DC=x\"}", "outOfBox.managedDomain.target: name"},
		{"unknown target", "managedDomain: {target: nope, baseDN: \"DC=x\"}", `target names connector "nope"`},
		{"unknown source", "managedDomain: {source: nope, target: aadds, baseDN: \"DC=x\"}", `source names connector "nope"`},
		{"same", "managedDomain: {source: aadds, target: aadds, baseDN: \"DC=x\"}", "source and target are both"},
		{"source is a forest", "cloud: aad\n  forests: [contoso]\n  managedDomain: {source: contoso, target: aadds, baseDN: \"DC=x\"}", "already read by the out-of-box forest rules"},
		{"target is the cloud", "cloud: aad\n  forests: [contoso]\n  managedDomain: {target: aad, baseDN: \"DC=x\"}", "needs a connector of its own"},
		{"no baseDN", "managedDomain: {target: aadds}", "outOfBox.managedDomain.baseDN: name"},
		{"bad baseDN", "managedDomain: {target: aadds, baseDN: aaddscontoso.com}", "is not a DN"},
		{"unknown key", "managedDomain: {target: aadds, baseDN: \"DC=x\", base: y}", "base"},
		{"sourcePassword without source", "managedDomain: {target: aadds, baseDN: \"DC=x\", sourcePassword: initialPassword}", "set source too"},
		{"sourcePassword not secret", "managedDomain: {source: graph, target: aadds, baseDN: \"DC=x\", sourcePassword: pwd}", `"pwd" is not a secret attribute`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(mdConnectors+"outOfBox:\n  "+tc.yaml+"\n"))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestManagedDomainSourcePassword: sourcePassword adds the flow of the
// source's password into the metaverse's password, for a built-in secret
// name or one security.secretAttributes declares.
func TestManagedDomainSourcePassword(t *testing.T) {
	for _, tc := range []struct{ yaml, attr string }{
		{"outOfBox:\n  managedDomain: {source: graph, target: aadds, baseDN: \"DC=x\", sourcePassword: initialPassword}\n", "initialPassword"},
		{"security: {secretAttributes: [pwd]}\noutOfBox:\n  managedDomain: {source: graph, target: aadds, baseDN: \"DC=x\", sourcePassword: pwd}\n", "pwd"},
	} {
		c, err := Parse("c.yaml", []byte(mdConnectors+tc.yaml))
		if err != nil {
			t.Fatal(err)
		}
		rs, err := c.LoadRules()
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, r := range rs.Rules {
			for _, f := range r.Flows {
				if r.Connector == "graph" && f.Source == tc.attr && f.Target == "password" {
					found = true
				}
			}
		}
		if !found {
			t.Errorf("%s: no flow from graph's %s into the metaverse's password", tc.yaml, tc.attr)
		}
	}
}
