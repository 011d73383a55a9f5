package outofbox_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/idsync/idsync/connector/memory"
	"github.com/idsync/idsync/engine"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/outofbox"
	"github.com/idsync/idsync/rules"
	"github.com/idsync/idsync/store/sqlite"
)

// The out-of-box rules run by the engine over in-memory forests and cloud:
// what the rule templates decide, end to end, without Samba (the Samba
// tests in cmd/idsync check the same against real forests).

type site struct {
	t     *testing.T
	ctx   context.Context
	e     *engine.Engine
	conns map[string]*memory.Connector
}

var forests = []string{"contoso", "fabrikam"}

func newSite(t *testing.T) *site {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "idsync.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	files, err := outofbox.Files(outofbox.Setup{Cloud: "cloud", Forests: forests, CloudDN: "cn={sourceAnchor},ou=people,dc=cloud"})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := rules.Merge(files...)
	if err != nil {
		t.Fatal(err)
	}
	env := rules.ValidateEnv{Connectors: map[string]*model.Schema{}}
	for _, n := range append(slices.Clone(forests), "cloud") {
		env.Connectors[n] = nil
	}
	for _, e := range rs.Validate(env) { // compiles the expressions
		if !rules.IsWarning(e) {
			t.Fatalf("rules: %v", e)
		}
	}
	s := &site{t: t, ctx: ctx, conns: map[string]*memory.Connector{}}
	ec := map[string]*engine.Connector{}
	for _, n := range append(slices.Clone(forests), "cloud") {
		c := memory.New(n)
		s.conns[n] = c
		ec[n] = &engine.Connector{Name: n, Conn: c, DeleteThreshold: 500, Parameters: map[string]string{"Domain.FQDN": n + ".test"}}
	}
	ec["cloud"].Unique = []string{"mail", "userPrincipalName", "proxyAddresses"}
	s.e = &engine.Engine{Store: st, Rules: rs, Connectors: ec}
	return s
}

func (s *site) run(conn string, p engine.Profile) []string {
	s.t.Helper()
	runs, err := s.e.Run(s.ctx, conn, p, engine.RunOptions{})
	if err != nil {
		s.t.Fatalf("%s %s: %v", conn, p, err)
	}
	var errs []string
	for _, r := range runs {
		es, err := s.e.Store.RunErrors(s.ctx, r.ID)
		if err != nil {
			s.t.Fatal(err)
		}
		for _, e := range es {
			errs = append(errs, e.Object+": "+e.Message)
		}
	}
	return errs
}

// cycle exports to the cloud and confirms the export.
func (s *site) cycle() []string {
	errs := s.run("cloud", engine.Export)
	errs = append(errs, s.run("cloud", engine.DeltaImport)...)
	return append(errs, s.run("cloud", engine.DeltaSync)...)
}

func (s *site) cloud() map[string]*model.Object {
	out := map[string]*model.Object{}
	for _, o := range s.conns["cloud"].All() {
		out[first(o.Attrs["displayName"])] = o
	}
	return out
}

