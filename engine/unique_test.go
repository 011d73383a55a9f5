package engine

import (
	"strings"
	"testing"

	"github.com/idsync/idsync/connector"
)

const uniqueRules = `
rules:
  - name: in-a
    connector: a
    direction: inbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 10
    flows:
      - {type: Direct, source: cn, target: cn}
      - {type: Direct, source: mail, target: mail}
  - name: in-b
    connector: b
    direction: inbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 11
    flows:
      - {type: Direct, source: cn, target: cn}
      - {type: Direct, source: mail, target: mail}
  - name: out
    connector: cloud
    direction: outbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 20
    dn: "cn={cn},ou=cloud"
    flows:
      - {type: Direct, source: cn, target: cn}
      - {type: Direct, source: mail, target: mail}
`

// TestUniqueAttributes: two MV objects with the same mail (no join on mail,
// R1.10) are both refused by the cloud target, whatever the order; once one
// is in the target, only the newcomer is.
func TestUniqueAttributes(t *testing.T) {
	for _, order := range [][]string{{"a", "b"}, {"b", "a"}} {
		t.Run(strings.Join(order, "-"), func(t *testing.T) {
			h := newHarness(t, uniqueRules, "a", "b", "cloud")
			h.e.Connectors["cloud"].Unique = []string{"mail"}
			h.conns["a"].Put(user("a1", "ann", "ann@x.test", ""))
			h.conns["a"].Put(user("a2", "bob", "bob@x.test", ""))
			h.conns["b"].Put(user("b1", "ann-contact", "ANN@x.test", ""))
			var errs []string
			for _, c := range order {
				h.run(c, FullImport)
				r := h.run(c, FullSync)
				for _, e := range h.runErrors(r) {
					errs = append(errs, e.Message)
				}
			}
			if p := h.pending("cloud"); p[string(connector.OpAdd)] != 1 {
				t.Fatalf("pending = %v, want only bob's add", p)
			}
			both := strings.Join(errs, "\n")
			if len(errs) != 2 || !strings.Contains(both, `mail "ann@x.test" is also on cloud:cn=ann-contact,ou=cloud`) ||
				!strings.Contains(both, `mail "ANN@x.test" is also on cloud:cn=ann,ou=cloud`) || !strings.Contains(both, "withdrawn") {
				t.Fatalf("errors = %q", errs)
			}
		})
	}
	// One of them exported first (the other forest came later): it keeps
	// its mail; the newcomer fails.
	h := newHarness(t, uniqueRules, "a", "b", "cloud")
	h.e.Connectors["cloud"].Unique = []string{"mail"}
	h.conns["a"].Put(user("a1", "ann", "ann@x.test", ""))
	h.run("a", FullImport)
	h.run("a", FullSync)
	h.run("cloud", Export)
	h.run("cloud", FullImport)
	h.run("cloud", DeltaSync)
	h.conns["b"].Put(user("b1", "ann-contact", "ann@x.test", ""))
	h.run("b", FullImport)
	r := h.run("b", FullSync)
	errs := h.runErrors(r)
	if len(errs) != 1 || !strings.Contains(errs[0].Message, "cn=ann,ou=cloud") || !strings.Contains(errs[0].Object, "ann-contact") {
		t.Fatalf("errors = %+v", errs)
	}
	if p := h.pending("cloud"); len(p) != 0 {
		t.Fatalf("pending = %v, want none", p)
	}
}
