package engine

import (
	"strings"
	"testing"

	"github.com/idsync/idsync/model"
)

const flowRules = `
rules:
  - name: in-a
    connector: a
    direction: inbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 10
    join: [{conditions: [{source: uid, target: uid}]}]
    flows:
      - {type: Direct, source: uid, target: uid}
      - {type: Direct, source: cn, target: cn}
      - {type: Direct, source: proxy, target: proxyAddresses, merge: Merge}
  - name: in-b
    connector: b
    direction: inbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 20
    join: [{conditions: [{source: uid, target: uid}]}]
    flows:
      - {type: Direct, source: uid, target: uid}
      - {type: Direct, source: proxy, target: proxyAddresses, merge: Merge}
      - {type: Direct, source: title, target: title}
  - name: out
    connector: t
    direction: outbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 30
    dn: "cn={cn},ou=t"
    scope: [{clauses: [{attribute: title, operator: NOTEQUAL, value: Gone}]}]
    deprovision: %s
    flows:
      - {type: Direct, source: proxyAddresses, target: proxyAddresses}
      - {type: Direct, source: cn, target: displayName, applyOnce: true}
      - {type: Constant, value: "true", targetType: boolean, target: enabled}
`

func flowHarness(t *testing.T, deprovision string) *harness {
	if deprovision == "disable" {
		deprovision += "\n    disableAttribute: enabled\n    disableValue: \"false\""
	}
	h := newHarness(t, strings.Replace(flowRules, "%s", deprovision, 1), "a", "b", "t")
	h.conns["a"].Put(&model.Object{Anchor: "a1", DN: "cn=ann,dc=a", Type: "user", Attrs: model.Attrs{
		"uid": model.Str("1"), "cn": model.Str("Ann"), "proxy": model.Str("smtp:ann@a", "SMTP:ann@x")}})
	h.conns["b"].Put(&model.Object{Anchor: "b1", DN: "cn=ann,dc=b", Type: "user", Attrs: model.Attrs{
		"uid": model.Str("1"), "proxy": model.Str("smtp:ann@b", "SMTP:ann@x"), "title": model.Str("Engineer")}})
	for _, c := range []string{"a", "b", "t"} {
		h.run(c, FullImport)
	}
	for _, c := range []string{"b", "a", "t"} {
		h.run(c, FullSync)
	}
	h.run("t", Export)
	return h
}

// Merge flows union the values of every contributor; applyOnce flows are set
// when the object is created and never updated; a change of the DN
// template's attribute renames the target object.
func TestMergeApplyOnceAndRename(t *testing.T) {
	h := flowHarness(t, "delete")
	o := h.conns["t"].GetByDN("cn=Ann,ou=t")
	if o == nil {
		t.Fatalf("not exported: %v", h.conns["t"].All())
	}
	if want := model.Str("SMTP:ann@x", "smtp:ann@a", "smtp:ann@b"); !o.Attrs["proxyAddresses"].Equal(want) {
		t.Errorf("merged proxyAddresses = %v", o.Attrs["proxyAddresses"])
	}
	if o.Attrs.First("displayName") != "Ann" {
		t.Errorf("applyOnce flow not set on create: %v", o.Attrs)
	}
	a := h.conns["a"].Get("a1")
	a.Attrs["cn"] = model.Str("Anna")
	h.conns["a"].Put(a)
	h.run("a", DeltaImport)
	h.run("a", DeltaSync)
	rows, err := Preview(h.ctx, h.st, "t")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Attribute != "dn" || rows[0].NewValue != "cn=Anna,ou=t" {
		t.Fatalf("preview = %+v, want only the rename (displayName is applyOnce)", rows)
	}
	h.run("t", Export)
	if o := h.conns["t"].GetByDN("cn=Anna,ou=t"); o == nil || o.Attrs.First("displayName") != "Ann" {
		t.Fatalf("after rename: %v", h.conns["t"].All())
	}
}

func TestDeprovisionActions(t *testing.T) {
	for _, tc := range []struct {
		action  string
		present bool
		enabled string
	}{
		{"delete", false, ""},
		{"disable", true, "false"},
		{"keep", true, "true"},
	} {
		t.Run(tc.action, func(t *testing.T) {
			h := flowHarness(t, tc.action)
			b := h.conns["b"].Get("b1")
			b.Attrs["title"] = model.Str("Gone")
			h.conns["b"].Put(b)
			h.run("b", DeltaImport)
			h.run("b", DeltaSync)
			h.run("t", Export)
			o := h.conns["t"].GetByDN("cn=Ann,ou=t")
			if (o != nil) != tc.present {
				t.Fatalf("target object present = %v, want %v", o != nil, tc.present)
			}
			if o != nil && o.Attrs.First("enabled") != tc.enabled {
				t.Fatalf("enabled = %q, want %q", o.Attrs.First("enabled"), tc.enabled)
			}
			// A second cycle changes nothing more.
			h.run("t", FullImport)
			h.run("t", DeltaSync)
			h.run("b", FullSync)
			if got := h.pending("t"); len(got) != 0 {
				t.Fatalf("pending after deprovision converged: %v", got)
			}
		})
	}
}