// content is the cloud's content: type and attributes by displayName.
func (s *site) content() string {
	var lines []string
	for name, o := range s.cloud() {
		for _, a := range o.Attrs.Names() {
			lines = append(lines, fmt.Sprintf("%s %s %s=%q", o.Type, name, a, o.Attrs[a].Values))
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

func first(v model.Values) string {
	if len(v.Values) == 0 {
		return ""
	}
	return v.Values[0]
}

func guid(forest, cn string) model.Values {
	h := sha256.Sum256([]byte(forest + "/" + cn))
	return model.Values{Type: model.Binary, Values: []string{string(h[:16])}}
}

func integer(n int) model.Values {
	return model.Values{Type: model.Integer, Values: []string{fmt.Sprint(n)}}
}

func (s *site) put(forest, typ, cn string, kv ...string) {
	dn := fmt.Sprintf("CN=%s,OU=x,DC=%s,DC=test", cn, forest)
	o := &model.Object{Anchor: forest + "/" + cn, DN: dn, Type: typ, Attrs: model.Attrs{
		"objectGUID": guid(forest, cn), "cn": model.Str(cn), "dn": model.Ref(dn)}}
	switch typ {
	case "user":
		o.Attrs["sAMAccountName"] = model.Str(cn)
		o.Attrs["userAccountControl"] = integer(512)
	case "group":
		o.Attrs["sAMAccountName"] = model.Str(cn)
		o.Attrs["groupType"] = integer(-2147483646)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i] == "groupType" {
			var n int
			_, _ = fmt.Sscan(kv[i+1], &n)
			o.Attrs["groupType"] = integer(n)
			continue
		}
		v := o.Attrs[kv[i]]
		v.Values = append(v.Values, kv[i+1])
		o.Attrs[kv[i]] = v
	}
	s.conns[forest].Put(o)
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

// TestContactAndUserEveryOrder (R1.1, R1.7–R1.10 with the defaults: users
// not matched on mail): fabrikam holds a GALSync contact for contoso's
// user ann, contoso one for fabrikam's user cy, and both hold a contact for
// zed, who is in neither forest. Whichever forest is synchronized first,
// with or without exports between the forests, the cloud ends up with the
// users ann and cy and the contact zed, attribute for attribute the same,
// and no error.
func TestContactAndUserEveryOrder(t *testing.T) {
	var want, wantFrom string
	for _, order := range permutations(forests) {
		for _, between := range []bool{false, true} {
			name := fmt.Sprintf("%s first, exports between: %v", order[0], between)
			s := newSite(t)
			s.put("contoso", "user", "ann", "mail", "ann@contoso.test", "displayName", "Ann", "userPrincipalName", "ann@contoso.test")
			s.put("fabrikam", "contact", "ann-gal", "mail", "ann@contoso.test", "displayName", "Ann (GAL)")
			s.put("fabrikam", "user", "cy", "mail", "cy@fabrikam.test", "displayName", "Cy", "userPrincipalName", "cy@fabrikam.test")
			s.put("contoso", "contact", "cy-gal", "mail", "CY@fabrikam.test", "displayName", "Cy (GAL)")
			s.put("contoso", "contact", "zed-c", "mail", "zed@elsewhere.test", "displayName", "Zed")
			s.put("fabrikam", "contact", "zed-f", "mail", "zed@elsewhere.test", "displayName", "Zed (f)")
			var errs []string
			for _, f := range order {
				errs = append(errs, s.run(f, engine.FullImport)...)
				errs = append(errs, s.run(f, engine.DeltaSync)...)
				if between {
					errs = append(errs, s.cycle()...)
				}
			}
			errs = append(errs, s.cycle()...)
			errs = append(errs, s.cycle()...)
			if len(errs) > 0 {
				t.Fatalf("%s: errors:\n%s", name, strings.Join(errs, "\n"))
			}
			got := s.content()
			if want == "" {
				want, wantFrom = got, name
				c := s.cloud()
				if len(c) != 3 || c["Ann"] == nil || c["Ann"].Type != "user" || c["Cy"] == nil || c["Cy"].Type != "user" ||
					c["Zed"] == nil || c["Zed"].Type != "contact" {
					t.Fatalf("%s: the cloud holds\n%s", name, got)
				}
				continue
			}
			if got != want {
				t.Fatalf("the order changed the cloud:\n--- %s\n%s\n--- %s\n%s", wantFrom, want, name, got)
			}
		}
	}
}

// TestGroupScope (R1.6 and "Out to AAD - Group Join"): a group is exported
// only when it is mail-enabled or security-enabled; one exported before
// that stops being either is deleted from the cloud, and the delete counts
// toward the accidental-delete threshold.
func TestGroupScope(t *testing.T) {
	s := newSite(t)
	const dist = "2" // global distribution group: not security-enabled
	x500 := "X500:/o=contoso.com/ou=users/cn=testgroup"
	s.put("contoso", "group", "sec", "displayName", "sec")                                                  // security, no mail
	s.put("contoso", "group", "x500", "groupType", dist, "displayName", "x500", "proxyAddresses", x500+"1") // neither
	s.put("contoso", "group", "secondary", "groupType", dist, "displayName", "secondary", "proxyAddresses", x500+"2",
		"proxyAddresses", "smtp:secondary@contoso.test", "mail", "secondary@contoso.test") // neither
	s.put("contoso", "group", "primary", "groupType", dist, "displayName", "primary", "proxyAddresses", x500+"3",
		"proxyAddresses", "SMTP:primary@contoso.test")
	s.put("contoso", "group", "mailonly", "groupType", dist, "displayName", "mailonly", "mail", "mailonly@contoso.test")
	s.put("contoso", "group", "bare", "groupType", dist, "displayName", "bare") // neither
	var errs []string
	for _, f := range forests {
		errs = append(errs, s.run(f, engine.FullImport)...)
		errs = append(errs, s.run(f, engine.FullSync)...)
	}
	errs = append(errs, s.cycle()...)
	if len(errs) > 0 {
		t.Fatalf("errors:\n%s", strings.Join(errs, "\n"))
	}
	c := s.cloud()
	want := map[string][2]string{"sec": {"false", "true"}, "primary": {"true", "false"}, "mailonly": {"true", "false"}}
	if len(c) != len(want) {
		t.Fatalf("the cloud holds\n%s\nwant only %v", s.content(), want)
	}
	for name, w := range want {
		g := c[name]
		if g == nil || g.Type != "group" || first(g.Attrs["mailEnabled"]) != w[0] || first(g.Attrs["securityEnabled"]) != w[1] {
			t.Errorf("%s = %+v, want mailEnabled %s, securityEnabled %s", name, g, w[0], w[1])
		}
	}
	// primary loses its primary address: neither any more, so deleted.
	s.put("contoso", "group", "primary", "groupType", dist, "displayName", "primary", "proxyAddresses", x500+"3",
		"proxyAddresses", "smtp:primary@contoso.test")
	s.run("contoso", engine.DeltaImport)
	s.run("contoso", engine.DeltaSync)
	s.e.Connectors["cloud"].DeleteThreshold = 0
	if _, err := s.e.Run(s.ctx, "cloud", engine.Export, engine.RunOptions{}); !errors.Is(err, engine.ErrDeleteThreshold) {
		t.Fatalf("export: err = %v, want the delete threshold to count the group's delete", err)
	}
	if _, err := s.e.Run(s.ctx, "cloud", engine.Export, engine.RunOptions{AllowDeletes: true}); err != nil {
		t.Fatal(err)
	}
	if c := s.cloud(); len(c) != 2 || c["primary"] != nil {
		t.Fatalf("after primary left scope the cloud holds\n%s", s.content())
	}
}
