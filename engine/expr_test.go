package engine

import (
	"strings"
	"testing"

	_ "github.com/idsync/idsync/expr" // Expression flows
	"github.com/idsync/idsync/model"
)

const exprRules = `
rules:
  - name: in-hr
    connector: hr
    direction: inbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 20
    flows:
      - {type: Direct, source: uid, target: uid}
      - {type: Expression, expression: 'Trim([givenName]) & " " & IIF(IsPresent([sn]), [sn], Error("sn is missing"))', target: displayName}
      - {type: Direct, source: title, target: title}
  - name: in-hr-hide-title
    connector: hr
    direction: inbound
    csObjectType: user
    mvObjectType: person
    linkType: Join
    precedence: 10
    flows:
      - {type: Expression, expression: 'IIF([department] = "Hidden", AuthoritativeNull, NULL)', target: title}
`

// Expression flows: values computed per object; Error("…") fails that object
// with the message and the run goes on; NULL lets a lower-precedence rule
// contribute, AuthoritativeNull removes the value and wins over it.
func TestExpressionFlows(t *testing.T) {
	h := newHarness(t, exprRules, "hr")
	put := func(anchor string, attrs ...string) {
		o := &model.Object{Anchor: anchor, DN: "uid=" + anchor + ",dc=hr", Type: "user", Attrs: model.Attrs{"uid": model.Str(anchor)}}
		for i := 0; i+1 < len(attrs); i += 2 {
			o.Attrs[attrs[i]] = model.Str(attrs[i+1])
		}
		h.conns["hr"].Put(o)
	}
	put("1", "givenName", " Ann ", "sn", "Lee", "title", "Engineer", "department", "IT")
	put("2", "givenName", "Bob", "title", "Spy")
	put("3", "givenName", "Cy", "sn", "Fox", "title", "Agent", "department", "Hidden")
	h.run("hr", FullImport)
	r := h.run("hr", FullSync)
	errs := h.runErrors(r)
	if len(errs) != 1 || !strings.Contains(errs[0].Object, "uid=2,dc=hr") || !strings.Contains(errs[0].Message, "sn is missing") {
		t.Fatalf("errors = %+v", errs)
	}
	canon := h.canonical()
	for _, want := range []string{
		`displayName(string)=["Ann Lee"]`,
		`title(string)=["Engineer"] from hr/in-hr`,
		`displayName(string)=["Cy Fox"]`,
	} {
		if !strings.Contains(canon, want) {
			t.Errorf("metaverse lacks %q:\n%s", want, canon)
		}
	}
	if strings.Contains(canon, "Agent") || strings.Contains(canon, "Bob") {
		t.Errorf("AuthoritativeNull did not win, or the failed object was projected with values:\n%s", canon)
	}
}

func TestFailedProjectionIsUndone(t *testing.T) {
	h := newHarness(t, exprRules, "hr")
	h.conns["hr"].Put(&model.Object{Anchor: "2", DN: "uid=2,dc=hr", Type: "user", Attrs: model.Attrs{"uid": model.Str("2"), "givenName": model.Str("Bob")}})
	h.run("hr", FullImport)
	if r := h.run("hr", FullSync); r.Counts.Errors != 1 || r.Counts.Adds != 0 {
		t.Fatalf("counts = %+v", r.Counts)
	}
	if n := h.mvCount(); n != 0 {
		t.Fatalf("a failed projection left %d MV objects", n)
	}
	// Fixed at the source: the next delta picks it up.
	o := h.conns["hr"].Get("2")
	o.Attrs["sn"] = model.Str("Ray")
	h.conns["hr"].Put(o)
	h.run("hr", DeltaImport)
	if r := h.run("hr", DeltaSync); r.Counts.Errors != 0 || r.Counts.Adds != 1 || h.mvCount() != 1 {
		t.Fatalf("after the fix: %+v, %d MV objects", r.Counts, h.mvCount())
	}
}
