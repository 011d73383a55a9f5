package engine

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/idsync/idsync/model"
)

// galRules are the out-of-box pattern of R1.7–R1.10 on three forests (fa,
// fb, fc) and a cloud: users project and join only on sid (users are not
// matched on mail), contacts join anything with their mail (R1.7) and
// project otherwise; sourceObjectType is Contact only while no user joined
// (R1.8); the cloud gets a user or a contact accordingly (R1.9) and mail
// is unique in it (R1.10).
var galRules = func() string {
	var b strings.Builder
	b.WriteString("rules:\n")
	for i, f := range []string{"fa", "fb", "fc"} {
		fmt.Fprintf(&b, `  - name: user-%[1]s
    connector: %[1]s
    direction: inbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: %[2]d
    join: [{conditions: [{source: sid, target: sid}]}]
    flows:
      - {type: Direct, source: sid, target: sid}
      - {type: Direct, source: cn, target: displayName}
      - {type: Direct, source: mail, target: mail}
      - {type: Constant, target: sourceObjectType, value: User}
  - name: contact-%[1]s
    connector: %[1]s
    direction: inbound
    csObjectType: contact
    mvObjectType: person
    linkType: Provision
    precedence: %[3]d
    join: [{conditions: [{source: mail, target: mail}]}]
    flows:
      - {type: Direct, source: cn, target: displayName}
      - {type: Direct, source: mail, target: mail}
      - {type: Constant, target: sourceObjectType, value: Contact}
`, f, 10+i, 90+i)
	}
	b.WriteString(`  - name: out-user
    connector: cloud
    direction: outbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 200
    dn: "cn={displayName},ou=users"
    scope: [{clauses: [{attribute: sourceObjectType, operator: EQUAL, value: User}]}]
    flows:
      - {type: Direct, source: displayName, target: displayName}
      - {type: Direct, source: mail, target: mail}
  - name: out-contact
    connector: cloud
    direction: outbound
    csObjectType: contact
    mvObjectType: person
    linkType: Provision
    precedence: 201
    dn: "cn={displayName},ou=contacts"
    scope: [{clauses: [{attribute: sourceObjectType, operator: EQUAL, value: Contact}]}]
    flows:
      - {type: Direct, source: displayName, target: displayName}
      - {type: Direct, source: mail, target: mail}
`)
	return b.String()
}()

func contact(anchor, cn, mail string) *model.Object {
	return &model.Object{Anchor: anchor, DN: fmt.Sprintf("cn=%s,ou=contacts,dc=example", cn), Type: "contact",
		Attrs: model.Attrs{"cn": model.Str(cn), "mail": model.Str(mail)}}
}

// seedGAL: ann and cy are users of fa and fb; each other forest holds a
// contact for them (GALSync), ann's in two forests; zed is a contact in fb
// and fc for someone in no forest, so it stays a contact.
func seedGAL(h *harness) {
	h.conns["fa"].Put(user("ua-ann", "ann", "ann@a.test", "", "sid", "S-ann"),
		user("ua-bob", "bob", "bob@a.test", "", "sid", "S-bob"),
		contact("ca-cy", "cy (gal a)", "cy@b.test"))
	h.conns["fb"].Put(user("ub-cy", "cy", "CY@b.test", "", "sid", "S-cy"),
		contact("cb-ann", "ann (gal b)", "ann@a.test"),
		contact("cb-zed", "zed (gal b)", "zed@x.test"))
	h.conns["fc"].Put(contact("cc-ann", "ann (gal c)", "ANN@a.test"),
		contact("cc-zed", "zed (gal c)", "zed@x.test"))
}

func newGAL(t *testing.T) *harness {
	h := newHarness(t, galRules, "fa", "fb", "fc", "cloud")
	h.e.Connectors["cloud"].Unique = []string{"mail"}
	seedGAL(h)
	return h
}

