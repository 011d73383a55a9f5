package engine

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/idsync/idsync/model"
)

// numberRules: hr projects persons; the switch gets an extension from
// NextFreeNumber(1000, 1009), once, at creation.
const numberRules = `
rules:
  - name: in-hr
    connector: hr
    direction: inbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 10
    flows:
      - {type: Direct, source: login, target: accountName}
  - name: out-pbx
    connector: pbx
    direction: outbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 20
    flows:
      - {type: Direct, source: accountName, target: userName}
      - {type: Expression, expression: 'CStr(NextFreeNumber(1000, 1009))', target: extension, applyOnce: true}
`

// TestNextFreeNumber: sequential extensions. New objects get the lowest
// numbers no object of the target holds (nor one another, in one run
// computed in parallel), skipping those taken by accounts idsync did not
// create; a number stays with its object on later runs; a freed number is
// given again; an exhausted range is an error on the object, not the run.
// Whole and targeted loading agree.
func TestNextFreeNumber(t *testing.T) {
	for _, l := range []Loading{LoadWhole, LoadTargeted} {
		t.Run(map[Loading]string{LoadWhole: "whole", LoadTargeted: "targeted"}[l], func(t *testing.T) {
			h := newHarness(t, numberRules, "hr", "pbx")
			h.e.Loading = l
			pbx, hr := h.conns["pbx"], h.conns["hr"]
			// Extensions 1000 and 1002 are taken by phones idsync does not manage.
			pbx.Put(&model.Object{Anchor: "lobby", Type: "user", Attrs: model.Attrs{"extension": model.Str("1000")}})
			pbx.Put(&model.Object{Anchor: "fax", Type: "user", Attrs: model.Attrs{"extension": model.Str("1002")}})
			for i := 1; i <= 5; i++ {
				hr.Put(user(fmt.Sprintf("h%d", i), fmt.Sprintf("User %d", i), "", "", "login", fmt.Sprintf("u%d", i)))
			}
			h.run("pbx", FullImport)
			h.run("pbx", DeltaSync)
			h.run("hr", FullImport)
			h.run("hr", DeltaSync)
			// Synchronized again before the export, after the lobby phone
			// freed 1000: the pending adds keep their numbers.
			pbx.Remove("lobby")
			h.run("pbx", FullImport)
			h.run("pbx", DeltaSync)
			h.run("hr", FullSync)
			h.run("pbx", Export)
			ext := func() map[string]string {
				out := map[string]string{}
				for _, o := range pbx.All() {
					out[o.Attrs.First("extension")] = o.Anchor + "/" + o.Attrs.First("userName")
				}
				return out
			}
			numbers := func() []int {
				var out []int
				for e := range ext() {
					n, _ := strconv.Atoi(e)
					out = append(out, n)
				}
				slices.Sort(out)
				return out
			}
			if got, want := numbers(), []int{1001, 1002, 1003, 1004, 1005, 1006}; !slices.Equal(got, want) {
				t.Fatalf("extensions = %v (%v), want %v: 5 users in 1001, 1003–1006", got, ext(), want)
			}
			before := ext()
			// Confirmed, synchronized again in full: nothing changes.
			h.run("pbx", FullImport)
			h.run("pbx", FullSync)
			h.run("hr", FullSync)
			if got := h.pending("pbx"); len(got) != 0 {
				t.Fatalf("pending after a confirming import and full synchronizations = %v", got)
			}
			// User 2 leaves; a new user gets the lowest free number (1000,
			// freed by the lobby phone); the others keep theirs.
			var u2ext string
			for e, who := range before {
				if who[len(who)-2:] == "u2" {
					u2ext = e
				}
			}
			hr.Remove("h2")
			h.run("hr", DeltaImport)
			h.run("hr", DeltaSync)
			h.run("pbx", Export)
			h.run("pbx", FullImport)
			h.run("pbx", DeltaSync)
			hr.Put(user("h6", "User 6", "", "", "login", "u6"))
			h.run("hr", DeltaImport)
			h.run("hr", DeltaSync)
			h.run("pbx", Export)
			after := ext()
			for e, who := range before {
				if e != u2ext && after[e] != who {
					t.Errorf("extension %s: was %s, now %s", e, who, after[e])
				}
			}
			if who := after["1000"]; who == "" || who[len(who)-2:] != "u6" {
				t.Errorf("the lowest free extension 1000 went to %q, want u6 (%v)", who, after)
			}
			if who := after[u2ext]; who != "" {
				t.Errorf("u2's extension %s is held by %q after u2 left", u2ext, who)
			}
			// Five more users: four get the free numbers, u2's among them;
			// the range is then exhausted, an error on the fifth object.
			for i := 7; i <= 11; i++ {
				hr.Put(user(fmt.Sprintf("h%d", i), fmt.Sprintf("User %d", i), "", "", "login", fmt.Sprintf("u%d", i)))
			}
			h.run("hr", DeltaImport)
			r := h.run("hr", DeltaSync)
			if len(numbers()) != 6 {
				t.Fatalf("numbers before the export: %v", numbers())
			}
			h.run("pbx", Export)
			if got := numbers(); len(got) != 10 || got[0] != 1000 || got[9] != 1009 || ext()[u2ext] == "" {
				t.Errorf("extensions after filling the range = %v", got)
			}
			errs := h.runErrors(r)
			if len(errs) != 1 || !strings.Contains(errs[0].Message, "no free number between 1000 and 1009 in extension of pbx") {
				t.Errorf("run errors = %+v, want one: no free number", errs)
			}
		})
	}
}
