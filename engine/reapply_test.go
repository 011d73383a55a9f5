package engine

import "testing"

const reapplyRules = `
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
      - {type: Expression, dialect: provisioning, expression: 'RandomString(16, 2, 0, 2, 2)', target: pin, applyOnce: true}
`

// TestReapplyOnce: an applyOnce flow is not applied again to an existing
// object, unless a synchronization names the object and attribute in
// RunOptions.Reapply (a password reset): then that object alone gets a new
// value. Whole and targeted loading agree.
func TestReapplyOnce(t *testing.T) {
	for _, l := range []Loading{LoadWhole, LoadTargeted} {
		t.Run(map[Loading]string{LoadWhole: "whole", LoadTargeted: "targeted"}[l], func(t *testing.T) {
			h := newHarness(t, reapplyRules, "hr", "pbx")
			h.e.Loading = l
			pbx, hr := h.conns["pbx"], h.conns["hr"]
			hr.Put(user("h1", "User 1", "", "", "login", "u1"), user("h2", "User 2", "", "", "login", "u2"))
			h.run("hr", FullImport)
			h.run("hr", DeltaSync)
			h.run("pbx", Export)
			h.run("pbx", FullImport)
			h.run("pbx", FullSync)
			pins := func() map[string]string {
				out := map[string]string{}
				for _, o := range pbx.All() {
					out[o.Attrs.First("userName")] = o.Attrs.First("pin")
				}
				return out
			}
			before := pins()
			if len(before["u1"]) != 16 || before["u1"] == before["u2"] {
				t.Fatalf("pins = %v", before)
			}
			h.run("pbx", FullSync)
			if got := h.pending("pbx"); len(got) != 0 {
				t.Fatalf("a full synchronization re-applied an applyOnce flow: %v", got)
			}
			mv := h.mvOf("hr", "h1")
			if _, err := h.e.Run(t.Context(), "pbx", FullSync, RunOptions{Reapply: map[string][]string{mv: {"pin"}}}); err != nil {
				t.Fatal(err)
			}
			h.run("pbx", Export)
			after := pins()
			if after["u1"] == before["u1"] || len(after["u1"]) != 16 || after["u2"] != before["u2"] {
				t.Errorf("after reapplying u1's pin: %v (before %v)", after, before)
			}
		})
	}
}