// cloudContent is what the cloud holds: DN and attributes, sorted.
func (h *harness) cloudContent() string {
	var lines []string
	for _, o := range h.conns["cloud"].All() {
		lines = append(lines, fmt.Sprintf("%s %s", o.DN, o.Type))
		for _, a := range o.Attrs.Names() {
			lines = append(lines, fmt.Sprintf("  %s %s=%q", o.DN, a, o.Attrs[a].Values))
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// exportCycle exports to the cloud and confirms it (import, delta sync).
func (h *harness) exportCycle() {
	h.run("cloud", Export)
	h.run("cloud", DeltaImport)
	h.run("cloud", DeltaSync)
}

func permutations(s []string) [][]string {
	if len(s) <= 1 {
		return [][]string{slices.Clone(s)}
	}
	var out [][]string
	for i := range s {
		rest := append(slices.Clone(s[:i]), s[i+1:]...)
		for _, p := range permutations(rest) {
			out = append(out, append([]string{s[i]}, p...))
		}
	}
	return out
}

// TestContactBeforeUser is R1.1 for GALSync contacts (issue 18): a contact
// synchronized before the user it stands for projects a metaverse object of
// its own; when the user arrives (users are not matched on mail), the
// contact joins the user's object, the contact's object is deleted, and in
// the cloud the contact is replaced by the user (R1.9). Every order of the
// three forests, synchronized one after the other with or without exports
// (delta cycles) in between, leaves the same metaverse, no pending export
// and the same cloud content, with no R1.10 error.
func TestContactBeforeUser(t *testing.T) {
	var want, wantCloud, wantFrom string
	for _, order := range permutations([]string{"fa", "fb", "fc"}) {
		for _, between := range []bool{false, true} {
			name := fmt.Sprintf("%s/exports-between=%v", strings.Join(order, "-"), between)
			h := newGAL(t)
			var errs []string
			for _, f := range order {
				h.run(f, FullImport)
				for _, e := range h.runErrors(h.run(f, DeltaSync)) {
					errs = append(errs, e.Message)
				}
				if between {
					h.exportCycle()
				}
			}
			h.exportCycle()
			h.exportCycle()
			if len(errs) > 0 {
				t.Fatalf("%s: synchronization errors %q", name, errs)
			}
			if p := h.pending("cloud"); len(p) != 0 {
				t.Fatalf("%s: pending exports left: %v\n%s", name, p, h.canonical())
			}
			got, cloud := h.canonical(), h.cloudContent()
			if want == "" {
				want, wantCloud, wantFrom = got, cloud, name
				for _, s := range []string{
					"mv [fa:ua-ann,fb:cb-ann,fc:cc-ann] person", "mv [fa:ca-cy,fb:ub-cy] person",
					"mv [fa:ua-bob] person", "mv [fb:cb-zed,fc:cc-zed] person",
				} {
					if !strings.Contains(got, s) {
						t.Fatalf("%s: metaverse lacks %q:\n%s", name, s, got)
					}
				}
				for _, s := range []string{"cn=ann,ou=users user", "cn=bob,ou=users user", "cn=cy,ou=users user", "cn=zed (gal b),ou=contacts contact"} {
					if !strings.Contains(cloud, s) {
						t.Fatalf("%s: cloud lacks %q:\n%s", name, s, cloud)
					}
				}
				if n := h.conns["cloud"].Len(); n != 4 {
					t.Fatalf("%s: the cloud holds %d objects, want 4:\n%s", name, n, cloud)
				}
				continue
			}
			if got != want {
				t.Fatalf("the metaverse depends on the order:\n--- %s\n%s\n--- %s\n%s", wantFrom, want, name, got)
			}
			if cloud != wantCloud {
				t.Fatalf("the cloud depends on the order:\n--- %s\n%s\n--- %s\n%s", wantFrom, wantCloud, name, cloud)
			}
		}
	}
}

// TestContactBeforeUserLater: the contact's object was exported long before
// the user appears in its forest (a delta import brings it): the cloud
// contact is deleted and the user created in the same export; the delete
// counts toward the delete threshold like any other.
func TestContactBeforeUserLater(t *testing.T) {
	h := newHarness(t, galRules, "fa", "fb", "fc", "cloud")
	h.e.Connectors["cloud"].Unique = []string{"mail"}
	h.conns["fb"].Put(contact("cb-ann", "ann (gal b)", "ann@a.test"))
	for _, c := range []string{"fa", "fb", "fc"} {
		h.run(c, FullImport)
		h.run(c, FullSync)
	}
	h.exportCycle()
	if h.conns["cloud"].GetByDN("cn=ann (gal b),ou=contacts") == nil {
		t.Fatalf("the contact was not exported:\n%s", h.cloudContent())
	}
	h.conns["fa"].Put(user("ua-ann", "ann", "ann@a.test", "", "sid", "S-ann"))
	h.run("fa", DeltaImport)
	if errs := h.runErrors(h.run("fa", DeltaSync)); len(errs) != 0 {
		t.Fatalf("errors: %+v", errs)
	}
	if p := h.pending("cloud"); p["delete"] != 1 || p["add"] != 1 || len(p) != 2 {
		t.Fatalf("pending = %v, want the contact's delete and the user's add\n%s", p, h.canonical())
	}
	h.e.Connectors["cloud"].DeleteThreshold = 0
	if _, err := h.e.Run(h.ctx, "cloud", Export, RunOptions{}); !errors.Is(err, ErrDeleteThreshold) {
		t.Fatalf("export with a threshold of 0: err = %v, want the delete threshold", err)
	}
	if _, err := h.e.Run(h.ctx, "cloud", Export, RunOptions{AllowDeletes: true}); err != nil {
		t.Fatal(err)
	}
	h.exportCycle()
	if got := h.cloudContent(); h.conns["cloud"].Len() != 1 || h.conns["cloud"].GetByDN("cn=ann,ou=users") == nil {
		t.Fatalf("cloud:\n%s", got)
	}
	if canon := h.canonical(); !strings.Contains(canon, "mv [fa:ua-ann,fb:cb-ann] person") {
		t.Fatalf("the contact did not join the user:\n%s", canon)
	}
}

// TestTwoUsersSameMailStayApart: R1.10 is unchanged for users: two users
// of different forests with the same mail are not merged (users are not
// matched on mail); both stay, and the cloud refuses both.
func TestTwoUsersSameMailStayApart(t *testing.T) {
	for _, order := range [][]string{{"fa", "fb"}, {"fb", "fa"}} {
		h := newHarness(t, galRules, "fa", "fb", "fc", "cloud")
		h.e.Connectors["cloud"].Unique = []string{"mail"}
		h.conns["fa"].Put(user("ua-ann", "ann", "ann@a.test", "", "sid", "S-ann"))
		h.conns["fb"].Put(user("ub-ann", "ann2", "ann@a.test", "", "sid", "S-ann2"))
		var errs []string
		for _, c := range order {
			h.run(c, FullImport)
			for _, e := range h.runErrors(h.run(c, FullSync)) {
				errs = append(errs, e.Message)
			}
		}
		if n := h.mvCount(); n != 2 {
			t.Fatalf("%v: %d metaverse objects, want 2:\n%s", order, n, h.canonical())
		}
		if len(errs) != 2 || !strings.Contains(strings.Join(errs, "\n"), `mail "ann@a.test" is also on`) {
			t.Fatalf("%v: errors %q", order, errs)
		}
	}
}

// TestFullSyncMergesOldDuplicates: a contact and its user left as two
// metaverse objects by an earlier configuration (here the contact rule had
// no join yet; an earlier version of idsync left them so too) stay apart
// while nothing changes, and a full synchronization merges them.
func TestFullSyncMergesOldDuplicates(t *testing.T) {
	noJoin := strings.ReplaceAll(galRules, "    join: [{conditions: [{source: mail, target: mail}]}]\n    flows:\n      - {type: Direct, source: cn, target: displayName}\n      - {type: Direct, source: mail, target: mail}\n      - {type: Constant, target: sourceObjectType, value: Contact}",
		"    flows:\n      - {type: Direct, source: cn, target: displayName}\n      - {type: Direct, source: mail, target: mail}\n      - {type: Constant, target: sourceObjectType, value: Contact}")
	if noJoin == galRules {
		t.Fatal("the contact rules were not changed")
	}
	h := newHarness(t, noJoin, "fa", "fb", "fc", "cloud")
	h.conns["fa"].Put(user("ua-ann", "ann", "ann@a.test", "", "sid", "S-ann"))
	h.conns["fb"].Put(contact("cb-ann", "ann (gal b)", "ann@a.test"))
	for _, c := range []string{"fb", "fa"} {
		h.run(c, FullImport)
		h.run(c, FullSync)
	}
	if n := h.mvCount(); n != 2 {
		t.Fatalf("%d metaverse objects, want 2", n)
	}
	joined := newHarness(t, galRules, "fa", "fb", "fc", "cloud")
	h.e.Rules = joined.e.Rules
	h.run("fb", DeltaSync)
	h.run("fa", DeltaSync)
	if n := h.mvCount(); n != 2 {
		t.Fatalf("a delta synchronization without changes merged: %d metaverse objects", n)
	}
	h.run("fa", FullSync)
	if canon := h.canonical(); h.mvCount() != 1 || !strings.Contains(canon, "mv [fa:ua-ann,fb:cb-ann] person") {
		t.Fatalf("the full synchronization did not merge:\n%s", canon)
	}
}
